"""scan: canonical messages -> detectors -> alerts; undecodable records -> dead letter."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from detectors.attachments import AttachmentInfo
from detectors.scanner import Scanner, Subject
from sinks import metrics
from sinks.alerts import to_alert
from streams.agents.outputs import Output, dead_letter_output, step_agent
from streams.deadletter import Reason
from streams.schemas import Message
from streams.topics import TopicNames

log = logging.getLogger(__name__)
STAGE = "scan"


def process_message(value: bytes, scanner: Scanner, topics: TopicNames, *, partition: int | None = None,
                    offset: int | None = None) -> list[Output]:
    """One canonical message -> its alerts. Never raises."""
    def dead(reason: str, error: str) -> Output:
        return dead_letter_output(STAGE, reason, error, value, topics.deadletter, topics.messages, partition, offset)

    try:
        message = Message.model_validate_json(value)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}"
                           for e in exc.errors(include_input=False))
        return [dead(Reason.invalid_record, detail)]
    try:
        hits = scanner.scan(subject_of(message))
    except Exception as exc:
        log.exception("scan failed for message at %s[%s]@%s", topics.messages, partition, offset)
        return [dead(Reason.processing_error, type(exc).__name__)]
    metrics.messages_scanned.labels(message.direction.value).inc()
    outputs = []
    for hit in hits:
        alert = to_alert(message, hit)
        metrics.alerts_produced.labels(alert.rule_id, alert.severity.value).inc()
        outputs.append(Output(topics.alerts, message.conversation_key.encode(), alert.to_bytes()))
    return outputs




def subject_of(message: Message) -> Subject:
    """What the detectors see of a canonical message."""
    numbers = tuple(n for n in (message.business_phone_number_id, message.business_display_number) if n)
    attachments = tuple(AttachmentInfo(a.filename, a.mime_type, a.size, a.sha256) for a in message.attachments)
    return Subject(text=message.text or "", direction=message.direction.value, timestamp=message.timestamp,
                   numbers=numbers, attachments=attachments)


def register(app: Any, topics: TopicNames, current_scanner: Callable[[], Scanner]) -> Any:
    def step(record: Any) -> list[Output]:
        return process_message(record.value or b"", current_scanner(), topics, partition=record.partition,
                               offset=record.offset)

    return step_agent(app, topics.messages, "chatwatch.scan", STAGE, step)
