"""The conversation-rule state machine: per conversation, what the rules need to remember, and
when they fire. Pure (no Kafka, no clock of its own): `on_message` takes each message as the
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
import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson

from chatwatch.rules.conversation import ConversationExample, ConversationRule, Event

NAMESPACE = uuid.UUID("2f6a3c8e-0f4f-4a43-9d5e-6b1c7a9e2d10")
MAX_STATE_BYTES = 4096
WINDOW = 12  # the last messages by time: a message arriving later than these is played again among them
RECENT_IDS = 8  # short ids of the last messages: a replayed message is recognised
FLAGGED_IDS = 8  # short ids of recent messages an alerting rule fired on: deleting one is an event
FIRED_IDS = 16
ORPHANS = 4  # edits and deletes whose original has not arrived (yet): played again when it does
SNIPPET_CHARS = 80


@dataclass(frozen=True)
class Seen:
    """A message as conversation rules see it."""

    message_id: str
    at: datetime
    sender: str  # employee | customer
    rules: frozenset[str] = frozenset()  # message-level rules that fired on it (alerting or marking)
    pii: frozenset[str] = frozenset()
    employee: str | None = None
    kind: str = "message"  # message | edited | deleted
    target: str | None = None  # the message an edit or delete refers to
    flagged: bool = False  # an alerting message-level rule fired on it
    snippet: str | None = None  # the text, redacted
    numbers: tuple[str, ...] = ()  # the business number's ids (business-hours calendars)


@dataclass(frozen=True)
class CitedMessage:
    """A message that made a conversation rule fire. On the wire it becomes an `Evidence(kind="message")`
    and, with its snippet, a `ContextLine` (detectors.alerts): not the same data, so not the same name."""

    message_id: str
    at: datetime
    sender: str
    snippet: str | None


@dataclass(frozen=True)
class Fired:
    rule: ConversationRule
    alert_id: str  # deterministic: conversation + rule + window
    at: datetime
    evidence: tuple[CitedMessage, ...]  # the messages that made it, oldest first
    why: str


def seen_doc(seen: Seen) -> list:
    """An edit or delete kept in the state until its original arrives (compact JSON list)."""
    return [seen.message_id, _epoch(seen.at), seen.sender, sorted(seen.rules), sorted(seen.pii), seen.employee,
            seen.kind, seen.target, seen.flagged, _snippet(seen), list(seen.numbers)]


def window_doc(seen: Seen) -> list:
    """A message as the window keeps it: no text (a dozen snippets would triple the state), defaults left
    off the end: [id, at, c|e, numbers, employee, flagged, rules, pii, kind, target]."""
    doc = [seen.message_id, _epoch(seen.at), seen.sender[0], list(seen.numbers), seen.employee, int(seen.flagged),
           sorted(seen.rules), sorted(seen.pii), seen.kind, seen.target]
    while doc[-1] in (None, 0, [], "message"):
        doc.pop()
    return doc


_SENDERS = {"c": "customer", "e": "employee"}
_WINDOW_DEFAULTS = [None, None, None, [], None, 0, [], [], "message", None]


def seen_of_window(doc: list) -> Seen:
    d = doc + _WINDOW_DEFAULTS[len(doc):]
    return Seen(d[0], _time(d[1]), _SENDERS[d[2]], frozenset(d[6]), frozenset(d[7]), d[4], d[8], d[9], bool(d[5]),
                None, tuple(d[3]))


def _snippets(state: State) -> dict[str, str | None]:
    """The snippets a state holds (sightings, clocks, held alerts), by message id."""
    known = {g[1]: g[4] for g in state.sightings.values()}
    known.update((c[2], c[5]) for c in state.clocks.values())
    known.update((e[0], e[3]) for held in state.held for e in held[3])
    return known


def seen_of_doc(doc: list) -> Seen:
    return Seen(doc[0], _time(doc[1]), doc[2], frozenset(doc[3]), frozenset(doc[4]), doc[5], doc[6], doc[7], doc[8],
                doc[9], tuple(doc[10]))


def rate_subject(seen: Seen) -> str | None:
    """Who a per-employee rate counts: the employee, or — where the source does not say who typed it —
    the business number the message went out from, as the archive's queries do."""
    if seen.employee or seen.sender != "employee":
        return seen.employee
    return next((n for n in seen.numbers if n), None)


def short(message_id: str) -> str:
    return hashlib.blake2b(message_id.encode(), digest_size=6).hexdigest()


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _time(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True)
class Header:
    """What a conversation's state remembers for alerts raised later (by the timer, or per employee): the
    business number, the masked customer, the employee, the last message's type, whether it is history.
    None: not known yet. One-letter keys in JSON (in every state and every rate event): `doc`/`of_doc`."""

    business: str | None = None  # business phone number id
    customer: str | None = None  # masked
    message_type: str | None = None
    employee: str | None = None
    historical: bool | None = None

    def doc(self) -> dict:
        doc = {"b": self.business, "c": self.customer, "y": self.message_type, "e": self.employee,
               "h": 1 if self.historical else None}
        return {k: v for k, v in doc.items() if v is not None}

    @classmethod
    def of_doc(cls, d: dict) -> Header:
        return cls(d.get("b"), d.get("c"), d.get("y"), d.get("e"), True if d.get("h") else None)

    def updated(self, newer: Header) -> Header:
        """What `newer` knows, and what it does not say from here (an employee or `historical` stays known)."""
        return dataclasses.replace(self, **{k: v for k, v in vars(newer).items() if v is not None})


@dataclass
class State:
    """One conversation. Field names are one letter in JSON (the table holds a million of these): only `doc`,
    `of_doc` and `encode` (with the shrinking it may need) know them; the rules read the named fields."""

    started: int | None = None
    last: int | None = None
    messages: int = 0
    recent: list[str] = field(default_factory=list)  # short ids
    flagged: list[str] = field(default_factory=list)  # short ids
    clocks: dict[str, list] = field(default_factory=dict)  # absence rule -> [since, due, id, counted, met, snippet,
    # sender, later messages that met it too]
    sightings: dict[str, list] = field(default_factory=dict)  # "rule#event" -> [at, id, n, sender, snippet]
    pii_seen: dict[str, dict[str, list]] = field(default_factory=dict)  # accumulation rule -> {type: [at, id, sender]}
    counts: dict[str, list] = field(default_factory=dict)  # per-conversation rate rule -> [period, n]
    fired: list[str] = field(default_factory=list)  # alert ids (prefixes)
    header: Header = field(default_factory=Header)  # the worker's: business number, masked customer…
    orphans: list[list] = field(default_factory=list)  # [short target id, the edit/delete as `seen_doc`]

    held: list[list] = field(default_factory=list)  # fired, not out yet: [rule, alert id, at, evidence, why]
    window: list[list] = field(default_factory=list)  # the last messages as `seen_doc`, oldest first
    base: dict | None = None  # the state before window[0] (as `doc()`, no header or fired ids)

    def doc(self) -> dict:
        doc = {"s": self.started, "l": self.last, "n": self.messages, "r": self.recent, "f": self.flagged,
               "c": self.clocks, "g": self.sightings, "p": self.pii_seen, "q": self.counts, "x": self.fired,
               "h": self.header.doc()}
        if self.orphans:
            doc["o"] = self.orphans
        if self.held:
            doc["k"] = self.held
        return doc

    @classmethod
    def of_doc(cls, d: dict) -> State:
        return cls(d["s"], d["l"], d["n"], d["r"], d["f"], d["c"], d["g"], d["p"], d["q"], d.get("x", []),
                   Header.of_doc(d.get("h", {})), d.get("o", []), d.get("k", []), d.get("w", []), d.get("b"))

    def encode(self) -> bytes:
        doc = self.doc()
        if self.window:
            doc["w"], doc["b"] = self.window, self.base
        raw = _dumps(doc)
        for shrink in (self._drop_snippets, self._drop_old_sightings, self._drop_window):
            if len(raw) <= MAX_STATE_BYTES:
                break
            shrink(doc)
            raw = _dumps(doc)
        return raw

    @classmethod
    def decode(cls, raw: bytes | None) -> State:
        return cls.of_doc(orjson.loads(raw)) if raw else cls()

    def pending(self) -> bool:
        return bool(self.held) or any(c[4] is None for c in self.clocks.values())

    @staticmethod
    def _drop_snippets(doc: dict) -> None:
        for clock in doc["c"].values():
            clock[5] = None
        for fired in doc.get("k", ()):
            for evidence in fired[3]:
                evidence[3] = None
        for sighting in doc["g"].values():
            sighting[4] = None
        for orphan in doc.get("o", ()):
            orphan[1][9] = None

    @staticmethod
    def _drop_old_sightings(doc: dict) -> None:
        """Keep the newest half of the sightings and PII times: bounded beats complete."""
        newest = sorted(doc["g"].items(), key=lambda kv: kv[1][0], reverse=True)
        doc["g"] = dict(newest[: max(1, len(newest) // 2)])
        for rule, types in doc["p"].items():
            doc["p"][rule] = dict(sorted(types.items(), key=lambda kv: kv[1][0], reverse=True)[:4])
        doc["f"] = doc["f"][-2:]
        doc["r"] = doc["r"][-4:]
        if doc.get("o"):
            doc["o"] = doc["o"][-1:]

    @staticmethod
    def _drop_window(doc: dict) -> None:
        """Last resort for an oversized state: forget the window (late messages are then played where they
        arrive, as they were before windows existed)."""
        doc.pop("w", None)
        doc.pop("b", None)


def _dumps(doc: dict) -> bytes:
    # orjson's output keeps its buffer's spare capacity (~8 KiB resident for a 2 KiB state, measured):
    # the table holds a million of these, so a right-sized copy
    return bytes(memoryview(orjson.dumps(doc)))


def matches(event: Event, seen: Seen, state: State | None = None) -> bool:
    if event.deletes_flagged and not (seen.kind == "deleted" and state is not None and seen.target is not None
                                      and short(seen.target) in state.flagged):
        return False
    if not event.deletes_flagged and seen.kind == "deleted":
        return False  # a delete is not the message it deletes
    if event.sender is not None and seen.sender != event.sender:
        return False
    if event.rule is not None and event.rule not in seen.rules:
        return False
    return not event.pii or bool(seen.pii & set(event.pii))


def _snippet(seen: Seen) -> str | None:
    return seen.snippet[:SNIPPET_CHARS] if seen.snippet else None


class ConversationEngine:
    def __init__(self, rules: Iterable[ConversationRule], lateness_s: float = 0.0):
        self.rules = [r for r in rules if r.enabled]
        self.lateness = timedelta(seconds=lateness_s)
        self.employee_rates = [r for r in self.rules if r.rate is not None and r.rate.by == "employee"]
        self.absences = {r.id for r in self.rules if r.absence is not None}
        self._steps = [(r, getattr(self, f"_{r.kind}")) for r in self.rules if not (r.rate and r.rate.by == "employee")]
        self._spans = {r.id: getattr(r, r.kind).within.duration for r in self.rules if r.rate is None}
        self.replays = self.beyond_window = 0  # late messages played again in place / too late for the window

    def on_message(self, key: str, state: State, seen: Seen) -> list[Fired]:
        """Update `state` with a message; what fires now. A message older than ones already played is put
        in its place among the window's messages, which are played again (`_replay`)."""
        if short(seen.message_id) in state.recent or any(w[0] == seen.message_id for w in state.window):
            return []  # replayed after a restart: already counted
        at = _epoch(seen.at)
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
        known = _snippets(state)  # the window keeps no text: what the state remembers, by message id
        known[seen.message_id] = _snippet(seen)
        base = orjson.loads(orjson.dumps(state.base)) if state.base else None  # a copy: `base` stays as it is
        rebuilt = State.of_doc(base) if base else State()
        rebuilt.fired, rebuilt.held, rebuilt.header = list(state.fired), [], state.header
        for doc in window:
            self._apply(key, rebuilt, dataclasses.replace(seen_of_window(doc), snippet=known.get(doc[0])))
        rebuilt.recent = [*state.recent, short(seen.message_id)][-RECENT_IDS:]
        rebuilt.last = max(state.last or 0, _epoch(seen.at))
        rebuilt.window, rebuilt.base = window, state.base
        if len(rebuilt.window) > WINDOW:
            self._fold(key, rebuilt)
        state.__dict__.update(rebuilt.__dict__)

    def _apply(self, key: str, state: State, seen: Seen) -> None:
        """One message, played in order; what fires is held. A message later than a clock's deadline first
        lets that clock fire (the timer may not have run yet)."""
        self._clocks(key, state, seen.at)
        if seen.kind != "message" and seen.target and short(seen.target) not in state.recent:
            # Its original may not have arrived yet (out of order): kept, and played again after it. It is
            # also played now: the original may be older than the ids this state remembers.
            state.orphans = [*state.orphans, [short(seen.target), seen_doc(seen)]][-ORPHANS:]
        state.recent = [*state.recent, short(seen.message_id)][-RECENT_IDS:]
        state.last = max(state.last or 0, _epoch(seen.at))
        if seen.kind == "message":
            state.started = state.started or _epoch(seen.at)
            state.messages += 1
            if seen.flagged:
                state.flagged = [*state.flagged, short(seen.message_id)][-FLAGGED_IDS:]
        for rule, step in self._steps:  # per-employee rates are counted across conversations (`RateCounter`)
            step(key, state, rule, seen)
        if seen.kind == "message" and state.orphans:
            mine = short(seen.message_id)
            waiting = [seen_of_doc(doc) for target, doc in state.orphans if target == mine]
            state.orphans = [o for o in state.orphans if o[0] != mine]
            for late in waiting:  # the edit or delete that came first, now that its original is here
                for rule, step in self._steps:
                    step(key, state, rule, late)

    def on_time(self, key: str, state: State, now: datetime) -> list[Fired]:
        """Absences whose deadline passed with nothing expected arriving, and what was held until `now`
        (the timer's time already allows for lateness): what goes out now."""
        self._clocks(key, state, now)
        return self._release(state, now)

    def _clocks(self, key: str, state: State, now: datetime) -> list[Fired]:
        if not state.clocks:
            return []
        for gone in [r for r in state.clocks if r not in self.absences]:
            del state.clocks[gone]  # its rule was removed by a reload
        out = []
        for rule in self.rules:
            clock = state.clocks.get(rule.id)
            if rule.absence is None or clock is None or clock[4] is not None or clock[1] is None:
                continue
            if _epoch(now) > clock[1]:  # a reply at the deadline itself is in time
                del state.clocks[rule.id]
                evidence = (CitedMessage(clock[2], _time(clock[0]), clock[6], clock[5]),)
                out.extend(self._fire(key, state, rule, clock[2], _time(clock[1]), evidence,
                                      f"nothing expected by {_time(clock[1]).isoformat()}"))
        return out

    def _release(self, state: State, now: datetime) -> list[Fired]:
        """Held alerts written before `now`: no late message can change them any more."""
        if not state.held:
            return []
        by_id = {r.id: r for r in self.rules}
        out, kept = [], []
        for held in state.held:
            rule_id, alert_id, at, evidence, why = held
            if at >= _epoch(now) and self.lateness:
                kept.append(held)
            elif rule_id in by_id:  # else its rule was removed by a reload
                state.fired = [*state.fired, alert_id[:13]][-FIRED_IDS:]
                out.append(Fired(by_id[rule_id], alert_id, _time(at),
                                 tuple(CitedMessage(i, _time(t), who, text) for i, t, who, text in evidence), why))
        state.held = kept
        return out

    def rate_events(self, seen: Seen) -> list[ConversationRule]:
        """The per-employee rate rules this message counts for (the worker sends them on, keyed by
        `rate_subject`)."""
        if seen.kind != "message" or not rate_subject(seen):
            return []
        return [r for r in self.employee_rates if matches(r.rate.event, seen)]

    # --- kinds ---------------------------------------------------------------------------------

    def _absence(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> list[Fired]:
        spec = rule.absence
        clock = state.clocks.get(rule.id)
        if seen.kind != "message":
            gone = seen.target is not None and (seen.kind == "deleted" or not matches(spec.expect, seen))
            if clock is None or clock[4] is None or not gone:
                return []
            also = clock[7] if len(clock) > 7 else []  # later messages that met it too
            if short(seen.target) in also:
                also.remove(short(seen.target))
            elif clock[4] == short(seen.target):
                if also:
                    clock[4] = also.pop(0)  # a later reply or notice still stands
                    return []
                clock[4] = None  # what was expected was deleted or edited away: the clock runs again
                return self._clocks(key, state, seen.at)
            return []
        if clock is not None and clock[4] is None and matches(spec.expect, seen):
            clock[4] = short(seen.message_id)  # came in time; kept, met, in case it is deleted
            return []
        if clock is not None and clock[4] is not None and matches(spec.expect, seen):
            also = clock[7] if len(clock) > 7 else []
            clock[7:] = [[*also, short(seen.message_id)][-3:]]  # met again: stands if the first is deleted
        counts = spec.within.messages and spec.expect.sender in (None, seen.sender)  # the sender's, or all
        if clock is not None and clock[4] is None and counts:
            clock[3] += 1
            if clock[3] >= spec.within.messages:  # the first N such messages went by without it
                del state.clocks[rule.id]
                evidence = (CitedMessage(clock[2], _time(clock[0]), clock[6], clock[5]),
                            CitedMessage(seen.message_id, seen.at, seen.sender, _snippet(seen)))
                return self._fire(key, state, rule, clock[2], seen.at, evidence,
                                  f"{spec.within.messages} messages went by without it")
        at_start = spec.after == "conversation_start"
        starts = (at_start and state.messages == 1) or (not at_start and matches(spec.after, seen))
        if starts and (clock is None or clock[4] is not None) and not (at_start and matches(spec.expect, seen)):
            state.clocks[rule.id] = [_epoch(seen.at), self._due(spec, seen), seen.message_id, 1 if counts else 0,
                                     None, _snippet(seen), seen.sender]
        return []

    @staticmethod
    def _due(spec, seen: Seen) -> int | None:
        span = spec.within.duration
        if span is None:
            return None
        hours = spec.hours_for(seen.numbers)
        return _epoch(hours.add(seen.at, span) if hours else seen.at + span)

    def _sequence(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> list[Fired]:
        spec = rule.sequence
        slot = f"{rule.id}#first"
        out = []
        first = state.sightings.get(slot)
        if first is not None and matches(spec.then, seen, state) and first[1] != seen.message_id:
            span = self._spans[rule.id]
            in_time = span is None or seen.at - _time(first[0]) <= span
            in_count = spec.within.messages is None or state.messages - first[2] <= spec.within.messages
            if in_time and in_count:
                evidence = (CitedMessage(first[1], _time(first[0]), first[3], first[4]),
                            CitedMessage(seen.message_id, seen.at, seen.sender, _snippet(seen)))
                out = self._fire(key, state, rule, first[1], seen.at, evidence, "the second event followed the first")
        if matches(spec.first, seen, state):
            state.sightings[slot] = [_epoch(seen.at), seen.message_id, state.messages, seen.sender, _snippet(seen)]
        return out

    def _accumulation(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> list[Fired]:
        # Each event and identifier type keeps its newest sighting by message time, not by arrival: history
        # syncs and imports deliver newest first, and the window is about when things were written.
        spec, added, at = rule.accumulation, False, _epoch(seen.at)
        for i, event in enumerate(spec.events):
            slot = f"{rule.id}#{i}"
            if matches(event, seen, state) and (slot not in state.sightings or state.sightings[slot][0] <= at):
                state.sightings[slot] = [at, seen.message_id, state.messages, seen.sender, _snippet(seen)]
                added = True
        if spec.distinct_pii_at_least and seen.kind == "message" and seen.pii:
            kept = state.pii_seen.setdefault(rule.id, {})
            for pii in seen.pii:
                if (not spec.pii or pii in spec.pii) and (pii not in kept or kept[pii][0] <= at):
                    kept[pii] = [at, seen.message_id, seen.sender]
                    added = True
        if not added:
            return []  # nothing new: it cannot have come true with this message
        span = self._spans[rule.id]
        times = [e[0] for e in (state.sightings.get(f"{rule.id}#{i}") for i in range(len(spec.events))) if e]
        times += [t[0] for t in state.pii_seen.get(rule.id, {}).values()]
        newest = max(times, default=at)  # the window ends at the newest thing written, not at this arrival
        horizon = newest - int(span.total_seconds()) if span else None

        def live(at: int) -> bool:
            return horizon is None or at >= horizon

        events = [state.sightings.get(f"{rule.id}#{i}") for i in range(len(spec.events))]
        if not all(e and live(e[0]) for e in events):
            return []
        types = {t: seen_at for t, seen_at in state.pii_seen.get(rule.id, {}).items() if live(seen_at[0])}
        if spec.distinct_pii_at_least and len(types) < spec.distinct_pii_at_least:
            return []
        found = {e[1]: CitedMessage(e[1], _time(e[0]), e[3], e[4]) for e in events}
        for at, message_id, sender in types.values():
            found.setdefault(message_id, CitedMessage(message_id, _time(at), sender, None))
        evidence = tuple(sorted(found.values(), key=lambda e: e.at))
        window = int(newest // span.total_seconds()) if span else 0
        why = f"{len(types)} identifier types: {', '.join(sorted(types))}" if types else "every event occurred"
        return self._fire(key, state, rule, f"w{window}", seen.at, evidence, why)

    def _rate(self, key: str, state: State, rule: ConversationRule, seen: Seen) -> list[Fired]:
        if seen.kind != "message" or not matches(rule.rate.event, seen, state):
            return []
        period, crossed = count_in_period(state.counts, rule, seen.at, seen.message_id)
        if not crossed:
            return []
        cited = CitedMessage(seen.message_id, seen.at, seen.sender, _snippet(seen))
        return self._fire(key, state, rule, period, seen.at, (cited,), f"more than {rule.rate.more_than} in {period}")

    def _fire(self, key: str, state: State, rule: ConversationRule, window: str, at: datetime,
              evidence: tuple[CitedMessage, ...], why: str) -> list[Fired]:
        alert_id = conversation_alert_id(key, rule.id, window)
        if alert_id[:13] in state.fired or any(h[1] == alert_id for h in state.held):
            return []
        state.held.append([rule.id, alert_id, _epoch(at), [[e.message_id, _epoch(e.at), e.sender, e.snippet]
                                                            for e in evidence], why])
        return []


def conversation_alert_id(key: str, rule_id: str, window: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{key}\x1f{rule_id}\x1f{window}"))


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
        return Fired(rule, alert_id, seen.at, (CitedMessage(seen.message_id, seen.at, seen.sender, _snippet(seen)),),
                     f"{employee}: more than {rule.rate.more_than} in {period}")


def next_deadline(state: State) -> int | None:
    """When `on_time` could next fire for this conversation (epoch seconds; for the timer's index)."""
    dues = [c[1] for c in state.clocks.values() if c[4] is None and c[1] is not None]
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
    if rule.absence is not None:
        clock = state.clocks.get(rule.id)
        if clock is None:
            return "no clock running: nothing started it, or it fired"
        if clock[4] is not None:
            return f"met: the expected message came (started by {clock[2]})"
        due = f"due {_time(clock[1]).isoformat()}" if clock[1] else "no time limit"
        left = f", {rule.absence.within.messages - clock[3]} counted message(s) left" if rule.absence.within.messages \
            else ""
        return f"waiting since {_time(clock[0]).isoformat()} ({clock[2]}): {due}{left}"
    if rule.sequence is not None:
        first = state.sightings.get(f"{rule.id}#first")
        return f"first event seen at {_time(first[0]).isoformat()} ({first[1]})" if first else "first event not seen"
    if rule.accumulation is not None:
        spec = rule.accumulation
        seen = [i for i in range(len(spec.events)) if f"{rule.id}#{i}" in state.sightings]
        parts = [f"events seen: {len(seen)} of {len(spec.events)}"] if spec.events else []
        if spec.distinct_pii_at_least:
            types = sorted(state.pii_seen.get(rule.id, {}))
            parts.append(f"identifier types: {len(types)} of {spec.distinct_pii_at_least} ({', '.join(types) or '-'})")
        return "; ".join(parts)
    current = state.counts.get(rule.id)
    if rule.rate.by == "employee":
        return "counted per employee across conversations (see the fired alerts)"
    return f"{current[1]} in {current[0]} (limit {rule.rate.more_than})" if current else "none counted"
