"""Keyword matching: every term of every loaded rule in ONE Aho-Corasick automaton.

The cost per message depends on its length and its hits, not on how many rules are loaded.
The automaton runs over the folded text; the offset map back to the original text is built
only when something matched. Terms that tolerate obfuscation are looked up again, in the same
automaton, over a de-obfuscated copy — only when the text has digits, symbols or spelled-out
letters. Accent-strict terms are confirmed against the original characters of the hit.
"""

from __future__ import annotations

from dataclasses import dataclass

import ahocorasick

from detectors.normalize import Normalized, deobfuscate, fold, fold_accents_only, might_be_obfuscated, normalize


@dataclass(frozen=True)
class TermSpec:
    id: int
    text: str  # as written in the pack
    folded: str  # what the automaton holds
    strict: str | None  # accent-preserving form, when accents must match exactly
    whole_word: bool
    obfuscated: bool


@dataclass(frozen=True)
class TermHit:
    term_id: int
    term: str  # the folded term
    start: int  # offsets in the ORIGINAL text
    end: int
    word: int  # index of the first word of the hit (for `near`)
    obfuscated: bool = False  # found only after de-obfuscation


class KeywordIndex:
    """Immutable after construction; safe to share between coroutines."""

    def __init__(self, specs: list[TermSpec]):
        self.specs = specs
        by_folded: dict[str, list[TermSpec]] = {}
        for spec in specs:
            by_folded.setdefault(spec.folded, []).append(spec)
        self._automaton = ahocorasick.Automaton()
        for folded, group in by_folded.items():
            self._automaton.add_word(folded, tuple(group))
        self._empty = not by_folded
        if not self._empty:
            self._automaton.make_automaton()
        self._has_obfuscated = any(s.obfuscated for s in specs)

    def find(self, text: str) -> list[TermHit]:
        if self._empty or not text:
            return []
        folded = fold(text)
        raw = list(self._automaton.iter(folded))
        deob = None
        if self._has_obfuscated and might_be_obfuscated(folded):
            deob = deobfuscate(folded)
            deob_raw = [(end, specs) for end, specs in self._automaton.iter(deob.text)
                        if any(s.obfuscated for s in specs)]
        else:
            deob_raw = []
        if not raw and not deob_raw:
            return []
        source = normalize(text)
        if source.text != folded:  # exotic input where the fast path differs: use the exact one
            return _find_exact(self, text, source)
        hits = _plain_hits(raw, source, text)
        if deob_raw and deob is not None:
            seen = {(h.term_id, h.start) for h in hits}
            for h in _deobfuscated_hits(deob_raw, deob, source):
                if (h.term_id, h.start) not in seen:
                    hits.append(h)
        return hits


def _plain_hits(raw: list[tuple[int, tuple[TermSpec, ...]]], source: Normalized, original: str) -> list[TermHit]:
    s = source.text
    hits = []
    for end_idx, specs in raw:
        start = end_idx - len(specs[0].folded) + 1
        bounded = not _is_word_char(s, start - 1) and not _is_word_char(s, end_idx + 1)
        o_start, o_end = source.span(start, end_idx + 1)
        for spec in specs:
            if spec.whole_word and not bounded:
                continue
            if spec.strict is not None and fold_accents_only(original[o_start:o_end]) != spec.strict:
                continue
            hits.append(TermHit(spec.id, spec.folded, o_start, o_end, s.count(" ", 0, start)))
    return hits


def _deobfuscated_hits(raw: list[tuple[int, tuple[TermSpec, ...]]], deob: Normalized,
                       source: Normalized) -> list[TermHit]:
    d = deob.text
    hits = []
    for end_idx, specs in raw:
        start = end_idx - len(specs[0].folded) + 1
        bounded = not _is_word_char(d, start - 1) and not _is_word_char(d, end_idx + 1)
        f_start, f_end = deob.span(start, end_idx + 1)  # positions in the folded text
        o_start, o_end = source.span(f_start, f_end)
        for spec in specs:
            if spec.obfuscated and (bounded or not spec.whole_word):
                hits.append(TermHit(spec.id, spec.folded, o_start, o_end, source.text.count(" ", 0, f_start), True))
    return hits


def _find_exact(index: KeywordIndex, text: str, source: Normalized) -> list[TermHit]:
    raw = list(index._automaton.iter(source.text))
    return _plain_hits(raw, source, text)


def _is_word_char(s: str, i: int) -> bool:
    return 0 <= i < len(s) and (s[i].isalnum() or s[i] == "_")
