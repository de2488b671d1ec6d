"""Text normalization for matching, with a map back to the original offsets.

Casefold, compatibility forms (NFKC: full-width letters, ligatures), accent folding (é -> e,
ç -> c) and whitespace collapse. Matching runs on the normalized text, but people and alerts
need positions in what was actually written.

Two paths give the same text: `fold` (whole-string C-level operations, used for every message)
and `normalize` (per character, remembering where each character came from), which only runs
for messages that have a hit. `deobfuscate` undoes leetspeak and letter-by-letter spelling
(p4ssw0rd, s.e.n.h.a) for terms that ask for it.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_COMBINING = {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp))}


@dataclass(frozen=True)
class Normalized:
    text: str
    origin: tuple[int, ...]  # origin[i] = index in the source text of normalized char i

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Source [start, end) of normalized [start, end)."""
        return self.origin[start], self.origin[end - 1] + 1


def fold(text: str) -> str:
    """The normalized text, fast. Equal to `normalize(text).text` (checked by tests and at run time)."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text).translate(_COMBINING)
    return " ".join(unicodedata.normalize("NFKC", decomposed).casefold().split())


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    kept = unicodedata.normalize("NFKD", ch).translate(_COMBINING)
    return unicodedata.normalize("NFKC", kept).casefold()


_TOKEN = re.compile(r"\S+")


def normalize(text: str) -> Normalized:
    """Token by token: ASCII tokens fold in one C call; only the others go character by character."""
    out: list[str] = []
    origin: list[int] = []
    for m in _TOKEN.finditer(text):
        token, base = m.group(), m.start()
        if token.isascii():
            if out:
                out.append(" ")
                origin.append(base - 1)
            out.append(token.lower())
            origin.extend(range(base, base + len(token)))
            continue
        pending_space = bool(out)
        for offset, ch in enumerate(token):
            for piece in _fold_char(ch):
                if piece.isspace():  # a few compatibility forms decompose to spaces
                    pending_space = bool(out)
                    continue
                if pending_space:
                    out.append(" ")
                    origin.append(base + offset - 1 if offset else base - 1)
                    pending_space = False
                out.append(piece)
                origin.append(base + offset)
    return Normalized("".join(out), tuple(origin))  # one origin per character, ASCII tokens included


def fold_accents_only(text: str) -> str:
    """Casefold + NFKC + whitespace, keeping accents: how accent-strict terms compare."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# --- obfuscation -----------------------------------------------------------------------------

_LEET = str.maketrans({"4": "a", "@": "a", "3": "e", "1": "i", "!": "i", "0": "o", "5": "s", "$": "s", "7": "t",
                       "|": "l"})
# A leet character next to a letter ("s3nha", "p@ss", "z4p"; not a bare number, not "hola!") or spelled-out
# letters: without one, the deobfuscated text is the folded text and a second automaton pass finds nothing new.
_OBFUSCATION_HINT = re.compile(r"[^\W\d_][4@3015$7]|[4@3!015$7|][^\W\d_]|\b\w[ .\-_*·]\w[ .\-_*·]\w")
# three or more single letters joined by one and the same separator: s.e.n.h.a, c o n t r a
_SPELLED = re.compile(r"(?<!\w)\w([ .\-_*·])\w(?:\1\w)+(?!\w)")


def might_be_obfuscated(folded: str) -> bool:
    return _OBFUSCATION_HINT.search(folded) is not None


def deobfuscate(folded: str) -> Normalized:
    """Leet digits/symbols -> letters (same length), spelled-out letters joined.

    The result's `origin` maps back to positions in `folded`.
    """
    text = folded.translate(_LEET)
    if not _SPELLED.search(text):
        return Normalized(text, tuple(range(len(text))))
    out: list[str] = []
    origin: list[int] = []
    pos = 0
    for m in _SPELLED.finditer(text):
        out.extend(text[pos:m.start()])
        origin.extend(range(pos, m.start()))
        for i in range(m.start(), m.end(), 2):
            out.append(text[i])
            origin.append(i)
        pos = m.end()
    out.extend(text[pos:])
    origin.extend(range(pos, len(text)))
    return Normalized("".join(out), tuple(origin))
