"""The message conditions of a rule's `match:`, one small class each (after pySigma's modifiers).

A condition is compiled once per rule set from its YAML spec (`rules/model.py`, `Match.<key>`) and
then answers, per message: does it hold, and if not, why not (the reason `chatwatch rules explain`
prints); what it saw goes into the alert's evidence. The scanner knows none of them by name: it
compiles `CONDITIONS` in order, asks them which keyword groups a message must hit (its candidate
index) and what a message must carry (an attachment, a PII finding), and checks them one by one.

A new condition is a field of `Match` (the YAML key, its spec) and a class here, added to
`CONDITIONS`; `tests/detectors/test_conditions.py` fails while a `Match` field has no class.
"""

from __future__ import annotations

import itertools
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from chatwatch.detectors.attachments import AttachmentPredicate, compile_regex
from chatwatch.detectors.keywords import Matches, TermHit
from chatwatch.records import Evidence

Group = frozenset[int]  # the term ids one condition item stands for


@dataclass(frozen=True)
class Terms:
    """How a condition turns its items (terms, `$lists`) into term ids of the rule set's one automaton."""

    group: Callable[[str], Group]  # a term or $list -> its term ids
    values: Callable[[list[str]], frozenset[str]]  # terms or $lists -> their lower-cased texts (hash lists)


@dataclass(frozen=True)
class Look:
    """One message as the conditions see it: its subject and the keyword hits of the rule's terms."""

    subject: Any  # scanner.Subject
    matches: Matches
    hit_ids: set[int]  # every term hit, exception phrases included
    live: list[TermHit]  # hits of this rule's terms outside its exception phrases
    live_ids: set[int]
    covered: list[TermHit]  # hits of its exception phrases


class Condition:
    key: ClassVar[str]  # its key under `match:`
    needs: ClassVar[str | None] = None  # "attachment" / "pii": a message without one cannot satisfy it
    on_terms: ClassVar[bool] = False  # judged on keyword hits (the keyword evidence follows these)

    @classmethod
    def compile(cls, spec: Any, terms: Terms) -> Condition | None:
        """The compiled condition, or None when the rule does not use it."""
        raise NotImplementedError

    def positive(self) -> Group:
        """Term ids whose hits are evidence when the rule fires."""
        return frozenset()

    def required(self) -> tuple[Group, ...]:
        """Groups of which the message must hit one each, or the condition cannot hold."""
        return ()

    def may_hold(self, subject: Any) -> bool:
        """A cheap necessary test, before the full one."""
        return True

    def check(self, look: Look, evidence: list[Evidence]) -> str | None:
        """None when it holds (adding what it saw to `evidence`); else why not."""
        raise NotImplementedError


@dataclass(frozen=True)
class AnyOf(Condition):
    key: ClassVar[str] = "any"
    on_terms: ClassVar[bool] = True
    groups: tuple[Group, ...]

    @classmethod
    def compile(cls, spec: list[str], terms: Terms) -> AnyOf | None:
        return cls(tuple(terms.group(i) for i in spec)) if spec else None

    def positive(self) -> Group:
        return frozenset().union(*self.groups)

    def required(self) -> tuple[Group, ...]:
        return (self.positive(),)

    def check(self, look: Look, evidence: list[Evidence]) -> str | None:
        if any(g & look.live_ids for g in self.groups):
            return None
        return "any: none of the items occurs" + (" (hits fall inside exception phrases)" if look.covered else "")


@dataclass(frozen=True)
class AllOf(Condition):
    key: ClassVar[str] = "all"
    on_terms: ClassVar[bool] = True
    items: tuple[str, ...]
    groups: tuple[Group, ...]

    @classmethod
    def compile(cls, spec: list[str], terms: Terms) -> AllOf | None:
        return cls(tuple(spec), tuple(terms.group(i) for i in spec)) if spec else None

    def positive(self) -> Group:
        return frozenset().union(*self.groups)

    def required(self) -> tuple[Group, ...]:
        return self.groups

    def check(self, look: Look, evidence: list[Evidence]) -> str | None:
        for item, g in zip(self.items, self.groups, strict=True):
            if not g & look.live_ids:
                return f"all: item {item!r} does not occur"
        return None


@dataclass(frozen=True)
class NoneOf(Condition):
    """No item anywhere in the message, exception phrases included."""

    key: ClassVar[str] = "none"
    on_terms: ClassVar[bool] = True
    items: tuple[str, ...]
    groups: tuple[Group, ...]

    @classmethod
    def compile(cls, spec: list[str], terms: Terms) -> NoneOf | None:
        return cls(tuple(spec), tuple(terms.group(i) for i in spec)) if spec else None

    def check(self, look: Look, evidence: list[Evidence]) -> str | None:
        for item, g in zip(self.items, self.groups, strict=True):
            if g & look.hit_ids:
                return f"none: item {item!r} occurs"
        return None


@dataclass(frozen=True)
class NearBy(Condition):
    """Every item of each `near` entry within `within` words (in order, if asked)."""

    key: ClassVar[str] = "near"
    on_terms: ClassVar[bool] = True
    entries: tuple[tuple[tuple[str, ...], tuple[Group, ...], int, bool], ...]  # items, groups, within, ordered

    @classmethod
    def compile(cls, spec: list, terms: Terms) -> NearBy | None:
        return cls(tuple((tuple(n.items), tuple(terms.group(i) for i in n.items), n.within, n.ordered)
                         for n in spec)) if spec else None

    def positive(self) -> Group:
        return frozenset().union(*(g for _, groups, _, _ in self.entries for g in groups))

    def required(self) -> tuple[Group, ...]:
        return tuple(g for _, groups, _, _ in self.entries for g in groups)

    def check(self, look: Look, evidence: list[Evidence]) -> str | None:
        for n, (items, groups, within, ordered) in enumerate(self.entries):
            missing = [items[k] for k, g in enumerate(groups) if not g & look.live_ids]
            if missing:
                return f"near[{n}]: item {missing[0]!r} does not occur"
            if not near_holds(groups, within, ordered, look.live):
                return f"near[{n}]: items not within {within} words" + (" in order" if ordered else "")
        return None


@dataclass(frozen=True)
class CountOf(Condition):
    """At least N hits (or N different terms) of the items."""

    key: ClassVar[str] = "count"
    on_terms: ClassVar[bool] = True
    entries: tuple[tuple[Group, int, bool], ...]  # ids, at_least, distinct

    @classmethod
    def compile(cls, spec: list, terms: Terms) -> CountOf | None:
        return cls(tuple((frozenset().union(*(terms.group(i) for i in c.items)), c.at_least, c.distinct)
                         for c in spec)) if spec else None

    def positive(self) -> Group:
        return frozenset().union(*(ids for ids, _, _ in self.entries))

    def check(self, look: Look, evidence: list[Evidence]) -> str | None:
        for n, (ids, at_least, distinct) in enumerate(self.entries):
            matched = [h for h in look.live if h.term_id in ids]
            got = len({h.term_id for h in matched}) if distinct else len(matched)
            if got < at_least:
                return f"count[{n}]: {got} {'distinct terms' if distinct else 'hits'}, needs {at_least}"
        return None


@dataclass(frozen=True)
class RegexMatch(Condition):
    """At least one RE2 pattern matches; each that does is evidence (and, with `redact: match`, masked)."""

    key: ClassVar[str] = "regex"
    patterns: tuple[Any, ...]

    @classmethod
    def compile(cls, spec: list[str], terms: Terms) -> RegexMatch | None:
        return cls(tuple(compile_regex(p) for p in spec)) if spec else None

    def check(self, look: Look, evidence: list[Evidence]) -> str | None:
        spans = [(i, m.span()) for i, rx in enumerate(self.patterns) if (m := rx.search(look.subject.text))]
        if not spans:
            return "regex: no pattern matches"
        evidence.extend(Evidence(kind="regex", term=f"regex[{i}]", start=a, end=b) for i, (a, b) in spans)
        return None


@dataclass(frozen=True)
class PiiFound(Condition):
    """At least N PII findings of the given types (any type when none is given)."""

    key: ClassVar[str] = "pii"
    needs: ClassVar[str | None] = "pii"
    types: frozenset[str]
    at_least: int
    listed: tuple[str, ...]  # the types as written, for the explanation

    @classmethod
    def compile(cls, spec: Any, terms: Terms) -> PiiFound | None:
        return None if spec is None else cls(frozenset(spec.types), spec.at_least, tuple(spec.types))

    def may_hold(self, subject: Any) -> bool:
        # most messages hold no PII: PII rules cost one test there
        pii = subject.pii
        return bool(pii) and len(pii) >= self.at_least and not (self.types and self.types.isdisjoint(pii))

    def check(self, look: Look, evidence: list[Evidence]) -> str | None:
        wanted = [t for t in look.subject.pii if not self.types or t in self.types]
        if len(wanted) < self.at_least:
            return f"pii: {len(wanted)} finding(s) of {list(self.listed) or 'any type'}, needs {self.at_least}"
        evidence.extend(Evidence(kind="pii", term=t) for t, _ in Tally(wanted).items())
        return None


@dataclass(frozen=True)
class AttachmentHas(Condition):
    """One attachment satisfies one of the conditions (each field of a condition must hold)."""

    key: ClassVar[str] = "attachment"
    needs: ClassVar[str | None] = "attachment"
    predicates: tuple[AttachmentPredicate, ...]

    @classmethod
    def compile(cls, spec: list, terms: Terms) -> AttachmentHas | None:
        return cls(tuple(AttachmentPredicate(
            mime_globs=tuple(g.lower() for g in a.mime_types), extensions=frozenset(a.extensions),
            filename_globs=tuple(g.lower() for g in a.filename_globs),
            filename_regex=compile_regex(a.filename_regex) if a.filename_regex else None,
            min_size=a.min_size, max_size=a.max_size, sha256=terms.values(a.sha256),
            double_extension=a.double_extension, extension_mismatch=a.extension_mismatch) for a in spec)) if spec else None

    def may_hold(self, subject: Any) -> bool:
        return bool(subject.attachments)

    def check(self, look: Look, evidence: list[Evidence]) -> str | None:
        attachments = look.subject.attachments
        found = [(i, why) for i, att in enumerate(attachments) for p in self.predicates if (why := p.why(att))]
        if not found:
            return ("attachment: no attachment satisfies the condition" if attachments
                    else "attachment: message has no attachment")
        evidence.extend(Evidence(kind="attachment", term=f"attachment[{i}]:{why}") for i, why in found)
        return None


# Checked in this order: the keyword conditions first (then the keyword evidence), then the others.
CONDITIONS: tuple[type[Condition], ...] = (AnyOf, AllOf, NoneOf, NearBy, CountOf, RegexMatch, PiiFound, AttachmentHas)
NOT_CONDITIONS = frozenset({"always"})  # `match:` keys that are not conditions (always: scope only)


def compile_all(match: Any, terms: Terms) -> tuple[Condition, ...]:
    """A rule's `match:` as its compiled conditions, in checking order."""
    return tuple(c for cls in CONDITIONS if (c := cls.compile(getattr(match, cls.key), terms)) is not None)


def near_holds(groups: tuple[Group, ...], within: int, ordered: bool, hits: list[TermHit]) -> bool:
    per_item = [[h.word for h in hits if h.term_id in g] for g in groups]
    if not all(per_item):
        return False
    for combo in itertools.islice(itertools.product(*per_item), 10_000):
        if max(combo) - min(combo) > within:
            continue
        if not ordered or all(a < b for a, b in itertools.pairwise(combo)):
            return True
    return False
