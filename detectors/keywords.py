"""Keyword matching: every term of every loaded rule in ONE Aho-Corasick automaton.

The cost per message depends on its length and its hits, not on how many rules are loaded.
The automaton runs over the folded text and rule conditions work on folded positions; the map
back to the original text is built only when something needs original offsets (evidence of a
rule that fired, `explain`, an accent-strict term). Terms that tolerate obfuscation are looked
up again, in the same automaton, over a de-obfuscated copy — only when the text has digits,
symbols or spelled-out letters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ahocorasick

from chatwatch.detectors.normalize import (
    Normalized,
    deobfuscate,
    fold,
    fold_accents_only,
    might_be_obfuscated,
    normalize,
)


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
    fstart: int  # offsets in the FOLDED text (see Matches.span for the original)
    fend: int
    word: int  # index of the first word of the hit (for `near`)
    obfuscated: bool = False  # found only after de-obfuscation


@dataclass
class Matches:
    """The hits in one text, with original offsets computed on first request."""

    text: str
    folded: str
    hits: list[TermHit]
    _source: Normalized | None = field(default=None, repr=False)

    def span(self, hit: TermHit) -> tuple[int, int]:
        """Offsets of a hit in the original text."""
        source = self._source_map()
        if source.text == self.folded:
            return source.span(hit.fstart, hit.fend)
        # Exotic input where the fast fold differs from the exact one: find the same occurrence there.
        nth = sum(1 for h in self.hits if h.term == hit.term and h.fstart < hit.fstart)
        pos = -1
        for _ in range(nth + 1):
            pos = source.text.find(hit.term, pos + 1)
            if pos < 0:
                return 0, len(self.text)
        return source.span(pos, pos + len(hit.term))

    def _source_map(self) -> Normalized:
        if self._source is None:
            self._source = normalize(self.text)
        return self._source

    def __iter__(self):
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)


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

    def find(self, text: str) -> Matches:
        if self._empty or not text:
            return Matches(text, "", [])
        folded = fold(text)
        matches = Matches(text, folded, [])
        for end_idx, specs in self._automaton.iter(folded):
            start = end_idx - len(specs[0].folded) + 1
            bounded = _bounded(folded, start, end_idx)
            word = -1
            for spec in specs:
                if spec.whole_word and not bounded:
                    continue
                if spec.strict is not None and not _strict_ok(matches, spec, start, end_idx + 1):
                    continue
                if word < 0:
                    word = folded.count(" ", 0, start)
                matches.hits.append(TermHit(spec.id, spec.folded, start, end_idx + 1, word))
        if self._has_obfuscated and might_be_obfuscated(folded):
            _add_deobfuscated(self._automaton, matches)
        return matches


def _add_deobfuscated(automaton: ahocorasick.Automaton, matches: Matches) -> None:
    deob = deobfuscate(matches.folded)
    seen = {(h.term_id, h.fstart) for h in matches.hits}
    for end_idx, specs in automaton.iter(deob.text):
        start = end_idx - len(specs[0].folded) + 1
        bounded = _bounded(deob.text, start, end_idx)
        f_start, f_end = deob.span(start, end_idx + 1)  # positions in the folded text
        for spec in specs:
            if spec.obfuscated and (bounded or not spec.whole_word) and (spec.id, f_start) not in seen:
                matches.hits.append(TermHit(spec.id, spec.folded, f_start, f_end,
                                            matches.folded.count(" ", 0, f_start), True))


def _strict_ok(matches: Matches, spec: TermSpec, fstart: int, fend: int) -> bool:
    probe = TermHit(spec.id, spec.folded, fstart, fend, 0)
    o_start, o_end = matches.span(probe)
    return fold_accents_only(matches.text[o_start:o_end]) == spec.strict


def _bounded(s: str, start: int, end_idx: int) -> bool:
    """No letter, digit or '_' right before or after: a whole-word hit."""
    before = s[start - 1] if start > 0 else " "
    after = s[end_idx + 1] if end_idx + 1 < len(s) else " "
    return not (before.isalnum() or before == "_" or after.isalnum() or after == "_")
