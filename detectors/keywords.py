"""Keyword matching: every term of every loaded rule in ONE Aho-Corasick automaton.

The cost per message depends on the text length and the hits, not on how many rules are
loaded. Terms match whole words only (a term never fires inside a longer word).
"""

from __future__ import annotations

from dataclasses import dataclass

import ahocorasick

from detectors.normalize import normalize, normalize_term


@dataclass(frozen=True)
class TermHit:
    term: str  # the normalized term that matched
    start: int  # offsets in the ORIGINAL text
    end: int


class KeywordIndex:
    """Built once per rule set; `find` is safe to call from one thread at a time per index."""

    def __init__(self, terms: set[str]):
        self._automaton = ahocorasick.Automaton()
        for term in terms:
            norm = normalize_term(term)
            if norm:
                self._automaton.add_word(norm, norm)
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()

    def find(self, text: str) -> list[TermHit]:
        if self._empty or not text:
            return []
        norm = normalize(text)
        s = norm.text
        hits = []
        for end_idx, term in self._automaton.iter(s):
            start = end_idx - len(term) + 1
            if _is_word_char(s, start - 1) or _is_word_char(s, end_idx + 1):
                continue
            o_start, o_end = norm.span(start, end_idx + 1)
            hits.append(TermHit(term, o_start, o_end))
        return hits


def _is_word_char(s: str, i: int) -> bool:
    return 0 <= i < len(s) and (s[i].isalnum() or s[i] == "_")
