"""scan: canonical messages -> PII detection + rule packs -> alerts; undecodable records -> dead letter.

Messages are processed in batches so spaCy NER runs once per batch (`nlp.pipe`); patterns and
rules run per message. Alerts carry the message text only as the configured redacted snippet.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from chatwatch.detectors.alerts import to_alert
from chatwatch.detectors.attachments import AttachmentInfo
from chatwatch.detectors.pii import Finding, PiiDetector
from chatwatch.detectors.pii.contact import region_of
from chatwatch.detectors.pii.detector import PiiInput
from chatwatch.detectors.redaction import redact
from chatwatch.detectors.scanner import Scanner, Subject
from chatwatch.records import ContextLine, Message, ScanRecord, validation_summary
from chatwatch.streams import metrics
from chatwatch.streams.agents.outputs import Output, batch_agent, dead_letter_output
from chatwatch.streams.deadletter import Reason
from chatwatch.streams.topics import TopicNames

log = logging.getLogger(__name__)
STAGE = "scan"


@dataclass(frozen=True)
class ScanOptions:
    pii: PiiDetector | None = None  # None: PII detection off
    snippet_mode: str = "replace"  # replace | mask | hash | keep | none
    redaction_key: bytes = b""
    archive_text: str = "redacted"  # what ScanRecords (the archive) keep of the text: redacted | raw | none
    recent: RecentLines | None = None  # context lines for alerts (None: no context)


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


def subject_of(message: Message, pii: tuple[str, ...] = ()) -> Subject:
    """What the detectors see of a canonical message."""
    numbers = tuple(n for n in (message.business_phone_number_id, message.business_display_number) if n)
    attachments = tuple(AttachmentInfo(a.filename, a.mime_type, a.size, a.sha256) for a in message.attachments)
    return Subject(text=message.text or "", direction=message.direction.value, timestamp=message.timestamp,
                   numbers=numbers, attachments=attachments, pii=pii)


def process_batch(records: list[Record], scanner: Scanner, topics: TopicNames,
                  options: ScanOptions = ScanOptions()) -> list[Output]:
    """A batch of canonical messages -> their alerts and dead letters. Never raises."""
    outputs: list[Output] = []
    decoded: list[tuple[Record, Message]] = []
    for rec in records:
        try:
            decoded.append((rec, Message.model_validate_json(rec.value)))
        except ValidationError as exc:
            detail = validation_summary(exc)
            outputs.append(_dead(Reason.invalid_record, detail, rec, topics))
    findings = _pii(decoded, options.pii)
    for (rec, message), found in zip(decoded, findings, strict=True):
        try:
            outputs.extend(_alerts(message, found, scanner, topics, options))
        except Exception as exc:
            log.exception("scan failed for message at %s[%s]@%s", topics.messages, rec.partition, rec.offset)
            outputs.append(_dead(Reason.processing_error, type(exc).__name__, rec, topics))
    return outputs


def process_message(value: bytes, scanner: Scanner, topics: TopicNames, *, partition: int | None = None,
                    offset: int | None = None, options: ScanOptions = ScanOptions()) -> list[Output]:
    return process_batch([Record(value, partition, offset)], scanner, topics, options)


def _pii(decoded: list[tuple[Record, Message]], detector: PiiDetector | None) -> list[list[Finding]]:
    if detector is None:
        return [[] for _ in decoded]
    items = [PiiInput(m.text or "", region=region_of(m.business_display_number),
                      numbers=(m.business_phone_number_id, m.business_display_number or "")) for _, m in decoded]
    try:
        results = detector.detect_many(items)
    except Exception:
        log.exception("PII batch detection failed; using patterns only for this batch")
        results = [detector.patterns(i.text, i.region) for i in items]
    for found in results:
        for f in found:
            metrics.pii_findings.labels(f.type, f.source).inc()
    return results


def _alerts(message: Message, found: list[Finding], scanner: Scanner, topics: TopicNames,
            options: ScanOptions) -> list[Output]:
    """The message's alerts, then its scan record (archive + analytics)."""
    types = tuple(f.type for f in found)
    hits = scanner.scan(subject_of(message, types))
    metrics.messages_scanned.labels(message.direction.value).inc()
    key = message.conversation_key.encode()
    counts = dict(Counter(types))
    outputs = []
    alert_ids = []
    snippet = None
    if options.snippet_mode != "none" and message.text:
        snippet = redact(message.text, found, options.snippet_mode, options.redaction_key)
    if hits:
        context = options.recent.before(message.conversation_key) if options.recent else []
        for hit in hits:
            alert = to_alert(message, hit, snippet=snippet, pii=counts, context=context)
            metrics.alerts_produced.labels(alert.rule_id, alert.severity.value).inc()
            outputs.append(Output(topics.alerts, key, alert.to_bytes()))
            alert_ids.append(alert.alert_id)
    if options.recent is not None and snippet:
        options.recent.add(message.conversation_key,
                           ContextLine(direction=message.direction, timestamp=message.timestamp, text=snippet[:200]))
    record = ScanRecord(message=_archived(message, found, options.archive_text), text_mode=options.archive_text,
                        pii=counts, alert_ids=alert_ids,
                        scanned_at=datetime.now(UTC))
    outputs.append(Output(topics.scans, key, record.to_bytes()))
    return outputs


def _archived(message: Message, found: list[Finding], mode: str) -> Message:
    if mode == "raw" or not message.text:
        return message
    text = redact(message.text, found) if mode == "redacted" else None
    return message.model_copy(update={"text": text, "customer_name": None})


def _dead(reason: str, error: str, rec: Record, topics: TopicNames) -> Output:
    return dead_letter_output(STAGE, reason, error, rec.value, topics.deadletter, topics.messages, rec.partition,
                              rec.offset)


def register(app: Any, topics: TopicNames, current_scanner: Callable[[], Scanner], options: ScanOptions,
             max_batch: int, within_s: float) -> Any:
    def step(batch: list[Any]) -> list[Output]:
        records = [Record(m.value or b"", m.partition, m.offset) for m in batch]
        return process_batch(records, current_scanner(), topics, options)

    return batch_agent(app, topics.messages, "chatwatch.scan", STAGE, step, max_batch, within_s, topics.deadletter)
