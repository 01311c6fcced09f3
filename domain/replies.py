"""Two-way replies (F19): the words that opt a number out."""

from __future__ import annotations

STOP_WORDS = frozenset({"STOP", "UNSUBSCRIBE", "END", "QUIT", "CANCEL"})


def opts_out(text: str) -> bool:
    """A reply whose first word is a stop word opts the number out (any case)."""
    words = text.strip().split()
    return bool(words) and words[0].strip(".!,;:").upper() in STOP_WORDS
