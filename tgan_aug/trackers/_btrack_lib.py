"""Make btrack's compiled tracker library loadable.

btrack's wheel ships ``libtracker.so`` built against a newer C++ runtime (GLIBCXX_3.4.32,
GCC 13) than some systems have (Debian 12: GCC 12). btrack also ships the C++ sources, so
when the packaged library does not load, this module compiles the same sources once with the
system ``g++`` and the Eigen headers into a cache folder and points btrack at it.

Cache: ``$TGAN_AUG_CACHE/btrack-<version>/`` (default ``~/.cache/tgan-aug``). Needs ``g++`` and
Eigen 3 headers (``apt-get install libeigen3-dev``, or ``EIGEN_INCLUDE_DIR`` pointing at the
folder holding ``Eigen/``). Compiling takes about a minute, once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tgan_aug.errors import MissingDependencyError

_checked = False


def _cache_dir(version: str) -> Path:
    root = Path(os.environ.get("TGAN_AUG_CACHE", Path.home() / ".cache" / "tgan-aug"))
    return root / f"btrack-{version}"


def _eigen_dir() -> Path | None:
    cands = [os.environ.get("EIGEN_INCLUDE_DIR"), "/usr/include/eigen3", "/usr/local/include/eigen3"]
    for c in cands:
        if c and (Path(c) / "Eigen" / "Dense").is_file():
            return Path(c)
    return None


def _loads(lib_base: Path) -> bool:
    import ctypes

    try:
        ctypes.cdll.LoadLibrary(str(lib_base.with_suffix(".so")))
        return True
    except OSError:
        return False


def _compile(pkg: Path, out_base: Path) -> None:
    eigen = _eigen_dir()
    gxx = shutil.which("g++")
    if eigen is None or gxx is None:
        raise MissingDependencyError(
            "btrack's packaged libtracker.so does not load on this system (its C++ runtime is too old) and it "
            "cannot be rebuilt here: install g++ and the Eigen 3 headers (apt-get install g++ libeigen3-dev, "
            "or set EIGEN_INCLUDE_DIR), or use a system with GCC >= 13's libstdc++"
        )
    out_base.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_base.parent) as tmp:
        inc = Path(tmp) / "inc" / "eigen"
        inc.mkdir(parents=True)
        (inc / "Eigen").symlink_to(eigen / "Eigen")
        target = Path(tmp) / "libtracker.so"
        cmd = [gxx, "-std=c++17", "-O2", "-fPIC", "-shared", f"-I{pkg / 'include'}", f"-I{Path(tmp) / 'inc'}"]
        cmd += [str(p) for p in sorted((pkg / "src").glob("*.cc"))] + ["-o", str(target)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise MissingDependencyError(f"compiling btrack's tracker library failed: {proc.stderr.strip()[-500:]}")
        os.replace(target, out_base.with_suffix(".so"))  # atomic: a half-written library is never seen


def ensure_btrack_library():
    """Import btrack with a loadable tracker library (rebuilt into the cache if needed); returns btrack."""
    global _checked
    import btrack
    import btrack.libwrapper as lw

    if _checked:
        return btrack
    if not _loads(Path(lw.BTRACK_LIB_PATH)):
        base = _cache_dir(btrack.__version__) / "libtracker"
        if not _loads(base):
            _compile(Path(btrack.__file__).parent, base)
        lw.BTRACK_LIB_PATH = base
    _checked = True
    return btrack
