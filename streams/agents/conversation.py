"""conversation: scan records -> conversation rules (absence, accumulation, sequence, rate) -> alerts.

A conversation's rule state lives in a Faust table keyed by conversation key, with a changelog, so
a restart or a rebalance restores it; the scans topic is keyed the same way, so the worker that owns
a conversation's messages owns its state. Per batch the states are read, the rules run, the alerts
are sent and acknowledged, and only then are the new states written: a crash in between replays the
batch, which raises the same alert ids again (deduplicated downstream) instead of losing one.

A timer fires absences when no further message comes; its index of deadlines is rebuilt by a sweep
of the table whenever this worker's partitions change (and hourly), which also drops states idle for
longer than `conversation_idle_days`. Per-employee rates are counted across conversations: the
counted messages are re-keyed by employee onto the rates topic, whose own agent and table count them.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

from chatwatch.detectors.alerts import conversation_alert
from chatwatch.detectors.conversation import (
    ConversationEngine,
    Header,
    RateCounter,
    Seen,
    State,
    next_deadline,
    rate_subject,
)
from chatwatch.detectors.redaction import mask_phone
from chatwatch.records import SnippetMode
from chatwatch.rules import Pack, RuleSet
from chatwatch.settings import Settings
from chatwatch.streams import metrics
from chatwatch.streams.agents.outputs import Delivery, Output, acked_when_done, bytes_topic, dead_letter_output
from chatwatch.streams.agents.role import Role, WorkerContext
from chatwatch.streams.agents.state_table import StateTable
from chatwatch.streams.agents.upstream import KafkaOffsets, Stage, UpstreamProbe
from chatwatch.streams.deadletter import Reason
from chatwatch.streams.topics import TopicNames

log = logging.getLogger(__name__)
STAGE = "conversation"
SWEEP_EVERY_S = 3600.0


class Rules:
    """The running rule set's conversation rules, rebuilt when the set is swapped by a reload."""

    def __init__(self, current: Callable[[], RuleSet], lateness_s: float = 0.0):
        self._current, self._for, self._lateness = current, None, lateness_s
        self._engine, self._packs = ConversationEngine([]), {}

    def get(self) -> tuple[ConversationEngine, dict[str, Pack]]:
        ruleset = self._current()
        if ruleset is not self._for:
            self._for = ruleset
            pairs = ruleset.conversation_rules()
            self._engine = ConversationEngine((r for _, r in pairs), self._lateness)
            self._packs = {r.id: p for p, r in pairs}
        return self._engine, self._packs


def seen_of(record: dict, keep_text: bool = True) -> tuple[str, Seen, Header]:
    """A ScanRecord (as JSON) -> the conversation key, the message as the rules see it, and the header
    the state keeps for alerts raised later by the timer. Read as plain JSON, not `ScanRecord`: the scan
    agent wrote and validated it, and a second full validation per message would double this step."""
    m = record["message"]
    kind = m["type"] if m["type"] in ("edited", "deleted", "system") else "message"
    # never raw text into alerts, and no text at all when alerts carry none (ALERT_SNIPPET=none)
    text = m.get("text") if keep_text and record.get("text_mode") == "redacted" else None
    seen = Seen(m["message_id"], datetime.fromisoformat(m["timestamp"]),
                "customer" if m["direction"] == "inbound" else "employee", frozenset(record.get("rule_ids") or ()),
                frozenset(record.get("pii") or ()), m.get("employee_id"), kind, m.get("target_message_id"),
                bool(record.get("alert_ids")), text,
                tuple(n for n in (m.get("business_phone_number_id"), m.get("business_display_number")) if n))
    header = Header(m.get("business_phone_number_id") or "", _masked(m.get("customer_wa_id") or ""),
                    m["type"] if kind == "message" else "text", m.get("employee_id") or None,
                    True if m.get("historical") else None)
    return m["conversation_key"], seen, header


@functools.lru_cache(maxsize=65536)
def _masked(number: str) -> str:
    return mask_phone(number)


def _alerts(fired: list, key: str, packs: dict[str, Pack], header: Header, topics: TopicNames) -> list[Output]:
    outputs = []
    for f in fired:
        alert = conversation_alert(f, key, packs[f.rule.id], header)
        metrics.alerts_produced.labels(alert.rule_id, alert.severity.value).inc()
        outputs.append(Output(topics.alerts, key.encode(), alert.to_bytes()))
    return outputs


def on_records(messages: list[Any], rules: Rules, read: Callable[[bytes], State], topics: TopicNames,
               clock: StreamClock | None = None, keep_text: bool = True) -> tuple[list[Output], dict[bytes, State]]:
    """A batch of scan records -> alerts, rate events and the new states (not yet written). Never raises:
    a record that cannot be read or processed becomes a dead letter."""
    engine, packs = rules.get()
    outputs: list[Output] = []
    states: dict[bytes, State] = {}
    replays, beyond = engine.replays, engine.beyond_window
    for msg in messages:
        try:
            key, seen, header = seen_of(orjson.loads(msg.value), keep_text)
        except (ValueError, KeyError, TypeError) as exc:
            outputs.append(_dead(Reason.invalid_record, exc, msg, topics))
            continue
        if clock is not None:
            clock.saw(msg.partition, seen.at)
        if seen.kind == "system":
            continue  # "messages are end-to-end encrypted", "X joined": written by neither party
        try:
            k = key.encode()
            state = states.get(k) or read(k)
            state.header = state.header.updated(header)
            outputs += _alerts(engine.on_message(key, state, seen), key, packs, state.header, topics)
            for rule in engine.rate_events(seen):
                event = {"rule": rule.id, "key": key, "header": state.header.doc(), "seen": _evidence_json(seen)}
                outputs.append(Output(topics.rates, rate_subject(seen).encode(), json.dumps(event).encode()))
            states[k] = state
        except Exception as exc:  # a bug must not take the batch with it (Faust would skip it)
            log.exception("conversation rules failed at %s[%s]@%s", msg.topic, msg.partition, msg.offset)
            outputs.append(_dead(Reason.processing_error, exc, msg, topics))
    metrics.conversation_late.labels("replayed").inc(engine.replays - replays)
    metrics.conversation_late.labels("beyond_window").inc(engine.beyond_window - beyond)
    return outputs, states


def on_time(due: list[tuple[bytes, datetime]], rules: Rules, read: Callable[[bytes], State],
            topics: TopicNames) -> tuple[list[Output], dict[bytes, State]]:
    """Deadlines that came due (each conversation with the time it is judged at): absences fire on silence."""
    engine, packs = rules.get()
    outputs, states = [], {}
    for k, now in due:
        try:
            state = read(k)
            fired = engine.on_time(k.decode(), state, now)
            if fired:
                outputs += _alerts(fired, k.decode(), packs, state.header, topics)
                states[k] = state
        except Exception:  # one broken state must not stop every other deadline
            log.exception("conversation deadline check failed for one conversation")
    return outputs, states


def on_rates(messages: list[Any], rules: Rules, read: Callable[[bytes], dict],
             topics: TopicNames) -> tuple[list[Output], dict[bytes, dict]]:
    """Counted messages keyed by employee -> per-employee rate alerts, once per employee, rule and period."""
    engine, packs = rules.get()
    by_id = {r.id: r for r in engine.employee_rates}
    outputs, docs = [], {}
    for msg in messages:
        try:
            event = json.loads(msg.value)
            rule = by_id.get(event["rule"])
            if rule is None:
                continue  # the rule was removed by a reload since the message was counted
            doc = docs.get(msg.key) or read(msg.key)
            employee = msg.key.decode()
            fired = RateCounter.on_event(employee, doc.setdefault("q", {}), doc.setdefault("x", []), rule,
                                         _seen_json(event["seen"]))
            if fired:
                outputs += _alerts([fired], event["key"], packs, Header.of_doc(event["header"]), topics)
            docs[msg.key] = doc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            outputs.append(_dead(Reason.invalid_record, exc, msg, topics))
        except Exception as exc:
            log.exception("rate rules failed at %s[%s]@%s", msg.topic, msg.partition, msg.offset)
            outputs.append(_dead(Reason.processing_error, exc, msg, topics))
    return outputs, docs


def _dead(reason: str, exc: Exception, msg: Any, topics: TopicNames) -> Output:
    return dead_letter_output(STAGE, reason, type(exc).__name__, msg.value or b"", topics.deadletter, msg.topic,
                              msg.partition, msg.offset, error_class=type(exc).__name__)


def _evidence_json(seen: Seen) -> dict:
    return {"id": seen.message_id, "at": seen.at.isoformat(), "from": seen.sender, "employee": seen.employee,
            "text": seen.snippet[:80] if seen.snippet else None}


def _seen_json(doc: dict) -> Seen:
    return Seen(doc["id"], datetime.fromisoformat(doc["at"]), doc["from"], employee=doc["employee"],
                snippet=doc.get("text"))


class Deadlines:
    """When each conversation's next absence is due, for the conversations this worker owns. Entries
    may be stale (the state moved on): the timer re-reads the state before firing anything."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, bytes]] = []

    def add(self, key: bytes, due: int | None) -> None:
        if due is not None:
            heapq.heappush(self._heap, (due, key))

    def pop_due(self, now: float) -> list[tuple[int, bytes]]:
        """(due, key) of the deadlines at or before `now`, each key once (its earliest)."""
        out: dict[bytes, int] = {}
        while self._heap and self._heap[0][0] <= now:
            due, key = heapq.heappop(self._heap)
            out.setdefault(key, due)
        metrics.conversation_deadlines.set(len(self._heap))
        return [(due, key) for key, due in out.items()]

    def clear(self) -> None:
        self._heap.clear()

    def __len__(self) -> int:
        return len(self._heap)


class StreamClock:
    """The time a partition's deadlines are judged by. While messages flow it is the newest message time
    seen in the partition, so a backlog replayed after an outage (or a history import, or messages
    that arrive late) cannot fire an absence that its own later messages meet; once the partition has
    been quiet for `grace_s`, the wall clock, so a conversation that goes silent still fires. While
    messages flow, time is held back by `lateness_s`: a reply written before the deadline but delivered
    a little after newer messages of the partition still meets it.

    A partition this worker has just been given (a start, a restart, a rebalance) counts as "messages
    flowing, none read yet": nothing is due until its backlog starts coming or `grace_s` passes without
    one. Before, the wall clock judged the states restored from the changelog at once, and 20 of 20
    conversations whose notice was in the unread backlog got a false "privacy notice missing".

    Quiet is not enough when the backlog waits further up (normalize or scan behind, or not started):
    with `trusted` (upstream.py) the wall clock goes no further than the time up to which every
    received message has reached this agent."""

    def __init__(self, grace_s: float, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, lateness_s: float = 0.0,
                 trusted: Callable[[], float | None] = lambda: None):
        self.grace_s, self._wall, self._monotonic, self.lateness_s = grace_s, wall, monotonic, lateness_s
        self._trusted = trusted  # the caught-up time of upstream.py, None when unknown
        self._newest: dict[int, float] = {}
        self._last_record: dict[int, float] = {}

    def saw(self, partition: int, at: datetime) -> None:
        self._newest[partition] = max(self._newest.get(partition, 0.0), at.timestamp())
        self._last_record[partition] = self._monotonic()

    def assigned(self, partitions: set[int]) -> None:
        """Partitions just given to this worker: their backlog has not been read yet."""
        for partition in partitions:
            self._last_record[partition] = self._monotonic()

    def now(self, partition: int) -> float:
        quiet = self._monotonic() - self._last_record.get(partition, float("-inf")) >= self.grace_s
        if not quiet:
            return self._newest.get(partition, 0.0) - self.lateness_s
        trusted = self._trusted()
        return self._wall() if trusted is None else max(min(self._wall(), trusted),
                                                        self._newest.get(partition, 0.0) - self.lateness_s)


def is_idle(state: State, partition_now: float, idle_s: float) -> bool:
    """A state with nothing pending whose last message is `idle_s` older than its partition's clock (message
    time while messages flow). Judged by the wall clock, every conversation of a history import or a chat
    export months old lost its state between two of its messages, and started again (a second privacy-notice
    clock, a complaint forgotten)."""
    return partition_now - (state.last or 0) > idle_s and not state.pending()


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `key` (the producer's, Java's): where the scans
    topic and the table's changelog put this conversation."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class ConversationWorker:
    """One worker's conversation role: the state tables, the deadlines of the partitions it owns, their
    clocks, and the four things Faust runs (the two agents, the upstream probe, the deadline timer).
    The agent and the timer take `lock`, so they never interleave on one state."""

    def __init__(self, app: Any, topics: TopicNames, current_ruleset: Callable[[], RuleSet], settings: Settings,
                 group_id: str):
        self.app, self.topics, self.settings = app, topics, settings
        self.rules = Rules(current_ruleset, settings.conversation_lateness_s)
        self.deliver = Delivery(app, STAGE, topics.deadletter)
        types = {"key_type": bytes, "value_type": bytes}  # the changelog's serializers follow these types
        self.table = app.tables.add(StateTable(app, name="conversations", default=None, use_partitioner=True,
                                               beacon=app.tables.beacon, **types,
                                               changelog_name=f"{settings.base_group_id}-conversations-changelog"))
        self.rate_table = app.tables.add(StateTable(
            app, name="conversation-rates", default=None, use_partitioner=True, beacon=app.tables.beacon, **types,
            changelog_name=f"{settings.base_group_id}-conversation-rates-changelog"))
        self.deadlines = Deadlines()
        self.offsets = KafkaOffsets(settings)
        self.probe = UpstreamProbe([Stage(topics.raw), Stage(topics.messages), Stage(topics.scans, (group_id,))],
                                   self.offsets.ends, self.offsets.committed)
        self.clock = StreamClock(settings.conversation_idle_grace_s, lateness_s=settings.conversation_lateness_s,
                                 trusted=self.probe.trusted)
        self.lock = asyncio.Lock()
        self.idle_s = settings.conversation_idle_days * 86400
        self.partitions: set[int] | None = None  # the scans partitions this worker owns, as of the last sweep
        self.swept_at = 0.0

    def read(self, key: bytes) -> State:
        return State.decode(self.table.get(key))

    def write(self, states: dict[bytes, State]) -> None:
        for key, state in states.items():
            raw = state.encode()
            if self.table.get(key) is None:
                metrics.conversation_states.inc()
            self.table[key] = raw
            metrics.conversation_state_bytes.observe(len(raw))
            self.deadlines.add(key, next_deadline(state))

    async def on_scans(self, events: list[Any]) -> None:
        """A batch of scan records: rules run, alerts acknowledged, only then the states written."""
        async with self.lock, acked_when_done(self.app, events):
            outputs, states = on_records([e.message for e in events], self.rules, self.read, self.topics, self.clock,
                                         keep_text=self.settings.alert_snippet != SnippetMode.none)
            await self.deliver(outputs)  # acknowledged before the states say "fired"
            self.write(states)

    async def on_rate_events(self, events: list[Any]) -> None:
        async with acked_when_done(self.app, events):
            outputs, docs = on_rates([e.message for e in events], self.rules,
                                     lambda k: json.loads(self.rate_table.get(k) or b"{}"), self.topics)
            await self.deliver(outputs)
            for key, doc in docs.items():
                self.rate_table[key] = json.dumps(doc, separators=(",", ":")).encode()

    async def follow_upstream(self) -> None:
        await self.offsets.start()
        try:
            await self.probe.run()
        finally:
            await self.offsets.stop()

    async def sweep(self, active: set[int]) -> None:
        """Index the deadlines of the partitions this worker owns now; drop idle states."""
        self.deadlines.clear()
        live, idle = 0, []
        partitions = self.app.conf.topic_partitions
        for n, (key, raw) in enumerate(list(self.table.items())):
            if n % 5000 == 4999:
                await asyncio.sleep(0)  # a million states: let the agents run meanwhile
            if raw is None or (partition := partition_of(key, partitions)) not in active:
                continue
            state = State.decode(raw)
            if is_idle(state, self.clock.now(partition), self.idle_s):
                idle.append(key)
                continue
            live += 1
            self.deadlines.add(key, next_deadline(state))
        async with self.lock:
            for key in idle:
                state = self.table.get(key)
                if state is not None and is_idle(State.decode(state), self.clock.now(partition_of(key, partitions)),
                                                 self.idle_s):
                    del self.table[key]
                    metrics.conversation_expired.inc()
        metrics.conversation_states.set(live)
        log.info("conversation states: %d in partitions %s, %d deadline(s), %d expired", live, sorted(active),
                 len(self.deadlines), len(idle))

    async def tick(self) -> None:
        """Fire the absences whose deadline the partition's clock has passed (re-sweep on a new assignment)."""
        if self.app.rebalancing:
            return
        active = {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.topics.scans}
        if active != self.partitions or time.monotonic() - self.swept_at > SWEEP_EVERY_S:
            self.clock.assigned(active - (self.partitions or set()))
            self.partitions, self.swept_at = active, time.monotonic()
            await self.sweep(active)
        partitions = self.app.conf.topic_partitions
        ready = []
        for due, key in self.deadlines.pop_due(time.time()):
            judged_at = self.clock.now(partition_of(key, partitions))
            if judged_at > due:
                ready.append((key, datetime.fromtimestamp(judged_at, UTC)))
            else:
                self.deadlines.add(key, due)  # the partition's messages have not reached that time yet
        if not ready:
            return
        async with self.lock:
            outputs, states = on_time(ready, self.rules, self.read, self.topics)
            await self.deliver(outputs)
            self.write(states)
            for key, _ in ready:
                if key not in states:
                    self.deadlines.add(key, next_deadline(self.read(key)))  # a clock still running (its due moved)


def register_agents(app: Any, topics: TopicNames, current_ruleset: Callable[[], RuleSet], settings: Settings,
                    group_id: str) -> ConversationWorker:
    worker = ConversationWorker(app, topics, current_ruleset, settings, group_id)

    @app.agent(bytes_topic(app, topics.scans), name="chatwatch.conversation")
    async def conversation(stream: Any) -> None:
        async for events in stream.take_events(settings.scan_batch_size, within=settings.scan_batch_wait_s):
            started = time.perf_counter()
            await worker.on_scans(events)
            metrics.batch_size.labels(STAGE).observe(len(events))
            metrics.batch_seconds.labels(STAGE).observe(time.perf_counter() - started)

    @app.agent(bytes_topic(app, topics.rates), name="chatwatch.conversation-rates")
    async def rates(stream: Any) -> None:
        async for events in stream.take_events(500, within=settings.scan_batch_wait_s):
            await worker.on_rate_events(events)

    @app.task
    async def follow_upstream() -> None:
        await worker.follow_upstream()

    @app.timer(settings.conversation_tick_s)
    async def deadlines_due() -> None:
        await worker.tick()

    return worker


def register(app: Any, ctx: WorkerContext) -> None:
    assert ctx.rules is not None, "the conversation role needs rule packs"
    rules = ctx.rules
    register_agents(app, ctx.topics, lambda: rules.scanner.ruleset, ctx.settings, ctx.group_id)


ROLE = Role(
    name="conversation", order=30,
    summary="scan records -> conversation rules (absence, accumulation, sequence, rate) -> alerts",
    agents=("conversation", "conversation-rates"), reads=("scans", "rates"), writes=("alerts", "rates", "deadletter"),
    state="rule state per conversation and rate counts per employee (changelog-backed tables)",
    deployment="scan", register=register, needs_rules=True)
