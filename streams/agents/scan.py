"""scan: canonical messages -> PII detection + rule packs -> alerts; undecodable records -> dead letter.

Messages are processed in batches so spaCy NER runs once per batch (`nlp.pipe`); patterns and
rules run per message. Alerts carry the message text only as the configured redacted snippet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from chatwatch.detectors.alerts import to_alert
from chatwatch.detectors.attachments import AttachmentInfo
from chatwatch.detectors.pii import Finding, PiiConfig, PiiDetector
from chatwatch.detectors.pii.contact import region_of
from chatwatch.detectors.pii.detector import PiiInput, add_entities
from chatwatch.detectors.pii.ner import name_like
from chatwatch.detectors.pii.ner_pool import NerPool
from chatwatch.detectors.redaction import merged, redact
from chatwatch.detectors.scanner import Scanner, Subject
from chatwatch.people import Directory, PeopleFile
from chatwatch.records import ContextLine, Message, ScanRecord, SnippetMode, validation_summary
from chatwatch.settings import Settings
from chatwatch.sinks.notifications.config import people_path
from chatwatch.streams import metrics
from chatwatch.streams.agents.outputs import (
    Delivery,
    InFlight,
    Output,
    batch_agent,
    bytes_topic,
    dead_letter_output,
    hold,
)
from chatwatch.streams.agents.role import Role, WorkerContext
from chatwatch.streams.deadletter import Reason
from chatwatch.streams.ingest.sources import all_sources
from chatwatch.streams.topics import TopicNames

log = logging.getLogger(__name__)
STAGE = "scan"


@dataclass(frozen=True)
class ScanOptions:
    pii: PiiDetector | None = None  # None: PII detection off
    snippet_mode: SnippetMode = SnippetMode.replace
    redaction_key: bytes = b""
    archive_text: str = "redacted"  # what ScanRecords (the archive) keep of the text: redacted | raw | none
    recent: RecentLines | None = None  # context lines for alerts (None: no context)
    ner_pool: NerPool | None = None  # NER in child processes (the worker); None: in `pii`, in this process
    people: PeopleFile | None = None  # the people directory: employee and team of each message (None: not kept)


class RecentLines:
    """The last few redacted lines per conversation, for alert context. One conversation's messages
    share a partition, so this worker sees them in order; bounded in conversations and lines.
    In memory only: after a restart the context starts empty."""

    def __init__(self, lines: int = 3, conversations: int = 50_000):
        self.lines, self.conversations = lines, conversations
        self._recent: OrderedDict[str, deque] = OrderedDict()

    def before(self, key: str) -> list[ContextLine]:
        return list(self._recent.get(key, ()))

    def add(self, key: str, line: ContextLine) -> None:
        ring = self._recent.pop(key, None) or deque(maxlen=self.lines)
        ring.append(line)
        self._recent[key] = ring
        while len(self._recent) > self.conversations:
            self._recent.popitem(last=False)


@dataclass(frozen=True)
class Record:
    value: bytes
    partition: int | None = None
    offset: int | None = None


def subject_of(message: Message, pii: tuple[str, ...] = (), team: str | None = None) -> Subject:
    """What the detectors see of a canonical message."""
    numbers = tuple(n for n in (message.business_phone_number_id, message.business_display_number) if n)
    attachments = tuple(AttachmentInfo(a.filename, a.mime_type, a.size, a.sha256) for a in message.attachments)
    return Subject(text=message.text or "", direction=message.direction.value, timestamp=message.timestamp,
                   numbers=numbers, team=team, attachments=attachments, pii=pii)


def attributed(message: Message, people: Directory | None) -> tuple[Message, str | None]:
    """The message with its employee as the directory knows them (a source's id such as `chatwoot:7`
    becomes the directory's `emp-17`; the source's id stays in `details.source_employee_id`), and the
    team it belongs to (its employee's, else its business number's). An id the directory does not
    know is kept as it is, and counted, so someone can fix the directory."""
    if people is None:
        return message, None
    employee = message.employee_id
    known = people.resolve(employee)
    if employee and known is None:
        prefix = employee.split(":", 1)[0] if ":" in employee else "other"
        metrics.unknown_employees.labels(prefix if prefix in all_sources() else "other").inc()
    elif employee and known != employee:
        message = message.model_copy(update={"employee_id": known,
                                             "details": {**message.details, "source_employee_id": employee}})
    return message, people.team_of(message.employee_id, message.business_phone_number_id)


def process_batch(records: list[Record], scanner: Scanner, topics: TopicNames,
                  options: ScanOptions = ScanOptions()) -> list[Output]:
    """A batch of canonical messages -> their alerts and dead letters. Never raises."""
    decoded, outputs = _decode(records, topics)
    return outputs + _scan(decoded, _pii(decoded, options.pii), scanner, topics, options)


def process_message(value: bytes, scanner: Scanner, topics: TopicNames, *, partition: int | None = None,
                    offset: int | None = None, options: ScanOptions = ScanOptions()) -> list[Output]:
    return process_batch([Record(value, partition, offset)], scanner, topics, options)


def _records(messages: list[Any]) -> list[Record]:
    return [Record(m.value or b"", m.partition, m.offset) for m in messages]


def _decode(records: list[Record], topics: TopicNames) -> tuple[list[tuple[Record, Message]], list[Output]]:
    decoded: list[tuple[Record, Message]] = []
    dead: list[Output] = []
    for rec in records:
        try:
            decoded.append((rec, Message.model_validate_json(rec.value)))
        except ValidationError as exc:
            dead.append(_dead(Reason.invalid_record, validation_summary(exc), rec, topics))
    return decoded, dead


def _scan(decoded: list[tuple[Record, Message]], findings: list[list[Finding]], scanner: Scanner,
          topics: TopicNames, options: ScanOptions) -> list[Output]:
    outputs: list[Output] = []
    now = datetime.now(UTC)
    for (rec, message), found in zip(decoded, findings, strict=True):
        if message.origin.received_at is not None and not message.historical:
            metrics.end_to_end_seconds.observe(max(0.0, (now - message.origin.received_at).total_seconds()))
        try:
            outputs.extend(_alerts(message, found, scanner, topics, options))
        except Exception as exc:
            log.exception("scan failed for message at %s[%s]@%s", topics.messages, rec.partition, rec.offset)
            outputs.append(_dead(Reason.processing_error, type(exc).__name__, rec, topics))
    return outputs


def _pii_inputs(decoded: list[tuple[Record, Message]]) -> list[PiiInput]:
    return [PiiInput(m.text or "", region=region_of(m.business_display_number),
                     numbers=(m.business_phone_number_id, m.business_display_number or "")) for _, m in decoded]


def _pii(decoded: list[tuple[Record, Message]], detector: PiiDetector | None) -> list[list[Finding]]:
    if detector is None:
        return [[] for _ in decoded]
    items = _pii_inputs(decoded)
    try:
        results = detector.detect_many(items)
    except Exception:
        log.exception("PII batch detection failed; using patterns only for this batch")
        results = [detector.patterns(i.text, i.region) for i in items]
    _count(results)
    return results


def _count(results: list[list[Finding]]) -> None:
    for found in results:
        for f in found:
            metrics.pii_findings.labels(f.type, f.source).inc()


def _alerts(message: Message, found: list[Finding], scanner: Scanner, topics: TopicNames,
            options: ScanOptions) -> list[Output]:
    """The message's alerts, then its scan record (archive + analytics)."""
    types = tuple(f.type for f in found)
    message, team = attributed(message, options.people.directory if options.people else None)
    hits, sensitive = scanner.scan_masked(subject_of(message, types, team))
    metrics.messages_scanned.labels(message.direction.value).inc()
    key = message.conversation_key.encode()
    counts = dict(Counter(types))
    outputs = []
    alert_ids = []
    # Redaction at least as strong as detection: what a rule found sensitive is masked like PII, even
    # where no PII recognizer saw it.
    masked = [*found, *sensitive]
    snippet = None
    if options.snippet_mode != SnippetMode.none and message.text:
        snippet = redact(message.text, masked, options.snippet_mode, options.redaction_key)
    alerting = [hit for hit in hits if hit.rule.alert]  # marker rules only label the message
    if alerting:
        context = options.recent.before(message.conversation_key) if options.recent else []
        for hit in alerting:
            alert = to_alert(message, hit, snippet=snippet, pii=counts, context=context)
            metrics.alerts_produced.labels(alert.rule_id, alert.severity.value).inc()
            outputs.append(Output(topics.alerts, key, alert.to_bytes()))
            alert_ids.append(alert.alert_id)
    if options.recent is not None and snippet:
        options.recent.add(message.conversation_key,
                           ContextLine(direction=message.direction, timestamp=message.timestamp, text=snippet[:200]))
    record = ScanRecord(message=_archived(message, masked, options.archive_text), text_mode=options.archive_text,
                        pii=counts, alert_ids=alert_ids, rule_ids=[hit.rule.id for hit in hits],
                        masked=merged(masked) if options.archive_text == "raw" and message.text else [],
                        scanned_at=datetime.now(UTC))
    outputs.append(Output(topics.scans, key, record.to_bytes()))
    return outputs


def _archived(message: Message, masked: list, mode: str) -> Message:
    if mode == "raw" or not message.text:
        return message
    text = redact(message.text, masked) if mode == "redacted" else None
    return message.model_copy(update={"text": text, "customer_name": None})


def _dead(reason: str, error: str, rec: Record, topics: TopicNames) -> Output:
    return dead_letter_output(STAGE, reason, error, rec.value, topics.deadletter, topics.messages, rec.partition,
                              rec.offset)


def register_agent(app: Any, topics: TopicNames, current_scanner: Callable[[], Scanner], options: ScanOptions,
                   max_batch: int, within_s: float) -> Any:
    if options.ner_pool is not None:
        return _register_with_ner_pool(app, topics, current_scanner, options, max_batch, within_s)

    def step(batch: list[Any]) -> list[Output]:
        return process_batch(_records(batch), current_scanner(), topics, options)

    return batch_agent(app, topics.messages, "chatwatch.scan", STAGE, step, max_batch, within_s, topics.deadletter)


def _register_with_ner_pool(app: Any, topics: TopicNames, current_scanner: Callable[[], Scanner],
                            options: ScanOptions, max_batch: int, within_s: float, window: int = 4) -> Any:
    """The scan agent with NER in child processes, overlapped: the agent decodes a batch, runs the
    patterns and hands the batch's name-like texts to the NER pool, then goes on with the next batch;
    `finish` takes the batches in order, adds the entities when they come back, runs the rules and
    sends the outputs. At most `window` batches wait for NER."""
    in_flight = InFlight(app, Delivery(app, STAGE, topics.deadletter), 8)
    waiting: asyncio.Queue = asyncio.Queue(maxsize=window)
    detector, pool = options.pii, options.ner_pool
    assert detector is not None and pool is not None

    async def finish() -> None:
        while True:
            events, decoded, outputs, results, ner = await waiting.get()
            for indexes, entities in ner:
                try:
                    add_entities(results, indexes, await entities)
                except Exception as exc:  # never silent, never names in clear: the name-like words are masked
                    log.error("NER unavailable for %d message(s) (%s); their name-like words are masked instead",
                              len(indexes), type(exc).__name__)
                    metrics.ner_unavailable.inc(len(indexes))
                    add_entities(results, indexes, [name_like(decoded[i][1].text or "") for i in indexes])
            _count(results)
            await in_flight.submit(events, outputs + _scan(decoded, results, current_scanner(), topics, options),
                                   held=True)

    @app.agent(bytes_topic(app, topics.messages), name="chatwatch.scan")
    async def agent(stream: Any) -> None:
        tasks = [asyncio.ensure_future(in_flight.confirm()), asyncio.ensure_future(finish())]
        try:
            async for events in stream.take_events(max_batch, within=within_s):
                started = time.perf_counter()
                decoded, outputs = _decode(_records([e.message for e in events]), topics)
                items = _pii_inputs(decoded)
                try:
                    results = [detector.patterns(i.text, i.region) for i in items]
                    ner = [(indexes, asyncio.ensure_future(pool.entities([items[i].text for i in indexes], lang)))
                           for lang, indexes in detector.ner_work(items).items()]
                except Exception:
                    log.exception("PII patterns failed for a batch of %d; no findings for this batch", len(items))
                    results, ner = [[] for _ in items], []
                hold(events)
                await waiting.put((events, decoded, outputs, results, ner))
                metrics.batch_size.labels(STAGE).observe(len(events))
                metrics.batch_seconds.labels(STAGE).observe(time.perf_counter() - started)
        finally:
            for task in tasks:
                task.cancel()

    return agent


def options_from(settings: Settings) -> ScanOptions:
    """PII detector (models load here, once, or in the NER children) and snippet redaction, from settings."""
    detector, pool = None, None
    if settings.pii_enabled:
        config = PiiConfig.from_settings(settings)
        if config.ner and settings.pii_ner_processes > 0:
            pool = NerPool(config.models, settings.pii_ner_processes,  # the models load in the children
                           on_restart=metrics.ner_child_restarts.inc)
            for lang in pool.missing:
                metrics.pii_ner_model_missing.labels(lang).set(1)
            config = config.model_copy(update={"ner": False})
        detector = PiiDetector(config, on_missing_model=lambda lang: metrics.pii_ner_model_missing.labels(lang).set(1))
    key = settings.redaction_key.get_secret_value().encode() if settings.redaction_key else b""
    return ScanOptions(pii=detector, snippet_mode=settings.alert_snippet, redaction_key=key,
                       archive_text=settings.archive_text, recent=RecentLines(), ner_pool=pool,
                       people=PeopleFile(path) if (path := people_path(settings)) else None)


def register(app: Any, ctx: WorkerContext) -> None:
    """The role: NER children that keep dying make the worker unhealthy (/healthz)."""
    assert ctx.rules is not None, "the scan role needs rule packs"
    options, rules = options_from(ctx.settings), ctx.rules
    if options.ner_pool is not None:
        pool = options.ner_pool
        ctx.health["ner"] = lambda: pool.healthy
    register_agent(app, ctx.topics, lambda: rules.scanner, options, ctx.settings.scan_batch_size,
                   ctx.settings.scan_batch_wait_s)


ROLE = Role(
    name="scan", order=20, summary="messages -> PII detection, rule packs -> alerts and one scan record each",
    agents=("scan",), reads=("messages",), writes=("alerts", "scans", "deadletter"),
    state="recent lines per conversation (alert context, memory only); NER child processes",
    deployment="scan", register=register, needs_rules=True)
