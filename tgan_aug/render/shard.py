"""Deterministic splitting of work across processes: ``--shard K/N``.

Shards are 0-based like process ranks (``K`` in ``0..N-1``): a SLURM array ``--array=0-3`` or
torchrun ranks map to them directly. Item ``i`` of the sorted list goes to shard ``i % N``, so
the union of all shards is the whole list, shards never overlap, and the split does not depend
on the machine, the order of discovery or the number of workers inside a shard.

Each sequence's random draws come from :func:`sequence_seed` (run seed + name), so the result
does not depend on which shard rendered it.
"""

from __future__ import annotations

import zlib
from typing import Sequence, TypeVar

import numpy as np

from tgan_aug.errors import UserError

T = TypeVar("T")


def parse_shard(text: str | None) -> tuple[int, int]:
    """'K/N' -> (K, N) with 0 <= K < N; None or '' -> (0, 1) (everything)."""
    if not text:
        return (0, 1)
    try:
        k_text, n_text = text.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise UserError(f"--shard {text!r} must look like K/N, e.g. 0/4 (shard 0 of 4; K counts from 0)") from None
    if n < 1 or not 0 <= k < n:
        raise UserError(f"--shard {text}: need N >= 1 and 0 <= K < N (K counts from 0), e.g. 0/{max(n, 1)}")
    return (k, n)


def shard_items(items: Sequence[T], shard: tuple[int, int]) -> list[T]:
    """The items that belong to ``shard`` = (K, N): every N-th item of the sorted list, from K."""
    k, n = shard
    return [item for i, item in enumerate(sorted(items)) if i % n == k]  # type: ignore[type-var]


def sequence_seed(seed: int, name: str) -> int:
    """The per-sequence seed: a function of the run seed and the sequence name only."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())]).generate_state(1)[0])
