"""The conversation-rule state machine: per conversation, what the rules need to remember, and
when they fire. Pure (no Kafka, no clock of its own): `on_message` takes each message as the
message-level scan saw it, `on_time` is called by a timer, so an absence fires on silence.

State is a small JSON-able dict per conversation (what a Faust table holds), bounded: the last
`RECENT` messages in short form, one pending clock per absence rule, the last sighting of each
sequence/accumulation event, and the ids of what already fired.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chatwatch.rules.conversation import ConversationExample, ConversationRule, Event

RECENT = 12  # messages kept per conversation (evidence, message-count windows)
NAMESPACE = uuid.UUID("2f6a3c8e-0f4f-4a43-9d5e-6b1c7a9e2d10")


@dataclass(frozen=True)
class Seen:
    """A message as conversation rules see it."""

    message_id: str
    at: datetime
    sender: str  # employee | customer
    rules: frozenset[str] = frozenset()  # message-level rules that fired on it
    pii: frozenset[str] = frozenset()
    employee: str | None = None


@dataclass(frozen=True)
class Fired:
    rule: ConversationRule
    alert_id: str  # deterministic: conversation + rule + window
    at: datetime
    evidence: tuple[str, ...]  # message ids that made it


@dataclass
class State:
    started: datetime | None = None
    recent: list[dict] = field(default_factory=list)  # {id, at, from}
    clocks: dict[str, dict] = field(default_factory=dict)  # absence rule -> {since, trigger, counted}
    sightings: dict[str, dict] = field(default_factory=dict)  # "rule#event" -> {at, id, n}
    fired: list[str] = field(default_factory=list)  # alert ids
    counts: dict[str, list] = field(default_factory=dict)  # rate rule -> [period, count]
    messages: int = 0

    def to_json(self) -> dict:
        return {"started": self.started.isoformat() if self.started else None, "recent": self.recent,
                "clocks": self.clocks, "sightings": self.sightings, "fired": self.fired[-32:], "counts": self.counts,
                "messages": self.messages}

    @classmethod
    def from_json(cls, doc: dict | None) -> State:
        if not doc:
            return cls()
        return cls(datetime.fromisoformat(doc["started"]) if doc.get("started") else None, doc.get("recent", []),
                   doc.get("clocks", {}), doc.get("sightings", {}), doc.get("fired", []), doc.get("counts", {}),
                   doc.get("messages", 0))


def matches(event: Event, seen: Seen) -> bool:
    if event.sender is not None and seen.sender != event.sender:
        return False
    if event.rule is not None and event.rule not in seen.rules:
        return False
    return not event.pii or bool(seen.pii & set(event.pii))


class ConversationEngine:
    def __init__(self, rules: Iterable[ConversationRule]):
        self.rules = [r for r in rules if r.enabled]

    def on_message(self, key: str, state: State, seen: Seen) -> list[Fired]:
        """Update `state` with a message; what fires now. A message later than a clock's deadline first
        lets that clock fire (the timer may not have run yet)."""
        out = self.on_time(key, state, seen.at)
        if state.started is None:
            state.started = seen.at
        state.messages += 1
        state.recent = [*state.recent, {"id": seen.message_id, "at": seen.at.isoformat(), "from": seen.sender}][-RECENT:]
        for rule in self.rules:
            out.extend(getattr(self, f"_{rule.kind}")(key, state, rule, seen))
        return out

    def on_time(self, key: str, state: State, now: datetime) -> list[Fired]:
        """Absences whose deadline passed with nothing expected arriving."""
        out = []
        for rule in self.rules:
            clock = state.clocks.get(rule.id)
            if rule.absence is None or clock is None:
                continue
            deadline = rule.absence.within.duration
            if deadline is not None and now >= datetime.fromisoformat(clock["since"]) + deadline:
                out.extend(self._fire(key, state, rule, clock["trigger"], now, (clock["trigger_id"],)))
                del state.clocks[rule.id]
        return out

    # --- kinds ---------------------------------------------------------------------------------

    def _absence(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> list[Fired]:
        spec = rule.absence
        clock = state.clocks.get(rule.id)
        if clock is not None and matches(spec.expect, seen):
            del state.clocks[rule.id]  # what was expected came in time
            return []
        counts = spec.within.messages and spec.expect.sender in (None, seen.sender)  # the sender's, or all
        if clock is not None and counts:
            clock["counted"] += 1
            if clock["counted"] >= spec.within.messages:  # the first N such messages went by without it
                del state.clocks[rule.id]
                return self._fire(key, state, rule, clock["trigger"], seen.at, (clock["trigger_id"], seen.message_id))
        starts = (spec.after == "conversation_start" and state.messages == 1) or (
            spec.after != "conversation_start" and matches(spec.after, seen))
        if clock is None and starts and not (spec.after == "conversation_start" and matches(spec.expect, seen)):
            counted = 1 if counts else 0
            state.clocks[rule.id] = {"since": seen.at.isoformat(), "trigger": seen.message_id,
                                     "trigger_id": seen.message_id, "counted": counted}
        return []

    def _sequence(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> list[Fired]:
        spec = rule.sequence
        slot = f"{rule.id}#first"
        out = []
        first = state.sightings.get(slot)
        if first is not None and matches(spec.then, seen) and first["id"] != seen.message_id:
            in_time = spec.within.duration is None or seen.at - datetime.fromisoformat(first["at"]) <= spec.within.duration
            in_count = spec.within.messages is None or state.messages - first["n"] <= spec.within.messages
            if in_time and in_count:
                out = self._fire(key, state, rule, first["id"], seen.at, (first["id"], seen.message_id))
        if matches(spec.first, seen):
            state.sightings[slot] = {"at": seen.at.isoformat(), "id": seen.message_id, "n": state.messages}
        return out

    def _accumulation(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> list[Fired]:
        spec = rule.accumulation
        for i, event in enumerate(spec.events):
            if matches(event, seen):
                state.sightings[f"{rule.id}#{i}"] = {"at": seen.at.isoformat(), "id": seen.message_id}
        for pii in seen.pii:
            if not spec.pii or pii in spec.pii:
                state.sightings[f"{rule.id}#pii:{pii}"] = {"at": seen.at.isoformat(), "id": seen.message_id}
        horizon = seen.at - spec.within.duration if spec.within.duration else None

        def live(slot: str) -> dict | None:
            found = state.sightings.get(slot)
            return found if found and (horizon is None or datetime.fromisoformat(found["at"]) >= horizon) else None

        events = [live(f"{rule.id}#{i}") for i in range(len(spec.events))]
        pii = [s for s in (live(k) for k in list(state.sightings) if k.startswith(f"{rule.id}#pii:")) if s]
        if all(events) and (spec.distinct_pii_at_least is None or len(pii) >= spec.distinct_pii_at_least):
            evidence = tuple(dict.fromkeys(e["id"] for e in [*events, *pii]))
            window = int(seen.at.timestamp() // spec.within.duration.total_seconds()) if spec.within.duration else 0
            return self._fire(key, state, rule, f"w{window}", seen.at, evidence)
        return []

    def _rate(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> list[Fired]:
        spec = rule.rate
        if not matches(spec.event, seen):
            return []
        iso = seen.at.isocalendar()
        period = f"{iso.year}-W{iso.week:02d}" if spec.per == "week" else seen.at.date().isoformat()
        count_key = f"{rule.id}@{seen.employee or ''}" if spec.by == "employee" else rule.id
        current = state.counts.get(count_key)
        count = current[1] + 1 if current and current[0] == period else 1
        state.counts[count_key] = [period, count]
        if count == spec.more_than + 1:
            return self._fire(key, state, rule, f"{seen.employee or ''}:{period}", seen.at, (seen.message_id,))
        return []

    def _fire(self, key: str, state: State, rule: ConversationRule, window: str, at: datetime,
              evidence: tuple[str, ...]) -> list[Fired]:
        alert_id = str(uuid.uuid5(NAMESPACE, f"{key}\x1f{rule.id}\x1f{window}"))
        if alert_id in state.fired:
            return []
        state.fired.append(alert_id)
        return [Fired(rule, alert_id, at, evidence)]


def next_deadline(engine: ConversationEngine, state: State) -> datetime | None:
    """When `on_time` could next fire for this conversation (for the timer's index)."""
    times = [datetime.fromisoformat(c["since"]) + r.absence.within.duration for r in engine.rules
             if r.absence is not None and r.absence.within.duration and (c := state.clocks.get(r.id))]
    return min(times) if times else None


# --- examples: scripted conversations played with a fake clock -----------------------------------

EXAMPLE_DAY = datetime(2026, 11, 18, tzinfo=UTC)  # a Wednesday


def example_time(at: str) -> datetime:
    """'09:00' on the example day, '+1 09:00' a day later (UTC)."""
    days, _, clock = at.strip().rpartition(" ")
    hours, minutes = (int(x) for x in clock.split(":"))
    return EXAMPLE_DAY + timedelta(days=int(days.lstrip("+") or 0), hours=hours, minutes=minutes)


def play_example(engine: ConversationEngine, lines: list[ConversationExample],
                 message_level: Callable[[ConversationExample, datetime], tuple[frozenset[str], frozenset[str]]],
                 until: str | None = None) -> list[Fired]:
    """Each line through the message level (`message_level` gives the rules that fire on it and its PII types,
    as the scan agent would) and then the conversation rules; the clock runs on to `until`, or an hour
    past the last line, so absences fire on silence."""
    state, fired, last = State(), [], EXAMPLE_DAY
    for n, line in enumerate(lines):
        at = example_time(line.at)
        rules, pii = message_level(line, at)
        seen = Seen(f"example-{n}", at, line.sender, rules | frozenset(line.rules), pii | frozenset(line.pii),
                    line.employee)
        fired += engine.on_message("example", state, seen)
        last = at
    fired += engine.on_time("example", state, example_time(until) if until else last + timedelta(hours=1))
    return fired
