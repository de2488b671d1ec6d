"""Runs the examples each rule carries: messages that must and must not make it fire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chatwatch.detectors.attachments import AttachmentInfo
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.scanner import Scanner, Subject
from chatwatch.rules import Rule, RuleSet
from chatwatch.rules.model import Direction, Example

# A Wednesday, 11:00 UTC: inside ordinary business hours in Latin America and Spain.
DEFAULT_TIME = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ExampleResult:
    rule_id: str
    expected: bool  # should fire
    fired: bool
    example: Example
    reason: str

    @property
    def ok(self) -> bool:
        return self.expected == self.fired


def example_subject(rule: Rule, example: str | Example, pii: PiiDetector | None = None) -> tuple[Example, Subject]:
    ex = Example(text=example) if isinstance(example, str) else example
    if ex.sender is not None:
        direction = "outbound" if ex.sender == "employee" else "inbound"
    else:
        scoped = rule.scope.effective_direction()
        direction = "outbound" if scoped is Direction.both else scoped.value
    numbers = (ex.number,) if ex.number else tuple(rule.scope.numbers[:1])
    team = ex.team if ex.team is not None else (rule.scope.teams[0] if rule.scope.teams else None)
    attachments = tuple(AttachmentInfo(a.filename, a.mime_type, a.size, a.sha256) for a in ex.attachments)
    found = tuple(f.type for f in pii.patterns(ex.text)) if pii and ex.text else ()
    return ex, Subject(text=ex.text, direction=direction, timestamp=ex.time or DEFAULT_TIME, numbers=numbers,
                       team=team, attachments=attachments, pii=found)


def run_examples(ruleset: RuleSet, scanner: Scanner | None = None) -> list[ExampleResult]:
    """Examples run with the PII pattern detector (not NER: examples must not depend on a model)."""
    scanner = scanner or Scanner(ruleset)
    pii = PiiDetector(PiiConfig(ner=False))
    results = []
    for _, rule in ruleset.rules():
        cases = [(True, e) for e in rule.examples.match] + [(False, e) for e in rule.examples.no_match]
        for expected, raw in cases:
            ex, subject = example_subject(rule, raw, pii)
            _, verdicts = scanner.explain(subject)
            verdict = next(v for v in verdicts if v.rule.id == rule.id)
            results.append(ExampleResult(rule.id, expected, verdict.fired, ex, verdict.reason))
    return results
