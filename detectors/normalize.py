"""Text normalization for matching, with a map back to the original offsets.

Casefold, compatibility forms (NFKC: full-width letters, ligatures), accent folding (é -> e,
ç -> c) and whitespace collapse. Matching runs on the normalized text, but people and alerts
need positions in what was actually written, so every normalized character remembers the
index of the original character it came from.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Normalized:
    text: str
    origin: tuple[int, ...]  # origin[i] = index in the original text of normalized char i

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of normalized [start, end)."""
        return self.origin[start], self.origin[end - 1] + 1


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    decomposed = unicodedata.normalize("NFKD", ch)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", kept).casefold()


def normalize(text: str) -> Normalized:
    out: list[str] = []
    origin: list[int] = []
    pending_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            pending_space = bool(out)
            continue
        folded = _fold_char(ch)
        if not folded:
            continue
        if pending_space:
            out.append(" ")
            origin.append(i - 1)
            pending_space = False
        out.extend(folded)
        origin.extend([i] * len(folded))
    return Normalized("".join(out), tuple(origin))


def normalize_term(term: str) -> str:
    return normalize(term).text
