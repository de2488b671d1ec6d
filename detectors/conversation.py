"""The conversation-rule engine: per conversation, it plays each message through the rule kinds
(conversation_kinds.py) on the state they keep (conversation_state.py), and says what fires. Pure (no Kafka, no clock of its own): `on_message` takes each message as the
message-level scan saw it, `on_time` is called by a timer, so an absence fires on silence.

State is a compact JSON document per conversation (what the worker's table holds), bounded to
`MAX_STATE_BYTES`: times as epoch seconds, message ids of the recent past as short hashes, one
clock per absence rule, the last sighting per sequence/accumulation event, and the ids of what
already fired. Replaying a message (after a crash) changes nothing: its short id is remembered.

Order: the state keeps the conversation's last `WINDOW` messages by message time and the state as it
was before them (`base`). A message older than ones already played (a webhook retried late, a history
sync, a chat import, a backlog from two sources) is put in its place and the window is played again
from `base`: the rules see the conversation in the order it was written. What fires is held (`held`)
for `lateness_s` of message time before it goes out: a late message played again in its place can
still change it (the reply that met the deadline after all, the complaint that came right before the
invitation), so what goes out is what the in-order conversation raises. Alerts released are never
raised twice (their ids are remembered).
"""

from __future__ import annotations

import bisect
import dataclasses
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from chatwatch.detectors.conversation_kinds import KINDS, count_in_period
from chatwatch.detectors.conversation_state import (  # the state's names, re-exported for the worker and tests
    FIRED_IDS,
    FLAGGED_IDS,
    MAX_STATE_BYTES,
    ORPHANS,
    RECENT_IDS,
    WINDOW,
    CitedMessage,
    Clock,
    Fired,
    Header,
    Seen,
    State,
    epoch,
    matches,
    rate_subject,
    seen_doc,
    seen_of_doc,
    seen_of_window,
    short,
    snippet_of,
    snippets_in,
    time_at,
    window_doc,
)
from chatwatch.rules.conversation import ConversationExample, ConversationRule

NAMESPACE = uuid.UUID("2f6a3c8e-0f4f-4a43-9d5e-6b1c7a9e2d10")
__all__ = ["MAX_STATE_BYTES", "WINDOW", "CitedMessage", "ConversationEngine", "Fired", "Header", "Played",
           "RateCounter", "Seen", "State", "conversation_alert_id", "count_in_period", "next_deadline", "play",
           "play_example", "rate_subject", "seen_doc", "status"]


class ConversationEngine:
    def __init__(self, rules: Iterable[ConversationRule], lateness_s: float = 0.0):
        self.rules = [r for r in rules if r.enabled]
        self.lateness = timedelta(seconds=lateness_s)
        self.employee_rates = [r for r in self.rules if r.rate is not None and r.rate.by == "employee"]
        players = {spec: kind(self) for spec, kind in KINDS.items()}  # dispatch by the spec's type
        # per-employee rates are counted across conversations (`RateCounter`), not here
        self._steps = [(r, players[type(r.spec)]) for r in self.rules if r not in self.employee_rates]
        self._timed = [(r, kind) for r, kind in self._steps if kind.timed]
        self._timed_ids = {r.id for r, _ in self._timed}
        self.replays = self.beyond_window = 0  # late messages played again in place / too late for the window

    def on_message(self, key: str, state: State, seen: Seen) -> list[Fired]:
        """Update `state` with a message; what fires now. A message older than ones already played is put
        in its place among the window's messages, which are played again (`_replay`)."""
        if short(seen.message_id) in state.recent or any(w[0] == seen.message_id for w in state.window):
            return []  # replayed after a restart: already counted
        at = epoch(seen.at)
        place = bisect.bisect_right([w[1] for w in state.window], at)
        if place < len(state.window) and (place > 0 or len(state.window) < WINDOW):
            self._replay(key, state, seen, place)
        else:
            if place < len(state.window):
                self.beyond_window += 1  # older than the whole window: played where it arrives
            self._apply(key, state, seen)
            state.window.insert(place, window_doc(seen))
            if len(state.window) > WINDOW:
                self._fold(key, state)
        return self._release(state, seen.at - self.lateness)

    def _fold(self, key: str, state: State) -> None:
        """The window's oldest message leaves it: `base` moves past it (what fires there was raised when
        the message was first played)."""
        base = State.of_doc(state.base) if state.base else State()
        self._apply(key, base, seen_of_window(state.window.pop(0)))
        base.fired, base.held, base.header = [], [], Header()
        state.base = base.doc()

    def _replay(self, key: str, state: State, seen: Seen, place: int) -> None:
        """Play the window again from `base` with `seen` in its place: what is held is decided again,
        alerts already out stay out (their ids are remembered)."""
        self.replays += 1
        window = [*state.window[:place], window_doc(seen), *state.window[place:]]
        known = snippets_in(state)  # the window keeps no text: what the state remembers, by message id
        known[seen.message_id] = snippet_of(seen)
        base = orjson.loads(orjson.dumps(state.base)) if state.base else None  # a copy: `base` stays as it is
        rebuilt = State.of_doc(base) if base else State()
        rebuilt.fired, rebuilt.held, rebuilt.header = list(state.fired), [], state.header
        for doc in window:
            self._apply(key, rebuilt, dataclasses.replace(seen_of_window(doc), snippet=known.get(doc[0])))
        rebuilt.recent = [*state.recent, short(seen.message_id)][-RECENT_IDS:]
        rebuilt.last = max(state.last or 0, epoch(seen.at))
        rebuilt.window, rebuilt.base = window, state.base
        if len(rebuilt.window) > WINDOW:
            self._fold(key, rebuilt)
        state.__dict__.update(rebuilt.__dict__)

    def _apply(self, key: str, state: State, seen: Seen) -> None:
        """One message, played in order; what fires is held. A message later than a clock's deadline first
        lets that clock fire (the timer may not have run yet)."""
        self.tick(key, state, seen.at)
        if seen.kind != "message" and seen.target and short(seen.target) not in state.recent:
            # Its original may not have arrived yet (out of order): kept, and played again after it. It is
            # also played now: the original may be older than the ids this state remembers.
            state.orphans = [*state.orphans, [short(seen.target), seen_doc(seen)]][-ORPHANS:]
        state.recent = [*state.recent, short(seen.message_id)][-RECENT_IDS:]
        state.last = max(state.last or 0, epoch(seen.at))
        if seen.kind == "message":
            state.started = state.started or epoch(seen.at)
            state.messages += 1
            if seen.flagged:
                state.flagged = [*state.flagged, short(seen.message_id)][-FLAGGED_IDS:]
        for rule, kind in self._steps:
            kind.on_message(key, state, rule, seen)
        if seen.kind == "message" and state.orphans:
            mine = short(seen.message_id)
            waiting = [seen_of_doc(doc) for target, doc in state.orphans if target == mine]
            state.orphans = [o for o in state.orphans if o[0] != mine]
            for late in waiting:  # the edit or delete that came first, now that its original is here
                for rule, kind in self._steps:
                    kind.on_message(key, state, rule, late)

    def on_time(self, key: str, state: State, now: datetime) -> list[Fired]:
        """Absences whose deadline passed with nothing expected arriving, and what was held until `now`
        (the timer's time already allows for lateness): what goes out now."""
        self.tick(key, state, now)
        return self._release(state, now)

    def tick(self, key: str, state: State, now: datetime) -> None:
        """The time is `now`: the timed kinds' deadlines that passed fire (held like any alert)."""
        if not state.clocks:
            return
        for gone in [r for r in state.clocks if r not in self._timed_ids]:
            del state.clocks[gone]  # its rule was removed by a reload
        for rule, kind in self._timed:
            kind.on_time(key, state, rule, now)

    def _release(self, state: State, now: datetime) -> list[Fired]:
        """Held alerts written before `now`: no late message can change them any more."""
        if not state.held:
            return []
        by_id = {r.id: r for r in self.rules}
        out, kept = [], []
        for held in state.held:
            rule_id, alert_id, at, evidence, why = held  # a `Held`
            if at >= epoch(now) and self.lateness:
                kept.append(held)
            elif rule_id in by_id:  # else its rule was removed by a reload
                state.fired = [*state.fired, alert_id[:13]][-FIRED_IDS:]
                out.append(Fired(by_id[rule_id], alert_id, time_at(at),
                                 tuple(CitedMessage(i, time_at(t), who, text) for i, t, who, text in evidence), why))
        state.held = kept
        return out

    def rate_events(self, seen: Seen) -> list[ConversationRule]:
        """The per-employee rate rules this message counts for (the worker sends them on, keyed by
        `rate_subject`)."""
        if seen.kind != "message" or not rate_subject(seen):
            return []
        return [r for r in self.employee_rates if matches(r.rate.event, seen)]

    def fire(self, key: str, state: State, rule: ConversationRule, window: str, at: datetime,
             evidence: tuple[CitedMessage, ...], why: str) -> None:
        """A kind's rule came true at `at`: held (once per window) until `_release` lets it out."""
        alert_id = conversation_alert_id(key, rule.id, window)
        if alert_id[:13] in state.fired or any(h[1] == alert_id for h in state.held):
            return
        state.held.append([rule.id, alert_id, epoch(at), [[e.message_id, epoch(e.at), e.sender, e.snippet]
                                                          for e in evidence], why])


def conversation_alert_id(key: str, rule_id: str, window: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{key}\x1f{rule_id}\x1f{window}"))


class RateCounter:
    """Per-employee rates across conversations. The worker keys this state by employee (a topic of its
    own re-partitions the counted messages), so one owner counts each employee."""

    @staticmethod
    def on_event(employee: str, counts: dict[str, list], fired: list[str], rule: ConversationRule,
                 seen: Seen) -> Fired | None:
        period, crossed = count_in_period(counts, rule, seen.at, seen.message_id)
        if not crossed:
            return None
        alert_id = conversation_alert_id(f"employee:{employee}", rule.id, period)
        if alert_id[:13] in fired:
            return None
        fired.append(alert_id[:13])
        del fired[:-FIRED_IDS]
        return Fired(rule, alert_id, seen.at, (CitedMessage(seen.message_id, seen.at, seen.sender, snippet_of(seen)),),
                     f"{employee}: more than {rule.rate.more_than} in {period}")


def next_deadline(state: State) -> int | None:
    """When `on_time` could next fire for this conversation (epoch seconds; for the timer's index)."""
    dues = [c.due for c in map(Clock, state.clocks.values()) if c.running and c.due is not None]
    dues += [held[2] for held in state.held]
    return min(dues) if dues else None


# --- examples: scripted conversations played with a fake clock -----------------------------------

EXAMPLE_DAY = datetime(2026, 11, 18, tzinfo=UTC)  # a Wednesday


def example_time(at: str) -> datetime:
    """'09:00' on the example day, '+1 09:00' a day later (UTC)."""
    days, _, clock = at.strip().rpartition(" ")
    hours, minutes = (int(x) for x in clock.split(":"))
    return EXAMPLE_DAY + timedelta(days=int(days.lstrip("+") or 0), hours=hours, minutes=minutes)


@dataclass(frozen=True)
class Played:
    """One line of a script as the rules saw it, and what fired then (`line`/`seen` None: the clock ran on
    past the last line)."""

    line: ConversationExample | None
    seen: Seen | None
    at: datetime
    fired: list[Fired]


def play(engine: ConversationEngine, lines: list[ConversationExample],
         message_level: Callable[[ConversationExample, datetime], tuple[frozenset[str], frozenset[str], bool]],
         until: str | None = None, number: str | None = None) -> tuple[list[Played], State]:
    """Each line through the message level (`message_level` gives the rules that fire on it, its PII types
    and whether an alerting rule fired, as the scan agent would) and then the conversation rules; the
    clock runs on to `until`, or an hour past the last line, so absences fire on silence. Per-employee
    rates are counted as the worker counts them (one employee's lines together)."""
    state, steps, last = State(), [], EXAMPLE_DAY
    rates: dict[str, tuple[dict, list]] = {}
    for n, line in enumerate(lines):
        at = example_time(line.at)
        rules, pii, flagged = message_level(line, at)
        target = line.deletes or line.edits
        seen = Seen(f"example-{n + 1}", at, line.sender, rules | frozenset(line.rules), pii | frozenset(line.pii),
                    line.employee or ("employee" if line.sender == "employee" else None),
                    "deleted" if line.deletes else "edited" if line.edits else "message",
                    f"example-{target}" if target else None, flagged, line.text or None,
                    (number,) if number else ())
        fired = engine.on_message("example", state, seen)
        for rule in engine.rate_events(seen):
            who = rate_subject(seen)
            counts, ids = rates.setdefault(who, ({}, []))
            fired += [f for f in [RateCounter.on_event(who, counts, ids, rule, seen)] if f]
        steps.append(Played(line, seen, at, fired))
        last = at
    end = example_time(until) if until else last + timedelta(hours=1)
    steps.append(Played(None, None, end, engine.on_time("example", state, end)))
    return steps, state


def play_example(engine: ConversationEngine, lines: list[ConversationExample],
                 message_level: Callable[[ConversationExample, datetime], tuple[frozenset[str], frozenset[str], bool]],
                 until: str | None = None) -> tuple[list[Fired], State]:
    """`play`, keeping only what fired."""
    steps, state = play(engine, lines, message_level, until)
    return [f for step in steps for f in step.fired], state


def status(rule: ConversationRule, state: State) -> str:
    """Where a conversation stands for one rule, in words (`chatwatch rules explain --conversation`)."""
    return KINDS[type(rule.spec)]().status(rule, state)
