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


def run_conversation_examples(ruleset: RuleSet, scanner: Scanner | None = None) -> list[ExampleResult]:
    """Each conversation rule's scripted conversations: the lines go through the message-level rules
    (scanner + PII patterns) as in the worker, then through the conversation state machine."""
    from chatwatch.detectors.conversation import ConversationEngine, play_example

    scanner = scanner or Scanner(ruleset)
    pii = PiiDetector(PiiConfig(ner=False))

    def message_level(line, at):
        direction = "outbound" if line.sender == "employee" else "inbound"
        found = tuple(f.type for f in pii.patterns(line.text)) if line.text else ()
        hits = scanner.scan(Subject(text=line.text, direction=direction, timestamp=at, pii=found))
        return frozenset(h.rule.id for h in hits), frozenset(found)

    results = []
    for pack in ruleset.packs:
        for rule in pack.conversation:
            if not rule.enabled:
                continue
            engine = ConversationEngine([rule])
            for expected, script in [(True, s) for s in rule.examples.fires] + [(False, s) for s in rule.examples.silent]:
                fired = play_example(engine, script, message_level, rule.examples.until)
                first = Example(text=" | ".join(f"{x.at} {x.sender}: {x.text}" for x in script)[:200])
                results.append(ExampleResult(rule.id, expected, bool(fired), first,
                                             "fired" if fired else "did not fire"))
    return results
