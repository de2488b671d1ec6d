"""Evaluates a RuleSet on one message: which rules fired, with evidence — or, for `explain`, why not.

Compiled once per rule set (the worker swaps in a new Scanner when packs change). Per message:
one automaton pass, then only the rules that a hit touches, plus the few rules with no keyword
gate (attachment, regex, PII or scope-only rules), are evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chatwatch.detectors.attachments import AttachmentInfo
from chatwatch.detectors.conditions import Condition, Group, Look, RegexMatch, Terms, compile_all
from chatwatch.detectors.keywords import KeywordIndex, Matches, TermHit, TermSpec
from chatwatch.detectors.normalize import fold, fold_accents_only
from chatwatch.records import Evidence, number_digits
from chatwatch.rules import Pack, Rule, RuleSet
from chatwatch.rules.model import Term, TermList, TermOptions


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


@dataclass
class _Compiled:
    pack: Pack
    rule: Rule
    direction: str | None = None
    numbers: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    conditions: tuple[Condition, ...] = ()  # the `match:` conditions, compiled (conditions.py), in checking order
    on_terms: tuple[Condition, ...] = ()  # those judged on keyword hits (checked first; keyword evidence follows)
    on_message: tuple[Condition, ...] = ()  # the others (regex, PII, attachments…)
    exception_ids: Group = frozenset()
    gate: Group = frozenset()  # term ids that make this rule worth evaluating
    positive: Group = frozenset()  # term ids whose hits are evidence
    required: tuple[Group, ...] = ()  # each must intersect the hits, or the rule cannot fire
    ungated: bool = False
    needs: frozenset[str] = frozenset()  # what a message must carry for a condition to hold: attachment, pii
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
                and (attached or "attachment" not in self._rules[i].needs) and (pii or "pii" not in self._rules[i].needs))
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
        c.conditions = compile_all(m, Terms(group, sha_values))
        c.on_terms = tuple(cond for cond in c.conditions if cond.on_terms)
        c.on_message = tuple(cond for cond in c.conditions if not cond.on_terms)
        c.needs = frozenset(cond.needs for cond in c.conditions if cond.needs)
        c.exception_ids = frozenset().union(*(group(p) for p in rule.exceptions.phrases))
        c.positive = frozenset().union(*(cond.positive() for cond in c.conditions))
        # Groups that must all be hit for the rule to fire; the rule is indexed under ONE of them (the
        # largest: single-word groups tend to be common words like "pago"), so a frequent word in a
        # near/all rule does not make the rule a candidate on every message that has it. A rule with
        # keyword conditions but none required (count) is indexed under all their terms.
        c.required = tuple(g for cond in c.conditions for g in cond.required() if g)
        c.gate = max(c.required, key=len) if c.required else c.positive
        c.ungated = not c.gate
        c.redact_regex, c.redact_label = rule.redact == "match", rule.redact_as or rule.category
        c.sensitive = {i: ref for i, ref in sensitive.items() if i not in c.exception_ids}
        return c

    def _may_fire(self, r: _Compiled, s: Subject, hit_ids: set[int]) -> bool:
        """Cheap necessary conditions, checked before the full evaluation (which explains itself)."""
        if r.direction and s.direction != r.direction:
            return False
        if r.needs and not all(cond.may_hold(s) for cond in r.conditions):
            return False  # most messages hold no PII and no attachment: such rules cost one test there
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
        look = Look(s, matches, hit_ids, live, {h.term_id for h in live}, covered)
        for condition in r.on_terms:
            if (failed := condition.check(look, evidence)) is not None:
                return no(failed)
        evidence.extend(_keyword(r.sensitive.get(h.term_id, h.term), matches.span(h)) for h in live)
        for condition in r.on_message:
            if (failed := condition.check(look, evidence)) is not None:
                return no(failed)
        reason = "always (scope only)" if r.rule.match.always else "all conditions hold"
        return Verdict(r.pack, r.rule, True, reason, tuple(evidence), _masked(r, s.text, matches, live))


def _keyword(term: str, span: tuple[int, int]) -> Evidence:
    return Evidence(kind="keyword", term=term, start=span[0], end=span[1])


def _masked(r: _Compiled, text: str, matches: Matches, live: list[TermHit]) -> tuple[Masked, ...]:
    """What a fired rule says is sensitive. Every match of every pattern, not only the first one the
    condition needed: in "usuario juan99, clave Tigre99#" the secret is the second match."""
    out: list[Masked] = []
    if r.redact_regex:
        patterns = [rx for cond in r.conditions if isinstance(cond, RegexMatch) for rx in cond.patterns]
        out.extend(Masked(r.redact_label, *m.span()) for rx in patterns for m in rx.finditer(text) if m.end() > m.start())
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
