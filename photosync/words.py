"""Counted nouns for what photosync prints and commits: '1 photo', '2 photos', '1 copy', '3 copies'."""

from __future__ import annotations


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for one (thousands separated: '12,000 photos')."""
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"
