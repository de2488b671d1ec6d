"""The conversation rule kinds, one class each: how a kind plays a message, what it keeps in the
conversation's state, what the timer does for it, and how it says where a conversation stands.

The engine (detectors/conversation.py) finds a rule's class by the type of its spec
(`KINDS[type(rule.spec)]`, the spec being the model under the rule's YAML key in
rules/conversation.py) and calls it; a kind fires through `engine.fire`, which holds the alert
until no late message can change it. A new kind is a `Kind` model in rules/conversation.py (its
YAML key a field of `ConversationRule`) and a class here added to `KINDS`;
tests/detectors/test_conversation_kinds.py fails while a kind has no class.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Protocol
from zoneinfo import ZoneInfo

from chatwatch.detectors.conversation_state import (
    CitedMessage,
    Clock,
    Seen,
    Sighting,
    State,
    epoch,
    matches,
    short,
    snippet_of,
    time_at,
)
from chatwatch.rules.conversation import Absence, Accumulation, ConversationRule, Kind, Rate, Sequence


class Engine(Protocol):
    """What a kind asks of the engine (detectors/conversation.py's ConversationEngine)."""

    def fire(self, key: str, state: State, rule: ConversationRule, window: str, at: datetime,
             evidence: tuple[CitedMessage, ...], why: str) -> None: ...

    def tick(self, key: str, state: State, now: datetime) -> None: ...


class RuleKind:
    """How one kind of conversation rule is played. Stateless itself: what a conversation needs is in its
    `State`, in the slice this kind owns (named by the views of conversation_state.py)."""

    spec: ClassVar[type[Kind]]
    timed: ClassVar[bool] = False  # the timer calls `on_time` (a deadline can pass in silence)

    def __init__(self, engine: Engine | None = None):  # None: only `status` is asked
        self.engine = engine

    def on_message(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> None:
        raise NotImplementedError

    def on_time(self, key: str, state: State, rule: ConversationRule, now: datetime) -> None:
        """The time is `now` and nothing arrived (only for `timed` kinds)."""

    def status(self, rule: ConversationRule, state: State) -> str:
        """Where a conversation stands for this rule, in words (`chatwatch rules explain --conversation`)."""
        raise NotImplementedError


class AbsenceRule(RuleKind):
    """Something expected did not come in time: a clock per rule, started by `after`, met by `expect`."""

    spec = Absence
    timed = True

    def on_message(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> None:
        spec: Absence = rule.absence
        raw = state.clocks.get(rule.id)
        clock = Clock(raw) if raw is not None else None
        if seen.kind != "message":
            self._undone(key, state, spec, clock, seen)
            return
        if clock is not None and clock.running and matches(spec.expect, seen):
            clock.met = short(seen.message_id)  # came in time; kept, met, in case it is deleted
            return
        if clock is not None and not clock.running and matches(spec.expect, seen):
            clock.also = [*clock.also, short(seen.message_id)][-3:]  # met again: stands if the first is deleted
        counts = spec.within.messages and spec.expect.sender in (None, seen.sender)  # the sender's, or all
        if clock is not None and clock.running and counts:
            clock.counted += 1
            if clock.counted >= spec.within.messages:  # the first N such messages went by without it
                del state.clocks[rule.id]
                evidence = (CitedMessage(clock.started_by, time_at(clock.since), clock.sender, clock.snippet),
                            CitedMessage(seen.message_id, seen.at, seen.sender, snippet_of(seen)))
                self.engine.fire(key, state, rule, clock.started_by, seen.at, evidence,
                                 f"{spec.within.messages} messages went by without it")
                return
        at_start = spec.after == "conversation_start"
        starts = (at_start and state.messages == 1) or (not at_start and matches(spec.after, seen))
        if starts and (clock is None or not clock.running) and not (at_start and matches(spec.expect, seen)):
            state.clocks[rule.id] = Clock.new(epoch(seen.at), self._due(spec, seen), seen.message_id,
                                              1 if counts else 0, snippet_of(seen), seen.sender)

    def _undone(self, key: str, state: State, spec: Absence, clock: Clock | None, seen: Seen) -> None:
        """An edit or delete: if it takes back what met the clock, the clock runs again."""
        gone = seen.target is not None and (seen.kind == "deleted" or not matches(spec.expect, seen))
        if clock is None or clock.running or not gone:
            return
        also = clock.also  # later messages that met it too
        if short(seen.target) in also:
            also.remove(short(seen.target))
        elif clock.met == short(seen.target):
            if also:
                clock.met = also.pop(0)  # a later reply or notice still stands
                return
            clock.met = None  # what was expected was deleted or edited away: the clock runs again
            self.engine.tick(key, state, seen.at)

    def on_time(self, key: str, state: State, rule: ConversationRule, now: datetime) -> None:
        raw = state.clocks.get(rule.id)
        if raw is None:
            return
        clock = Clock(raw)
        if not clock.running or clock.due is None:
            return
        if epoch(now) > clock.due:  # a reply at the deadline itself is in time
            del state.clocks[rule.id]
            evidence = (CitedMessage(clock.started_by, time_at(clock.since), clock.sender, clock.snippet),)
            self.engine.fire(key, state, rule, clock.started_by, time_at(clock.due), evidence,
                             f"nothing expected by {time_at(clock.due).isoformat()}")

    @staticmethod
    def _due(spec: Absence, seen: Seen) -> int | None:
        span = spec.within.duration
        if span is None:
            return None
        hours = spec.hours_for(seen.numbers)
        return epoch(hours.add(seen.at, span) if hours else seen.at + span)

    def status(self, rule: ConversationRule, state: State) -> str:
        raw = state.clocks.get(rule.id)
        if raw is None:
            return "no clock running: nothing started it, or it fired"
        clock = Clock(raw)
        if not clock.running:
            return f"met: the expected message came (started by {clock.started_by})"
        due = f"due {time_at(clock.due).isoformat()}" if clock.due else "no time limit"
        left = (f", {rule.absence.within.messages - clock.counted} counted message(s) left"
                if rule.absence.within.messages else "")
        return f"waiting since {time_at(clock.since).isoformat()} ({clock.started_by}): {due}{left}"


class SequenceRule(RuleKind):
    """`first` then `then` within N messages or a time span: the newest sighting of `first` is kept."""

    spec = Sequence

    def on_message(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> None:
        spec: Sequence = rule.sequence
        slot = f"{rule.id}#first"
        raw = state.sightings.get(slot)
        if raw is not None and matches(spec.then, seen, state) and Sighting(raw).message_id != seen.message_id:
            first = Sighting(raw)
            span = spec.within.duration
            in_time = span is None or seen.at - time_at(first.at) <= span
            in_count = spec.within.messages is None or state.messages - first.number <= spec.within.messages
            if in_time and in_count:
                evidence = (CitedMessage(first.message_id, time_at(first.at), first.sender, first.snippet),
                            CitedMessage(seen.message_id, seen.at, seen.sender, snippet_of(seen)))
                self.engine.fire(key, state, rule, first.message_id, seen.at, evidence,
                                 "the second event followed the first")
        if matches(spec.first, seen, state):
            state.sightings[slot] = Sighting.new(epoch(seen.at), seen.message_id, state.messages, seen.sender,
                                                 snippet_of(seen))

    def status(self, rule: ConversationRule, state: State) -> str:
        raw = state.sightings.get(f"{rule.id}#first")
        if raw is None:
            return "first event not seen"
        first = Sighting(raw)
        return f"first event seen at {time_at(first.at).isoformat()} ({first.message_id})"


class AccumulationRule(RuleKind):
    """Findings pile up within a window: every event, or N distinct PII types."""

    spec = Accumulation

    def on_message(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> None:
        # Each event and identifier type keeps its newest sighting by message time, not by arrival: history
        # syncs and imports deliver newest first, and the window is about when things were written.
        spec: Accumulation = rule.accumulation
        added, at = False, epoch(seen.at)
        for i, event in enumerate(spec.events):
            slot = f"{rule.id}#{i}"
            if matches(event, seen, state) and (slot not in state.sightings or Sighting(state.sightings[slot]).at <= at):
                state.sightings[slot] = Sighting.new(at, seen.message_id, state.messages, seen.sender,
                                                     snippet_of(seen))
                added = True
        if spec.distinct_pii_at_least and seen.kind == "message" and seen.pii:
            kept = state.pii_seen.setdefault(rule.id, {})  # type -> [at, id, sender]
            for pii in seen.pii:
                if (not spec.pii or pii in spec.pii) and (pii not in kept or kept[pii][0] <= at):
                    kept[pii] = [at, seen.message_id, seen.sender]
                    added = True
        if not added:
            return  # nothing new: it cannot have come true with this message
        span = spec.within.duration
        events = [Sighting(raw) if (raw := state.sightings.get(f"{rule.id}#{i}")) else None
                  for i in range(len(spec.events))]
        times = [e.at for e in events if e] + [t[0] for t in state.pii_seen.get(rule.id, {}).values()]
        newest = max(times, default=at)  # the window ends at the newest thing written, not at this arrival
        horizon = newest - int(span.total_seconds()) if span else None

        def live(at: int) -> bool:
            return horizon is None or at >= horizon

        if not all(e and live(e.at) for e in events):
            return
        types = {t: seen_at for t, seen_at in state.pii_seen.get(rule.id, {}).items() if live(seen_at[0])}
        if spec.distinct_pii_at_least and len(types) < spec.distinct_pii_at_least:
            return
        found = {e.message_id: CitedMessage(e.message_id, time_at(e.at), e.sender, e.snippet) for e in events}
        for at, message_id, sender in types.values():
            found.setdefault(message_id, CitedMessage(message_id, time_at(at), sender, None))
        evidence = tuple(sorted(found.values(), key=lambda e: e.at))
        window = int(newest // span.total_seconds()) if span else 0
        why = f"{len(types)} identifier types: {', '.join(sorted(types))}" if types else "every event occurred"
        self.engine.fire(key, state, rule, f"w{window}", seen.at, evidence, why)

    def status(self, rule: ConversationRule, state: State) -> str:
        spec = rule.accumulation
        seen = [i for i in range(len(spec.events)) if f"{rule.id}#{i}" in state.sightings]
        parts = [f"events seen: {len(seen)} of {len(spec.events)}"] if spec.events else []
        if spec.distinct_pii_at_least:
            types = sorted(state.pii_seen.get(rule.id, {}))
            parts.append(f"identifier types: {len(types)} of {spec.distinct_pii_at_least} ({', '.join(types) or '-'})")
        return "; ".join(parts)


class RateRule(RuleKind):
    """More than N matching messages per day or week: per conversation here; per employee across
    conversations by `RateCounter` (the worker re-keys those messages by employee)."""

    spec = Rate

    def on_message(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> None:
        if seen.kind != "message" or not matches(rule.rate.event, seen, state):
            return
        period, crossed = count_in_period(state.counts, rule, seen.at, seen.message_id)
        if crossed:
            cited = CitedMessage(seen.message_id, seen.at, seen.sender, snippet_of(seen))
            self.engine.fire(key, state, rule, period, seen.at, (cited,),
                             f"more than {rule.rate.more_than} in {period}")

    def status(self, rule: ConversationRule, state: State) -> str:
        if rule.rate.by == "employee":
            return "counted per employee across conversations (see the fired alerts)"
        current = state.counts.get(rule.id)  # [period, short ids counted]
        return f"{current[1]} in {current[0]} (limit {rule.rate.more_than})" if current else "none counted"


KINDS: dict[type[Kind], type[RuleKind]] = {cls.spec: cls for cls in (AbsenceRule, AccumulationRule, SequenceRule,
                                                                      RateRule)}


def count_in_period(counts: dict[str, list], rule: ConversationRule, at: datetime,
                    message_id: str | None = None) -> tuple[str, bool]:
    """Count the message in the rule's current day/week (local to its time zone); True when it is the
    first beyond the limit. Counted by message id, so a replayed record (a restart, a kill -9 before the
    commit) does not count twice; up to `more_than + 1` ids are kept, all the decision needs."""
    local = at.astimezone(ZoneInfo(rule.rate.timezone))
    iso = local.isocalendar()
    period = f"{iso.year}-W{iso.week:02d}" if rule.rate.per == "week" else local.date().isoformat()
    current = counts.get(rule.id)
    ids = current[1] if current and current[0] == period else []
    if isinstance(ids, int):  # a state written before ids were kept: its count, as anonymous ids
        ids = [f"#{n}" for n in range(ids)]
    mark = short(message_id) if message_id else f"#{len(ids)}"
    if mark in ids or len(ids) > rule.rate.more_than:
        return period, False  # counted already, or past the limit (the alert is out)
    counts[rule.id] = [period, [*ids, mark]]
    return period, len(ids) + 1 == rule.rate.more_than + 1

