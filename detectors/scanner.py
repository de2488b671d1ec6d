"""Evaluates a RuleSet on one message: which rules fired, with evidence — or, for `explain`, why not.

Compiled once per rule set (the worker swaps in a new Scanner when packs change). Per message:
one automaton pass, then only the rules that a hit touches, plus the few rules with no keyword
gate (attachment, regex, PII or scope-only rules), are evaluated.
"""

from __future__ import annotations

import itertools
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import datetime

from chatwatch.detectors.attachments import AttachmentInfo, AttachmentPredicate, compile_regex
from chatwatch.detectors.keywords import KeywordIndex, Matches, TermHit, TermSpec
from chatwatch.detectors.normalize import fold, fold_accents_only
from chatwatch.records import Evidence, number_digits
from chatwatch.rules import Pack, Rule, RuleSet
from chatwatch.rules.model import Term, TermList, TermOptions

Group = frozenset[int]  # the term ids one condition item stands for


@dataclass(frozen=True)
class Subject:
    """What the detectors look at; built from a canonical message by the scan agent."""

    text: str = ""
    direction: str = "inbound"  # inbound (customer wrote) | outbound (employee wrote)
    timestamp: datetime | None = None
    numbers: tuple[str, ...] = ()  # business phone number id and display number
    team: str | None = None
    attachments: tuple[AttachmentInfo, ...] = ()
    pii: tuple[str, ...] = ()  # one PII type per finding (filled by the PII detector)


@dataclass(frozen=True)
class Masked:
    """A span a fired rule says is sensitive (its `redact: match` regex matches, its `redact: true` lists'
    hits): masked wherever the message's text leaves the detectors, like a PII finding of `type`."""

    type: str
    start: int
    end: int


@dataclass(frozen=True)
class RuleHit:
    """A rule fired. Its evidence is already the alert's record (`chatwatch.records.Evidence`): what
    matched is the same data here and on the wire, so one class and no copy in between."""

    pack: Pack
    rule: Rule
    evidence: tuple[Evidence, ...]
    masked: tuple[Masked, ...] = ()


@dataclass(frozen=True)
class Verdict:
    pack: Pack
    rule: Rule
    fired: bool
    reason: str  # why it fired, or the first condition that failed
    evidence: tuple[Evidence, ...] = ()
    masked: tuple[Masked, ...] = ()


@dataclass(frozen=True)
class _Near:
    groups: tuple[Group, ...]
    within: int
    ordered: bool


@dataclass(frozen=True)
class _Count:
    ids: Group
    at_least: int
    distinct: bool


@dataclass
class _Compiled:
    pack: Pack
    rule: Rule
    direction: str | None = None
    numbers: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    any: tuple[Group, ...] = ()
    all: tuple[Group, ...] = ()
    none: tuple[Group, ...] = ()
    near: tuple[_Near, ...] = ()
    count: tuple[_Count, ...] = ()
    regex: tuple[object, ...] = ()
    attachment: tuple[AttachmentPredicate, ...] = ()
    exception_ids: Group = frozenset()
    gate: Group = frozenset()  # term ids that make this rule worth evaluating
    positive: Group = frozenset()  # term ids whose hits are evidence
    required: tuple[Group, ...] = ()  # each must intersect the hits, or the rule cannot fire
    ungated: bool = False
    pii_types: frozenset[str] | None = None  # a PII condition's types (empty: any type); None: no PII condition
    pii_at_least: int = 0
    exception_numbers: frozenset[str] = frozenset()
    redact_regex: bool = False  # `redact: match`: every match of every pattern is masked when the rule fires
    redact_label: str = ""
    sensitive: dict[int, str] = field(default_factory=dict)  # term id -> its `redact: true` list ("$name")


class _TermTable:
    """Dedupes terms across all packs: same text and options -> same id."""

    def __init__(self) -> None:
        self.specs: list[TermSpec] = []
        self._ids: dict[tuple, int] = {}

    def add(self, text: str, options: TermOptions) -> int | None:
        folded = fold(text)
        if not folded:
            return None
        strict = fold_accents_only(text) if options.accents == "strict" else None
        key = (folded, strict, options.whole_word, options.obfuscated)
        if key not in self._ids:
            self._ids[key] = len(self.specs)
            self.specs.append(TermSpec(len(self.specs), text, folded, strict, options.whole_word, options.obfuscated))
        return self._ids[key]


class Scanner:
    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        table = _TermTable()
        self._rules = [self._compile(ruleset, pack, rule, table) for pack, rule in ruleset.rules()]
        self._index = KeywordIndex(table.specs)
        self._by_term: dict[int, list[int]] = {}
        for i, r in enumerate(self._rules):
            for term_id in r.gate:
                self._by_term.setdefault(term_id, []).append(i)
        self._ungated = [i for i, r in enumerate(self._rules) if r.ungated]
        # Ungated rules by what a message must have for them to matter (its direction, an attachment, a
        # PII finding): a message gathers only the ones it can meet, instead of testing all of them.
        self._ungated_for: dict[tuple[str, bool, bool], frozenset[int]] = {
            (direction, attached, pii): frozenset(
                i for i in self._ungated if self._rules[i].direction in (None, direction)
                and (attached or not self._rules[i].attachment) and (pii or self._rules[i].pii_types is None))
            for direction in ("inbound", "outbound") for attached in (False, True) for pii in (False, True)}
        self.term_count = len(table.specs)
        # Terms of `redact: true` lists are sensitive in any message, whichever rule fires (or none).
        self._sensitive: dict[int, str] = {}
        for r in self._rules:
            for term_id in r.sensitive:
                self._sensitive.setdefault(term_id, r.redact_label)

    # --- compile -------------------------------------------------------------------------------

    @staticmethod
    def _compile(ruleset: RuleSet, pack: Pack, rule: Rule, table: _TermTable) -> _Compiled:
        sensitive: dict[int, str] = {}

        def group(item: str) -> Group:
            if item.startswith("$"):
                lst = ruleset.term_list(pack, item)
                ids = frozenset(i for t in lst.terms if (i := table.add(*_term_options(t, lst))) is not None)
                if lst.redact:
                    sensitive.update(dict.fromkeys(ids, item))
                return ids
            term_id = table.add(item, TermOptions())
            return frozenset() if term_id is None else frozenset({term_id})

        def sha_values(items: list[str]) -> frozenset[str]:
            out = set()
            for item in items:
                if item.startswith("$"):
                    out |= {(t if isinstance(t, str) else t.term).lower() for t in ruleset.term_list(pack, item).terms}
                else:
                    out.add(item.lower())
            return frozenset(out)

        m, scope = rule.match, rule.scope
        c = _Compiled(pack, rule)
        direction = scope.effective_direction()
        c.direction = None if direction == "both" else direction
        c.numbers, c.teams = frozenset(map(number_digits, scope.numbers)), frozenset(scope.teams)
        c.exception_numbers = frozenset(map(number_digits, rule.exceptions.numbers))
        c.any = tuple(group(i) for i in m.any)
        c.all = tuple(group(i) for i in m.all)
        c.none = tuple(group(i) for i in m.none)
        c.near = tuple(_Near(tuple(group(i) for i in n.items), n.within, n.ordered) for n in m.near)
        c.count = tuple(_Count(frozenset().union(*(group(i) for i in n.items)), n.at_least, n.distinct)
                        for n in m.count)
        c.regex = tuple(compile_regex(p) for p in m.regex)
        c.attachment = tuple(AttachmentPredicate(
            mime_globs=tuple(g.lower() for g in a.mime_types), extensions=frozenset(a.extensions),
            filename_globs=tuple(g.lower() for g in a.filename_globs),
            filename_regex=compile_regex(a.filename_regex) if a.filename_regex else None,
            min_size=a.min_size, max_size=a.max_size, sha256=sha_values(a.sha256),
            double_extension=a.double_extension, extension_mismatch=a.extension_mismatch) for a in m.attachment)
        c.exception_ids = frozenset().union(*(group(p) for p in rule.exceptions.phrases))
        keyword_groups = [*c.any, *c.all, *(g for n in c.near for g in n.groups)]
        c.positive = frozenset().union(*keyword_groups, *(n.ids for n in c.count))
        # Groups that must all be hit for the rule to fire; the rule is indexed under ONE of them (the
        # largest: single-word groups tend to be common words like "pago"), so a frequent word in a
        # near/all rule does not make the rule a candidate on every message that has it.
        c.required = tuple(g for g in ((frozenset().union(*c.any),) if c.any else ()) + c.all
                           + tuple(g for n in c.near for g in n.groups) if g)
        if c.required:
            c.gate = max(c.required, key=len)
        elif c.count:
            c.gate = frozenset().union(*(n.ids for n in c.count))
        c.ungated = not c.gate
        if rule.match.pii is not None:
            c.pii_types, c.pii_at_least = frozenset(rule.match.pii.types), rule.match.pii.at_least
        c.redact_regex, c.redact_label = rule.redact == "match", rule.redact_as or rule.category
        c.sensitive = {i: ref for i, ref in sensitive.items() if i not in c.exception_ids}
        return c

    def _may_fire(self, r: _Compiled, s: Subject, hit_ids: set[int]) -> bool:
        """Cheap necessary conditions, checked before the full evaluation (which explains itself)."""
        if r.direction and s.direction != r.direction:
            return False
        if r.attachment and not s.attachments:
            return False
        if r.pii_types is not None and (len(s.pii) < r.pii_at_least or not s.pii or (
                r.pii_types and r.pii_types.isdisjoint(s.pii))):
            return False  # most messages hold no PII: PII rules cost one test there
        return all(not g.isdisjoint(hit_ids) for g in r.required)

    # --- evaluate ------------------------------------------------------------------------------

    def scan(self, subject: Subject) -> list[RuleHit]:
        return self.scan_masked(subject)[0]

    def scan_masked(self, subject: Subject) -> tuple[list[RuleHit], list[Masked]]:
        """The rules that fired, and every span the packs call sensitive: what fired `redact: match`
        rules matched, and each hit of a `redact: true` list, whether or not its rule fired."""
        hits = self._index.find(subject.text)
        hit_ids = {h.term_id for h in hits.hits}
        ungated = self._ungated_for.get((subject.direction, bool(subject.attachments), bool(subject.pii)))
        candidates = set(self._ungated if ungated is None else ungated)
        for term_id in hit_ids:
            candidates.update(self._by_term.get(term_id, ()))
        fired = []
        for i in sorted(candidates):
            rule = self._rules[i]
            if not self._may_fire(rule, subject, hit_ids):
                continue
            verdict = self._evaluate(rule, subject, hits, hit_ids)
            if verdict.fired:
                fired.append(RuleHit(verdict.pack, verdict.rule, verdict.evidence, verdict.masked))
        masked = [m for hit in fired for m in hit.masked]
        if self._sensitive:
            masked += [Masked(self._sensitive[h.term_id], *hits.span(h)) for h in hits.hits if h.term_id in self._sensitive]
        return fired, masked

    def explain(self, subject: Subject) -> tuple[Matches, list[Verdict]]:
        """Every hit and, for every enabled rule, whether it fired and why (or which condition failed)."""
        hits = self._index.find(subject.text)
        hit_ids = {h.term_id for h in hits.hits}
        return hits, [self._evaluate(r, subject, hits, hit_ids) for r in self._rules]

    def _evaluate(self, r: _Compiled, s: Subject, matches: Matches, hit_ids: set[int]) -> Verdict:
        def no(reason: str) -> Verdict:
            return Verdict(r.pack, r.rule, False, reason)

        scope, exc = r.rule.scope, r.rule.exceptions
        if r.direction and s.direction != r.direction:
            return no(f"scope: rule is for {r.direction} messages, this one is {s.direction}")
        if r.numbers and not r.numbers.intersection(map(number_digits, s.numbers)):
            return no("scope: business number not in the rule's numbers")
        if r.teams and s.team not in r.teams:
            return no("scope: team not in the rule's teams" if s.team else "scope: rule needs a team; sender's is unknown")
        hours = scope.outside_hours or scope.within_hours
        evidence: list[Evidence] = []
        if hours is not None:
            if s.timestamp is None:
                return no("scope: message has no timestamp for the hours window")
            inside = hours.contains(s.timestamp)
            if scope.outside_hours is not None and inside:
                return no(f"scope: sent within business hours ({hours.timezone})")
            if scope.within_hours is not None and not inside:
                return no(f"scope: sent outside the hours window ({hours.timezone})")
            evidence.append(Evidence(kind="scope", term="outside_hours" if scope.outside_hours else "within_hours"))
        if r.exception_numbers and r.exception_numbers.intersection(map(number_digits, s.numbers)):
            return no("exception: business number is allow-listed")
        if exc.teams and s.team in exc.teams:
            return no("exception: team is allow-listed")

        covered = [h for h in matches.hits if h.term_id in r.exception_ids]
        live = [h for h in matches.hits if h.term_id in r.positive and not _inside_any(h, covered)]
        live_ids = {h.term_id for h in live}
        if r.any and not any(g & live_ids for g in r.any):
            return no("any: none of the items occurs" + (" (hits fall inside exception phrases)" if covered else ""))
        for n, g in enumerate(r.all):
            if not g & live_ids:
                return no(f"all: item {r.rule.match.all[n]!r} does not occur")
        for n, g in enumerate(r.none):
            if g & hit_ids:
                return no(f"none: item {r.rule.match.none[n]!r} occurs")
        for n, near in enumerate(r.near):
            missing = [r.rule.match.near[n].items[k] for k, g in enumerate(near.groups) if not g & live_ids]
            if missing:
                return no(f"near[{n}]: item {missing[0]!r} does not occur")
            if not _near_holds(near, live):
                return no(f"near[{n}]: items not within {near.within} words" + (" in order" if near.ordered else ""))
        for n, cnt in enumerate(r.count):
            matched = [h for h in live if h.term_id in cnt.ids]
            got = len({h.term_id for h in matched}) if cnt.distinct else len(matched)
            if got < cnt.at_least:
                return no(f"count[{n}]: {got} {'distinct terms' if cnt.distinct else 'hits'}, needs {cnt.at_least}")
        evidence.extend(_keyword(r.sensitive.get(h.term_id, h.term), matches.span(h)) for h in live)
        if r.regex:
            spans = [(i, m.span()) for i, rx in enumerate(r.regex) if (m := rx.search(s.text))]
            if not spans:
                return no("regex: no pattern matches")
            evidence.extend(Evidence(kind="regex", term=f"regex[{i}]", start=a, end=b) for i, (a, b) in spans)
        pii = r.rule.match.pii
        if pii is not None:
            wanted = [t for t in s.pii if not pii.types or t in pii.types]
            if len(wanted) < pii.at_least:
                return no(f"pii: {len(wanted)} finding(s) of {pii.types or 'any type'}, needs {pii.at_least}")
            evidence.extend(Evidence(kind="pii", term=t) for t, _ in Tally(wanted).items())
        if r.attachment:
            found = [(i, why) for i, att in enumerate(s.attachments) for p in r.attachment if (why := p.why(att))]
            if not found:
                return no("attachment: no attachment satisfies the condition" if s.attachments
                          else "attachment: message has no attachment")
            evidence.extend(Evidence(kind="attachment", term=f"attachment[{i}]:{why}") for i, why in found)
        reason = "always (scope only)" if r.rule.match.always else "all conditions hold"
        return Verdict(r.pack, r.rule, True, reason, tuple(evidence), _masked(r, s.text, matches, live))


def _keyword(term: str, span: tuple[int, int]) -> Evidence:
    return Evidence(kind="keyword", term=term, start=span[0], end=span[1])


def _masked(r: _Compiled, text: str, matches: Matches, live: list[TermHit]) -> tuple[Masked, ...]:
    """What a fired rule says is sensitive. Every match of every pattern, not only the first one the
    condition needed: in "usuario juan99, clave Tigre99#" the secret is the second match."""
    out: list[Masked] = []
    if r.redact_regex:
        out.extend(Masked(r.redact_label, *m.span()) for rx in r.regex for m in rx.finditer(text) if m.end() > m.start())
    if r.sensitive:
        out.extend(Masked(r.redact_label, *matches.span(h)) for h in live if h.term_id in r.sensitive)
    return tuple(out)


def _term_options(term: str | Term, lst: TermList) -> tuple[str, TermOptions]:
    """A list's options, overridden by what the term itself sets explicitly."""
    base = {k: getattr(lst, k) for k in TermOptions.model_fields}
    if isinstance(term, str):
        return term, TermOptions(**base)
    base.update({k: getattr(term, k) for k in term.model_fields_set if k in TermOptions.model_fields})
    return term.term, TermOptions(**base)


def _inside_any(hit: TermHit, spans: list[TermHit]) -> bool:
    return any(e.fstart <= hit.fstart and hit.fend <= e.fend and e is not hit for e in spans)


def _near_holds(near: _Near, hits: list[TermHit]) -> bool:
    per_item = [[h.word for h in hits if h.term_id in g] for g in near.groups]
    if not all(per_item):
        return False
    for combo in itertools.islice(itertools.product(*per_item), 10_000):
        if max(combo) - min(combo) > near.within:
            continue
        if not near.ordered or all(a < b for a, b in itertools.pairwise(combo)):
            return True
    return False
