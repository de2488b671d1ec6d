"""A conversation's rule state: what the rules remember between messages, and its compact encoding.

A million conversations sit in the worker's table, so the state is a small JSON document with
one-letter keys and positional lists. Only this module knows that layout: `State.doc`/`of_doc`/
`encode` the document, and the views (`Clock`, `Sighting`, `Held`) name the positions of the lists
the rule kinds keep in it (detectors/conversation_kinds.py), so the rules read `clock.due`, not
`clock[1]`. The format is what changelogs already hold: changing it means a migration.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from chatwatch.rules.conversation import ConversationRule, Event

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
    return [seen.message_id, epoch(seen.at), seen.sender, sorted(seen.rules), sorted(seen.pii), seen.employee,
            seen.kind, seen.target, seen.flagged, snippet_of(seen), list(seen.numbers)]


def window_doc(seen: Seen) -> list:
    """A message as the window keeps it: no text (a dozen snippets would triple the state), defaults left
    off the end: [id, at, c|e, numbers, employee, flagged, rules, pii, kind, target]."""
    doc = [seen.message_id, epoch(seen.at), seen.sender[0], list(seen.numbers), seen.employee, int(seen.flagged),
           sorted(seen.rules), sorted(seen.pii), seen.kind, seen.target]
    while doc[-1] in (None, 0, [], "message"):
        doc.pop()
    return doc


_SENDERS = {"c": "customer", "e": "employee"}
_WINDOW_DEFAULTS = [None, None, None, [], None, 0, [], [], "message", None]


def seen_of_window(doc: list) -> Seen:
    d = doc + _WINDOW_DEFAULTS[len(doc):]
    return Seen(d[0], time_at(d[1]), _SENDERS[d[2]], frozenset(d[6]), frozenset(d[7]), d[4], d[8], d[9], bool(d[5]),
                None, tuple(d[3]))


def snippets_in(state: State) -> dict[str, str | None]:
    """The snippets a state holds (sightings, clocks, held alerts), by message id."""
    known = {g.message_id: g.snippet for g in map(Sighting, state.sightings.values())}
    known.update((c.started_by, c.snippet) for c in map(Clock, state.clocks.values()))
    known.update((e[0], e[3]) for held in state.held for e in Held(held).evidence)
    return known


def seen_of_doc(doc: list) -> Seen:
    return Seen(doc[0], time_at(doc[1]), doc[2], frozenset(doc[3]), frozenset(doc[4]), doc[5], doc[6], doc[7], doc[8],
                doc[9], tuple(doc[10]))


def rate_subject(seen: Seen) -> str | None:
    """Who a per-employee rate counts: the employee, or — where the source does not say who typed it —
    the business number the message went out from, as the archive's queries do."""
    if seen.employee or seen.sender != "employee":
        return seen.employee
    return next((n for n in seen.numbers if n), None)


def short(message_id: str) -> str:
    return hashlib.blake2b(message_id.encode(), digest_size=6).hexdigest()


def epoch(at: datetime) -> int:
    return int(at.timestamp())


def time_at(epoch: int) -> datetime:
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
        return bool(self.held) or any(Clock(c).running for c in self.clocks.values())

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


def snippet_of(seen: Seen) -> str | None:
    return seen.snippet[:SNIPPET_CHARS] if seen.snippet else None


class _View:
    """Names for the positions of a list kept in the state (the list itself is what is stored)."""

    __slots__ = ("raw",)

    def __init__(self, raw: list):
        self.raw = raw


def _slot(index: int, default: object = None) -> property:
    def get(self: _View) -> object:
        return self.raw[index] if len(self.raw) > index else default

    def set_(self: _View, value: object) -> None:
        self.raw[index] = value

    return property(get, set_)


class Clock(_View):
    """An absence rule's running clock: [since, due, started_by, counted, met, snippet, sender, also]."""

    since = _slot(0)  # epoch seconds of the message that started it
    due = _slot(1)  # epoch seconds, None: counted in messages only
    started_by = _slot(2)  # that message's id
    counted = _slot(3)  # messages counted against `within.messages`
    met = _slot(4)  # short id of the message that met it; None while it runs
    snippet = _slot(5)
    sender = _slot(6)

    @staticmethod
    def new(since: int, due: int | None, started_by: str, counted: int, snippet: str | None, sender: str) -> list:
        return [since, due, started_by, counted, None, snippet, sender]

    @property
    def running(self) -> bool:
        return self.met is None

    @property
    def also(self) -> list[str]:
        """Short ids of later messages that met it too (one stands if the first is deleted)."""
        return self.raw[7] if len(self.raw) > 7 else []

    @also.setter
    def also(self, ids: list[str]) -> None:
        self.raw[7:] = [ids]


class Sighting(_View):
    """The newest message that matched a sequence's or accumulation's event: [at, id, n, sender, snippet]."""

    at = _slot(0)
    message_id = _slot(1)
    number = _slot(2)  # the conversation's message count then
    sender = _slot(3)
    snippet = _slot(4)

    @staticmethod
    def new(at: int, message_id: str, number: int, sender: str, snippet: str | None) -> list:
        return [at, message_id, number, sender, snippet]


class Held(_View):
    """An alert fired and not out yet: [rule id, alert id, at, evidence [[id, at, sender, snippet]…], why]."""

    rule_id = _slot(0)
    alert_id = _slot(1)
    at = _slot(2)
    evidence = _slot(3)
    why = _slot(4)
