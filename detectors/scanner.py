"""Runs the detectors of a RuleSet over one message and says which rules fired, with evidence."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.keywords import KeywordIndex, TermHit
from detectors.normalize import normalize_term
from rules import Pack, Rule, RuleSet
from rules.model import Scope

Group = frozenset[str]  # normalized terms one condition item stands for


@dataclass(frozen=True)
class RuleHit:
    pack: Pack
    rule: Rule
    evidence: tuple[TermHit, ...]


@dataclass(frozen=True)
class _CompiledRule:
    pack: Pack
    rule: Rule
    any: tuple[Group, ...]
    all: tuple[Group, ...]
    none: tuple[Group, ...]
    wanted: Group  # terms whose hits are evidence for this rule

    @classmethod
    def build(cls, pack: Pack, rule: Rule) -> "_CompiledRule":
        def groups(items: list[str]) -> tuple[Group, ...]:
            return tuple(frozenset(normalize_term(t) for t in pack.terms_of(i)) for i in items)

        any_, all_ = groups(rule.match.any), groups(rule.match.all)
        return cls(pack, rule, any_, all_, groups(rule.match.none), frozenset().union(*any_, *all_))

    def holds(self, found: set[str], direction: str) -> bool:
        if self.rule.direction is not Scope.both and self.rule.direction.value != direction:
            return False
        return (
            (not self.any or any(g & found for g in self.any))
            and all(g & found for g in self.all)
            and not any(g & found for g in self.none)
        )


class Scanner:
    """Immutable once built; the worker builds a new one when rules change and swaps it in."""

    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        self._rules = tuple(_CompiledRule.build(p, r) for p, r in ruleset.rules())
        terms = {t for pack, rule in ruleset.rules() for item in rule.match.items() for t in pack.terms_of(item)}
        self._index = KeywordIndex(terms)

    def scan(self, text: str | None, direction: str) -> list[RuleHit]:
        hits = self._index.find(text or "")
        if not hits:
            return []
        found = {h.term for h in hits}
        return [
            RuleHit(r.pack, r.rule, tuple(h for h in hits if h.term in r.wanted))
            for r in self._rules
            if r.holds(found, direction)
        ]
