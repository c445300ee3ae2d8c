"""Small helpers for the words tgan-aug prints."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word`` in the right number: ``plural(1, "sequence")`` -> '1 sequence',
    ``plural(2, "sequence")`` -> '2 sequences'; ``many`` spells an irregular plural."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
