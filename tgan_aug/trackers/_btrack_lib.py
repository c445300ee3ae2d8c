"""Make btrack's compiled tracker library loadable.

btrack's wheel ships ``libtracker.so`` built against a newer C++ runtime (GLIBCXX_3.4.32,
GCC 13) than some systems have (Debian 12: GCC 12). btrack also ships the C++ sources, so
when the packaged library does not load, this module compiles the same sources once with the
system C++ compiler (``$CXX``, else ``g++``/``c++``) and the Eigen 3 headers into a cache folder
and points btrack at it, showing a progress bar while it compiles.

Eigen comes from pip (the ``cmeel-eigen`` package, part of the ``trackers`` extra), else from
``EIGEN_INCLUDE_DIR`` or the system (``/usr/include/eigen3``). Cache:
``$TGAN_AUG_CACHE/btrack-<version>/`` (default ``~/.cache/tgan-aug``). Compiling takes about a
minute on one core, once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tgan_aug.errors import MissingDependencyError

_checked = False

#: what a user runs when the rebuild is impossible (shown in errors and test skips)
INSTALL_HINT = (
    "pip install -c constraints.txt -e '.[trackers]' (brings the Eigen headers as cmeel-eigen) "
    "and a C++ compiler (apt-get install g++), or set EIGEN_INCLUDE_DIR / CXX"
)


def _cache_dir(version: str) -> Path:
    root = Path(os.environ.get("TGAN_AUG_CACHE", Path.home() / ".cache" / "tgan-aug"))
    return root / f"btrack-{version}"


def _pip_eigen() -> Path | None:
    """The Eigen headers installed by the ``cmeel-eigen`` wheel, if it is installed."""
    from importlib import metadata

    try:
        return Path(metadata.distribution("cmeel-eigen").locate_file("cmeel.prefix/include/eigen3"))
    except metadata.PackageNotFoundError:
        return None


def _eigen_dir() -> Path | None:
    cands = [os.environ.get("EIGEN_INCLUDE_DIR"), _pip_eigen(), "/usr/include/eigen3", "/usr/local/include/eigen3"]
    for c in cands:
        if c and (Path(c) / "Eigen" / "Dense").is_file():
            return Path(c)
    return None


def _compiler() -> str | None:
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _loads(lib_base: Path) -> bool:
    import ctypes

    try:
        ctypes.cdll.LoadLibrary(str(lib_base.with_suffix(".so")))
        return True
    except OSError:
        return False


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise MissingDependencyError(f"compiling btrack's tracker library failed ({Path(cmd[-1]).name}): {proc.stderr.strip()[-500:]}")


def _compile(pkg: Path, out_base: Path, *, progress: bool = True) -> None:
    """Compile ``pkg/src/*.cc`` (headers in ``pkg/include``) into ``out_base.so``, one object per
    source file in parallel, with a progress bar on stderr; the library appears atomically."""
    from tqdm.auto import tqdm

    eigen, cxx = _eigen_dir(), _compiler()
    if eigen is None or cxx is None:
        missing = " and ".join(m for m, ok in (("the Eigen 3 headers", eigen), ("a C++ compiler", cxx)) if ok is None)
        raise MissingDependencyError(
            "btrack's packaged libtracker.so does not load on this system (its C++ runtime is older than "
            f"GCC 13's) and rebuilding it needs {missing}: {INSTALL_HINT}"
        )
    sources = sorted((pkg / "src").glob("*.cc"))
    out_base.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_base.parent) as tmp:
        inc = Path(tmp) / "inc" / "eigen"  # btrack includes <eigen/Eigen/Dense>
        inc.mkdir(parents=True)
        (inc / "Eigen").symlink_to(eigen / "Eigen")
        flags = ["-std=c++17", "-O2", "-fPIC", f"-I{pkg / 'include'}", f"-I{Path(tmp) / 'inc'}"]
        objects = [Path(tmp) / f"{s.stem}.o" for s in sources]
        print(f"btrack: its packaged tracker library does not load here; building it from btrack's sources "
              f"(once, cached in {out_base.parent})", file=sys.stderr, flush=True)
        bar = tqdm(total=len(sources) + 1, desc="building btrack library", unit="file", disable=not progress, file=sys.stderr)
        with bar, ThreadPoolExecutor(max_workers=max(1, min(len(sources), os.cpu_count() or 1))) as pool:
            jobs = [pool.submit(_run, [cxx, *flags, "-c", str(s), "-o", str(o)]) for s, o in zip(sources, objects)]
            for job in as_completed(jobs):
                job.result()
                bar.update(1)
            target = Path(tmp) / "libtracker.so"
            _run([cxx, "-shared", *map(str, objects), "-o", str(target)])
            bar.update(1)
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
