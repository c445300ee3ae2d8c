"""tgan-aug: synthetic tracked time-lapse microscopy for training cell trackers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tgan-aug")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.2.0"

__all__ = ["__version__"]
