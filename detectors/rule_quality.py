"""Precision and recall of rule packs on a labelled chat corpus: how a pack author knows a change helped.

A corpus is JSON lines, one chat line each:
  {"text": "Me passa o número do cartão?", "sender": "employee", "labels": ["payment_data"]}
A label names a family (a rule `category`: the line must make some alerting rule of it fire) or a rule
id (that rule must fire). No labels: an innocent line, no alerting rule may fire. Optional keys: `lang`
(reported per language), `number` (the business number: its calendar and phone region), `note`.

Scored per family (a line counts once per family whichever of its rules fired), per rule (precision
on the lines it fired on; recall only on lines that name it by id), per language and overall (summed
over families). Marker rules
(`alert: false`) are not scored: they raise nothing. Messages are scanned as the pipeline's patterns
see them (the PII patterns, no NER: a corpus run must not depend on a model).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.pii.contact import region_of
from chatwatch.detectors.rule_tests import DEFAULT_TIME
from chatwatch.detectors.scanner import Scanner, Subject
from chatwatch.rules import RuleSet

KEYS = {"text", "sender", "labels", "lang", "number", "note"}


class CorpusError(ValueError):
    """A corpus line that cannot be scored, with its file:line."""


@dataclass(frozen=True)
class Line:
    where: str  # file:line
    text: str
    sender: str  # customer | employee
    labels: tuple[str, ...]
    lang: str = ""
    number: str = ""


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def add(self, expected: bool, fired: bool) -> None:
        self.tp += expected and fired
        self.fp += fired and not expected
        self.fn += expected and not fired


@dataclass(frozen=True)
class Outcome:
    line: Line
    expected: frozenset[str]  # families
    fired: frozenset[str]  # families
    rules: frozenset[str]  # alerting rule ids that fired


@dataclass
class Report:
    lines: int = 0
    overall: Score = field(default_factory=Score)
    families: dict[str, Score] = field(default_factory=dict)
    rules: dict[str, Score] = field(default_factory=dict)  # recall only means something for the rules in `named`
    named: set[str] = field(default_factory=set)  # rules some line names by id
    languages: dict[str, Score] = field(default_factory=dict)
    misses: list[tuple[Outcome, str]] = field(default_factory=list)  # (line, family it should have raised)
    false_alarms: list[tuple[Outcome, str]] = field(default_factory=list)  # (line, family it raised)

    def below(self, min_precision: float, min_recall: float) -> list[str]:
        """The families under either bar (a family with no labelled line and no alert is not judged)."""
        return [name for name, s in sorted(self.families.items())
                if (s.precision is not None and s.precision < min_precision)
                or (s.recall is not None and s.recall < min_recall)]


def read_corpus(path: Path) -> list[Line]:
    """The corpus lines; a line that is not a JSON object with a text, a sender and labels is refused."""
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path}:{n}"
        if not raw.strip() or raw.lstrip().startswith("//"):
            continue
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise CorpusError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(doc, dict):
            raise CorpusError(f"{where}: a line is a JSON object")
        unknown = sorted(set(doc) - KEYS)
        if unknown:
            raise CorpusError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})")
        text, sender, labels = doc.get("text"), doc.get("sender"), doc.get("labels", [])
        if not isinstance(text, str) or not text.strip():
            raise CorpusError(f"{where}: 'text' must be a non-empty string")
        if sender not in ("customer", "employee"):
            raise CorpusError(f"{where}: 'sender' must be customer or employee")
        if not isinstance(labels, list) or not all(isinstance(lb, str) for lb in labels):
            raise CorpusError(f"{where}: 'labels' must be a list of families or rule ids")
        out.append(Line(where, text, sender, tuple(labels), str(doc.get("lang") or ""), str(doc.get("number") or "")))
    return out


def score(ruleset: RuleSet, lines: Iterable[Line], scanner: Scanner | None = None) -> Report:
    """Scan every line and count, per family, rule and language, what fired against what was labelled."""
    scanner = scanner or Scanner(ruleset)
    pii = PiiDetector(PiiConfig(ner=False))
    alerting = {rule.id: rule.category for _, rule in ruleset.rules() if rule.alert}
    families = set(alerting.values())
    report = Report(families={f: Score() for f in sorted(families)}, rules={r: Score() for r in sorted(alerting)})
    for line in lines:
        expected = _families_of(line, alerting, families)
        subject = Subject(text=line.text, direction="outbound" if line.sender == "employee" else "inbound",
                          timestamp=DEFAULT_TIME, numbers=(line.number,) if line.number else (),
                          pii=tuple(f.type for f in pii.patterns(line.text, region_of(line.number or None))))
        fired_rules = frozenset(h.rule.id for h in scanner.scan(subject) if h.rule.id in alerting)
        fired = frozenset(alerting[r] for r in fired_rules)
        outcome = Outcome(line, expected, fired, fired_rules)
        report.lines += 1
        for family in families:
            wanted, raised = family in expected, family in fired
            report.families[family].add(wanted, raised)
            report.overall.add(wanted, raised)
            if line.lang:
                report.languages.setdefault(line.lang, Score()).add(wanted, raised)
        for rule_id in alerting:  # a line labelled by family may mean another rule of it: no miss for this one
            if rule_id in fired_rules or rule_id in line.labels:
                report.rules[rule_id].add(rule_id in line.labels or alerting[rule_id] in expected,
                                          rule_id in fired_rules)
            if rule_id in line.labels:
                report.named.add(rule_id)
        report.misses += [(outcome, f) for f in sorted(expected - fired)]
        report.false_alarms += [(outcome, f) for f in sorted(fired - expected)]
    return report


def _families_of(line: Line, alerting: dict[str, str], families: set[str]) -> frozenset[str]:
    out = set()
    for label in line.labels:
        if label in families:
            out.add(label)
        elif label in alerting:
            out.add(alerting[label])
        else:
            raise CorpusError(f"{line.where}: label {label!r} is neither a family ({', '.join(sorted(families))}) "
                              f"nor an alerting rule of these packs")
    return frozenset(out)
