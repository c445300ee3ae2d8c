"""A failed command removes the outputs it created (never what existed before) and names the path
when the disk is full; adding sequences to an existing store needs --append."""

from __future__ import annotations

import errno

import pytest

from tgan_aug.cli import main
from tgan_aug.errors import UserError
from tgan_aug.io.outputs import removed_on_failure


def test_failure_removes_only_what_the_block_created(tmp_path):
    keep = tmp_path / "existing"
    keep.mkdir()
    (keep / "user.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="boom"):
        with removed_on_failure(tmp_path / "new" / "deep" / "out.zarr", keep, keep / "sub", None):
            (tmp_path / "new" / "deep" / "out.zarr").mkdir(parents=True)
            (keep / "sub").mkdir()
            (keep / "user.txt").write_text("changed")
            raise RuntimeError("boom")
    assert not (tmp_path / "new").exists()  # the parent folders it made go too
    assert not (keep / "sub").exists()
    assert (keep / "user.txt").read_text() == "changed"  # the existing folder stays, with its file


def test_success_keeps_outputs(tmp_path):
    with removed_on_failure(tmp_path / "out"):
        (tmp_path / "out").mkdir()
    assert (tmp_path / "out").is_dir()


def test_disk_full_without_a_path_is_named(tmp_path):
    with pytest.raises(OSError) as exc:
        with removed_on_failure(tmp_path / "out.zarr"):
            (tmp_path / "out.zarr").mkdir()
            raise OSError(errno.ENOSPC, "No space left on device")
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(tmp_path / "out.zarr")
    assert not (tmp_path / "out.zarr").exists()


def test_synth_masks_on_a_full_disk_names_the_store_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """zarr's own write fails with ENOSPC (no file name) after the store was created."""
    import zarr.storage

    orig, calls = zarr.storage.LocalStore.set, {"n": 0}

    async def full_disk(self, key, value):
        calls["n"] += 1
        if calls["n"] > 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return await orig(self, key, value)

    monkeypatch.setattr(zarr.storage.LocalStore, "set", full_disk)
    out = tmp_path / "runs" / "x.zarr"
    with pytest.raises(SystemExit) as exc:
        main(["synth-masks", "--frames", "4", "--size", "64x64", "--quiet", "-o", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and calls["n"] > 4
    assert f"no space left on the device while writing {out}" in err
    assert not (tmp_path / "runs").exists()


def _synth(out, *extra):
    main(["synth-masks", "--frames", "2", "--size", "48x48", "--cells", "3", "--quiet", "-o", str(out), *extra])


def test_adding_to_an_existing_store_needs_append(tmp_path, capsys):
    from tgan_aug.io import list_store_sequences, write_ctc

    store, ctc = tmp_path / "s.zarr", tmp_path / "ctc"
    with pytest.raises(SystemExit):
        _synth(store)
    from tgan_aug.io import read_store

    write_ctc(ctc, read_store(store, "seq000"), sequence="07")
    capsys.readouterr()
    for args in (["import-ctc", str(ctc), str(store)], ["augment-masks", str(ctc), "-o", str(store), "--quiet"],
                 ["synth-masks", "--size", "48x48", "--cells", "3", "--quiet", "-o", str(store), "--seed", "1"]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        err = capsys.readouterr().err
        assert exc.value.code == 2, args
        assert f"{store} holds sequences seq000; pass --append to add sequences to it" in err, (args, err)
    assert list_store_sequences(store) == ["seq000"]  # nothing was added
    with pytest.raises(SystemExit) as exc:
        main(["import-ctc", str(ctc), str(store), "--append", "--quiet"])
    assert exc.value.code == 0
    with pytest.raises(SystemExit) as exc:
        main(["augment-masks", str(ctc), "-o", str(store), "--append", "--quiet"])
    assert exc.value.code == 0
    assert list_store_sequences(store)[:2] == ["07", "07_p00_a00"] and "seq000" in list_store_sequences(store)
    with pytest.raises(SystemExit) as exc:  # --append never replaces: a clash still needs --overwrite
        main(["import-ctc", str(ctc), str(store), "--append", "--quiet"])
    assert exc.value.code == 2 and "sequence '07' already exists; pass --overwrite" in capsys.readouterr().err


def test_check_store_target_accepts_new_and_empty_paths(tmp_path):
    from tgan_aug.io.store import check_store_target

    check_store_target(tmp_path / "new.zarr")
    (tmp_path / "empty").mkdir()
    check_store_target(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "f.txt").write_text("x")
    with pytest.raises(UserError, match="other exists and is not empty; pass --append"):
        check_store_target(tmp_path / "other", flag="-o/--output")


def test_writes_still_running_when_one_fails_do_not_bring_the_output_back(tmp_path, monkeypatch):
    """zarr writes chunks concurrently: when one hits a full disk the others are still running;
    the cleanup waits for them, so they cannot re-create the removed store (nor be left pending)."""
    import asyncio
    import time

    import numpy as np
    import zarr.storage

    from tgan_aug.io.store import StoreWriter

    orig, calls = zarr.storage.LocalStore.set, {"n": 0}

    async def slow_or_full(self, key, value):  # chunk 0 fails at once, chunks 1-7 finish later
        if key.endswith("s/0/c/0/0/0"):
            raise OSError(errno.ENOSPC, "No space left on device")
        if "s/0/c/" in key:  # chunks of the image array (OME level 0 of sequence s)
            await asyncio.sleep(0.3)
            calls["n"] += 1
        return await orig(self, key, value)

    monkeypatch.setattr(zarr.storage.LocalStore, "set", slow_or_full)
    out = tmp_path / "x.zarr"
    with pytest.raises(OSError, match="No space left"):
        with removed_on_failure(out):
            with StoreWriter(out, "s", shape=(8, 32, 32), image_dtype=np.uint8, intensity_range=(0, 255)) as w:
                w.write_frames(0, np.zeros((8, 32, 32), np.uint16), np.ones((8, 32, 32), np.uint8))
    time.sleep(0.6)
    assert calls["n"] == 7 and not out.exists()


def test_no_pending_task_warnings_when_a_write_fails(tmp_path):
    """In a fresh process that exits right after the failure, asyncio must not report zarr's
    unfinished chunk writes ("Task was destroyed but it is pending!")."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent('''
        import asyncio, errno, sys
        import numpy as np
        import zarr.storage
        from tgan_aug.io.outputs import removed_on_failure
        from tgan_aug.io.store import StoreWriter

        orig = zarr.storage.LocalStore.set

        async def slow_or_full(self, key, value):
            if key.endswith("s/0/c/0/0/0"):
                raise OSError(errno.ENOSPC, "No space left on device")
            if "s/0/c/" in key:
                await asyncio.sleep(0.5)
            return await orig(self, key, value)

        zarr.storage.LocalStore.set = slow_or_full
        try:
            with removed_on_failure(sys.argv[1]):
                with StoreWriter(sys.argv[1], "s", shape=(8, 32, 32), image_dtype=np.uint8, intensity_range=(0, 255)) as w:
                    w.write_frames(0, np.zeros((8, 32, 32), np.uint16), np.ones((8, 32, 32), np.uint8))
        except OSError as exc:
            print("failed:", exc)
    ''')
    out = tmp_path / "x.zarr"
    proc = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, timeout=120)
    assert f"failed: [Errno 28] No space left on device: '{out}'" in proc.stdout, proc.stderr
    assert "Task was destroyed" not in proc.stderr
    assert not out.exists()
