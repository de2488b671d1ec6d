"""scan: canonical messages -> detectors -> alerts; undecodable records -> dead letter."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from pydantic import ValidationError

from detectors.attachments import AttachmentInfo
from detectors.scanner import Scanner, Subject
from sinks import metrics
from sinks.alerts import to_alert
from streams.agents.outputs import Delivery, Output, dead_letter_output
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
    except Exception as exc:  # noqa: BLE001 - a detector bug must not stop the stream
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
    messages = app.topic(topics.messages, key_type=bytes, value_type=bytes, value_serializer="raw",
                         key_serializer="raw")

    deliver = Delivery(app)

    @app.agent(messages, name="chatwatch.scan")
    async def scan(stream: Any) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            msg = event.message
            outputs = process_message(msg.value or b"", current_scanner(), topics, partition=msg.partition,
                                      offset=msg.offset)
            await deliver(outputs)
            metrics.processing_seconds.labels(STAGE).observe(time.perf_counter() - started)

    return scan
