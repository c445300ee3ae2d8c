"""Rebuilding btrack's tracker library: Eigen from pip, a progress bar, errors with the install line."""

from __future__ import annotations

import ctypes

import pytest

from tgan_aug.errors import MissingDependencyError
from tgan_aug.trackers import _btrack_lib


def _fake_package(root):
    """A btrack-like source tree: include/ + src/*.cc, small enough to compile in a second."""
    (root / "include").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "include" / "two.h").write_text("int two();\n")
    (root / "src" / "two.cc").write_text('#include "two.h"\nint two() { return 2; }\n')
    (root / "src" / "api.cc").write_text('#include "two.h"\nextern "C" int four() { return two() * 2; }\n')
    return root


@pytest.fixture
def fake_eigen(tmp_path, monkeypatch):
    eigen = tmp_path / "eigen3"
    (eigen / "Eigen").mkdir(parents=True)
    (eigen / "Eigen" / "Dense").write_text("")
    monkeypatch.setattr(_btrack_lib, "_eigen_dir", lambda: eigen)
    return eigen


def test_rebuild_shows_progress_and_gives_a_loadable_library(tmp_path, fake_eigen, capsys):
    if _btrack_lib._compiler() is None:
        pytest.skip("no C++ compiler on PATH (g++, c++, clang++ or $CXX)")
    out = tmp_path / "cache" / "libtracker"
    _btrack_lib._compile(_fake_package(tmp_path / "pkg"), out)
    err = capsys.readouterr().err
    assert "building it from btrack's sources (once, cached in" in err
    assert "building btrack library" in err and "3/3" in err  # 2 sources + the link step
    assert ctypes.cdll.LoadLibrary(str(out.with_suffix(".so"))).four() == 4
    assert sorted(p.name for p in out.parent.iterdir()) == ["libtracker.so"]  # no temporary left


def test_missing_eigen_names_what_is_missing_and_the_install_line(tmp_path, monkeypatch):
    monkeypatch.setattr(_btrack_lib, "_eigen_dir", lambda: None)
    monkeypatch.setattr(_btrack_lib, "_compiler", lambda: "/usr/bin/g++")
    with pytest.raises(MissingDependencyError, match=r"needs the Eigen 3 headers: pip install -c constraints.txt -e '\.\[trackers\]'"):
        _btrack_lib._compile(_fake_package(tmp_path / "pkg"), tmp_path / "cache" / "libtracker")
    assert not (tmp_path / "cache").exists()


def test_eigen_headers_come_from_pip():
    """The trackers extra installs cmeel-eigen, so the rebuild needs no system Eigen package."""
    eigen = _btrack_lib._pip_eigen()
    assert eigen is not None, "cmeel-eigen is not installed: pip install -c constraints.txt -e '.[trackers]'"
    assert (eigen / "Eigen" / "Dense").is_file()


def test_eigen_dir_env_wins(tmp_path, monkeypatch):
    (tmp_path / "Eigen").mkdir()
    (tmp_path / "Eigen" / "Dense").write_text("")
    monkeypatch.setenv("EIGEN_INCLUDE_DIR", str(tmp_path))
    assert _btrack_lib._eigen_dir() == tmp_path


def test_track_btrack_without_eigen_says_what_to_install(tmp_path, monkeypatch, capsys):
    """`track --tracker btrack` on a system where the packaged library does not load and nothing
    can rebuild it: one line with the reason and the install line, exit 2."""
    pytest.importorskip("btrack", reason="needs the trackers extra: pip install -c constraints.txt -e '.[trackers]'")
    from tgan_aug.cli import main
    from tgan_aug.io import write_ctc

    from .conftest import make_blobs

    write_ctc(tmp_path / "ds", make_blobs(n_cells=3, frames=4, height=48, width=48, seed=0), sequence="01")
    monkeypatch.setenv("TGAN_AUG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_btrack_lib, "_checked", False)
    monkeypatch.setattr(_btrack_lib, "_loads", lambda base: False)
    monkeypatch.setattr(_btrack_lib, "_eigen_dir", lambda: None)
    with pytest.raises(SystemExit) as exc:
        main(["track", "--tracker", "btrack", str(tmp_path / "ds"), "-o", str(tmp_path / "RES")])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.startswith("error: btrack's packaged libtracker.so does not load on this system")
    assert "needs the Eigen 3 headers: pip install -c constraints.txt -e '.[trackers]'" in err
    assert not (tmp_path / "RES").exists()
