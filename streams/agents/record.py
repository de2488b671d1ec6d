"""record: scan records and alerts -> ClickHouse (archive + analytics), batch by batch.

Each batch is stored before the agent asks for the next one, so Faust commits no offset of
a record that is not in ClickHouse. Records that cannot be decoded, or that ClickHouse rejects,
go to the dead-letter topic; an unreachable ClickHouse pauses this agent only (scanning and
alerting go on).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from chatwatch.records import Alert, ScanRecord, validation_summary
from chatwatch.sinks.clickhouse.holds import HoldCache
from chatwatch.sinks.clickhouse.rows import Rows, alert_rows, scan_rows
from chatwatch.sinks.clickhouse.writer import ArchiveWriter
from chatwatch.streams import metrics
from chatwatch.streams.agents.outputs import Delivery, Output, dead_letter_output
from chatwatch.streams.deadletter import Reason
from chatwatch.streams.topics import TopicNames

log = logging.getLogger(__name__)
STAGE = "record"


def to_rows(topic: str, value: bytes, topics: TopicNames, holds: HoldCache, now: datetime) -> Rows:
    """Raises ValidationError for records that are not what the topic promises."""
    if topic == topics.alerts:
        alert = Alert.model_validate_json(value)
        return alert_rows(alert, held=holds.is_held(alert.conversation_key))
    record = ScanRecord.model_validate_json(value)
    m = record.message
    return scan_rows(record, now, held=holds.is_held(m.conversation_key, m.customer_wa_id))


def register(app: Any, topics: TopicNames, writer: ArchiveWriter, holds: HoldCache, max_batch: int,
             within_s: float) -> Any:
    source = app.topic(topics.scans, topics.alerts, key_type=bytes, value_type=bytes, value_serializer="raw",
                       key_serializer="raw")
    deliver = Delivery(app, STAGE, topics.deadletter)

    @app.agent(source, name="chatwatch.record")
    async def record(stream: Any) -> None:
        async for events in stream.take_events(max_batch, within=within_s):
            started = time.perf_counter()
            await holds.refresh_if_stale()
            now = datetime.now(UTC)
            batches: list[Rows] = []
            kept: list[Any] = []
            dead: list[Output] = []
            for event in events:
                msg = event.message
                try:
                    batches.append(to_rows(msg.topic, msg.value or b"", topics, holds, now))
                    kept.append(msg)
                except ValidationError as exc:
                    detail = validation_summary(exc)
                    dead.append(dead_letter_output(STAGE, Reason.invalid_record, detail, msg.value or b"",
                                                   topics.deadletter, msg.topic, msg.partition, msg.offset))
            for index, error in await writer.write(batches):
                msg = kept[index]
                dead.append(dead_letter_output(STAGE, Reason.store_rejected, error, msg.value or b"",
                                               topics.deadletter, msg.topic, msg.partition, msg.offset))
            if dead:
                await deliver(dead)
            elapsed = time.perf_counter() - started
            for _ in events:
                metrics.processing_seconds.labels(STAGE).observe(elapsed)

    return record
