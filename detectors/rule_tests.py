"""Runs the examples each rule carries: messages that must and must not make it fire."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from chatwatch.detectors.attachments import AttachmentInfo
from chatwatch.detectors.conversation import ConversationEngine, Played, play, play_example, status
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.pii.contact import region_of
from chatwatch.detectors.scanner import Scanner, Subject
from chatwatch.rules import Rule, RuleSet
from chatwatch.rules.conversation import ConversationExample
from chatwatch.rules.model import Example

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
        direction = "outbound" if scoped == "both" else scoped
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


MessageLevel = Callable[[ConversationExample, datetime], tuple[frozenset[str], frozenset[str], bool]]


def message_level(ruleset: RuleSet, scanner: Scanner | None = None, number: str | None = None) -> MessageLevel:
    """What the scan agent makes of a script line: the message rules that fire on it (alerting or
    marking), its PII types (patterns), and whether an alerting rule fired."""
    scanner = scanner or Scanner(ruleset)
    pii = PiiDetector(PiiConfig(ner=False))
    alerting = {r.id for _, r in ruleset.rules() if r.alert}

    def level(line: ConversationExample, at: datetime) -> tuple[frozenset[str], frozenset[str], bool]:
        direction = "outbound" if line.sender == "employee" else "inbound"
        found = tuple(f.type for f in pii.patterns(line.text, region_of(number))) if line.text else ()
        hits = scanner.scan(Subject(text=line.text, direction=direction, timestamp=at, pii=found,
                                    numbers=(number,) if number else ()))
        rules = frozenset(h.rule.id for h in hits)
        return rules, frozenset(found), bool(rules & alerting)

    return level


def run_conversation_examples(ruleset: RuleSet, scanner: Scanner | None = None) -> list[ExampleResult]:
    """Each conversation rule's scripted conversations: the lines go through the message-level rules
    (scanner + PII patterns) as in the worker, then through the conversation state machine."""
    level = message_level(ruleset, scanner)
    results = []
    for _, rule in ruleset.conversation_rules():
        engine = ConversationEngine([rule])
        for expected, script in [(True, s) for s in rule.examples.fires] + [(False, s) for s in rule.examples.silent]:
            fired, state = play_example(engine, script, level, rule.examples.until)
            shown = Example(text=" | ".join(f"{x.at} {x.sender}: {x.text}" for x in script)[:200])
            results.append(ExampleResult(rule.id, expected, bool(fired), shown,
                                         "; ".join(f.why for f in fired) or status(rule, state)))
    return results


def explain_conversation(ruleset: RuleSet, script: list[ConversationExample], until: str | None = None,
                         number: str | None = None) -> tuple[list[Played], dict[str, str]]:
    """A script played line by line through every conversation rule: what each line was at the message
    level and what fired on it; then where each rule stands at the end."""
    engine = ConversationEngine(r for _, r in ruleset.conversation_rules())
    steps, state = play(engine, script, message_level(ruleset, number=number), until, number)
    return steps, {r.id: status(r, state) for r in engine.rules}
