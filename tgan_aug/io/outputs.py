"""Outputs of a command that fails: remove what it created, never what existed before.

A failed or interrupted command (bad option found late, full disk, Ctrl-C) must not leave a
partial store or an empty folder that makes the rerun refuse "not empty". :func:`removed_on_failure`
records which output paths (and which of their parent folders) do not exist yet, and removes
exactly those when the block raises, after the store writes still in flight have ended. A full disk (``ENOSPC``) reported without a path is re-raised
naming the output being written.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["removed_on_failure"]

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _first_missing(path: Path) -> Path | None:
    """The outermost folder (or ``path`` itself) that writing ``path`` would create; None if it exists."""
    if path.exists() or path.is_symlink():
        return None
    while not path.parent.exists() and path.parent != path:
        path = path.parent
    return path


def _settle_zarr_writes(timeout: float = 60.0) -> None:
    """Wait until the chunk writes still running on zarr's I/O loop have finished.

    zarr writes a frame's chunks concurrently; when one fails (a full disk) the others keep
    running. Removing the store before they end lets them re-create it, and exiting lets asyncio
    report them as "Task was destroyed but it is pending!".
    """
    sync = sys.modules.get("zarr.core.sync")
    loop = getattr(sync, "loop", [None])[0] if sync is not None else None
    if loop is None or loop.is_closed() or not loop.is_running():
        return

    async def drain() -> None:
        me = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    try:
        asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout + 5)
    except Exception:  # noqa: BLE001 - best effort: cleanup goes on
        pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


@contextmanager
def removed_on_failure(*paths: str | os.PathLike | None) -> Iterator[None]:
    """Run a block that writes ``paths`` (None entries are ignored); if it raises, remove the paths
    (and parent folders) it created, keep everything that existed before, and re-raise.

    A disk-full ``OSError`` without a file name is re-raised with the first output path as its name.
    """
    outputs = [Path(p) for p in paths if p is not None]
    created = list(dict.fromkeys(c for c in map(_first_missing, outputs) if c is not None))
    try:
        yield
    except BaseException as exc:
        if outputs:
            _settle_zarr_writes()
        for path in created:
            _remove(path)
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL and not exc.filename and outputs:
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(outputs[0])) from exc
        raise
