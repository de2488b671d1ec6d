"""record: scan records and alerts -> ClickHouse (archive + analytics), batch by batch.

Records gather in an `Accumulator` until a batch is full or old enough (or the worker stops:
SIGTERM writes what waits); their offsets are committable only once the batch is stored, so Faust
commits no offset of a record that is not in ClickHouse. Holds and erasures are consulted at write time (guard.py):
a replayed record never clears a hold nor brings an erased conversation back. Records that cannot be decoded, or that ClickHouse rejects,
go to the dead-letter topic; an unreachable ClickHouse pauses this agent only (scanning and
alerting go on).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from chatwatch.records import Alert, ScanRecord, validation_summary
from chatwatch.sinks.clickhouse import metrics as archive_metrics
from chatwatch.sinks.clickhouse.client import ClickHouseError, ClickHouseTarget
from chatwatch.sinks.clickhouse.ddl import Renderer
from chatwatch.sinks.clickhouse.guard import ArchiveGuard
from chatwatch.sinks.clickhouse.migrate import migrate
from chatwatch.sinks.clickhouse.rows import Rows, alert_rows, scan_rows
from chatwatch.sinks.clickhouse.writer import ArchiveWriter
from chatwatch.streams import metrics
from chatwatch.streams.agents.outputs import Accumulator, Delivery, Output, bytes_topic, dead_letter_output
from chatwatch.streams.agents.role import Role, WorkerContext
from chatwatch.streams.deadletter import Reason
from chatwatch.streams.topics import TopicNames

log = logging.getLogger(__name__)
STAGE = "record"


def to_rows(topic: str, value: bytes, topics: TopicNames, guard: ArchiveGuard, now: datetime,
            written: set[tuple[str, str | None]]) -> Rows:
    """Rows for one record ({} when its conversation was erased); adds its (conversation, customer) to
    `written`. Raises ValidationError for records that are not what the topic promises."""
    if topic == topics.alerts:
        alert = Alert.model_validate_json(value)
        key, customers, at = alert.conversation_key, [None], alert.message_timestamp
    else:
        record = ScanRecord.model_validate_json(value)
        m = record.message
        # a customer hold finds them by phone number or by business-scoped user id
        key, customers, at = m.conversation_key, [c for c in (m.customer_wa_id, m.customer_user_id) if c], m.timestamp
    if guard.is_erased(key, at):
        archive_metrics.erased_skipped.inc()
        return {}
    written.update((key, c) for c in customers)
    if topic == topics.alerts:
        return alert_rows(alert, held=guard.is_held(key))
    return scan_rows(record, now, held=any(guard.is_held(key, c) for c in customers))


async def consult(step: Any, *args: Any) -> None:
    """Run a guard query off the loop, retrying while it fails: writing without knowing holds and erasures
    could undo them, so the archive waits (visibly, in the log and the write-failure metric) instead."""
    backoff = 0.5
    while True:
        try:
            return await asyncio.to_thread(step, *args)
        except ClickHouseError as exc:
            archive_metrics.clickhouse_failures.labels("guard").inc()
            log.warning("hold/erasure check failed (%s); retrying in %.1fs, not writing meanwhile", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)


def register_agent(app: Any, topics: TopicNames, writer: ArchiveWriter, guard: ArchiveGuard, max_batch: int,
                   within_s: float) -> Any:
    deliver = Delivery(app, STAGE, topics.deadletter)

    async def store(events: list[Any]) -> None:
        started = time.perf_counter()
        await consult(guard.before_write)
        now = datetime.now(UTC)
        written: set[tuple[str, str | None]] = set()
        batches: list[Rows] = []
        kept: list[Any] = []
        dead: list[Output] = []
        for event in events:
            msg = event.message
            try:
                batches.append(to_rows(msg.topic, msg.value or b"", topics, guard, now, written))
                kept.append(msg)
            except ValidationError as exc:
                detail = validation_summary(exc)
                dead.append(dead_letter_output(STAGE, Reason.invalid_record, detail, msg.value or b"",
                                               topics.deadletter, msg.topic, msg.partition, msg.offset))
            except Exception as exc:  # valid, yet no row can be made of it: a bug to fix, not a reason to stall
                log.exception("no archive row for %s[%s]@%s", msg.topic, msg.partition, msg.offset)
                dead.append(dead_letter_output(STAGE, Reason.processing_error, type(exc).__name__, msg.value or b"",
                                               topics.deadletter, msg.topic, msg.partition, msg.offset,
                                               error_class=type(exc).__name__))
        for index, error in await writer.write(batches):
            msg = kept[index]
            dead.append(dead_letter_output(STAGE, Reason.store_rejected, error, msg.value or b"",
                                           topics.deadletter, msg.topic, msg.partition, msg.offset))
        await consult(guard.after_write, written)
        if dead:
            await deliver(dead)
        metrics.batch_size.labels(STAGE).observe(len(events))
        metrics.batch_seconds.labels(STAGE).observe(time.perf_counter() - started)

    async def poison(events: list[Any], exc: BaseException) -> None:
        await deliver([dead_letter_output(STAGE, Reason.processing_error, type(exc).__name__, e.message.value or b"",
                                          topics.deadletter, e.message.topic, e.message.partition, e.message.offset,
                                          error_class=type(exc).__name__) for e in events])

    batches = Accumulator(app, store, max_batch, within_s, archive_metrics.archive_pending, poison)
    app.before_stop.append(batches.flush_now)

    @app.agent(bytes_topic(app, topics.scans, topics.alerts), name="chatwatch.record")
    async def record(stream: Any) -> None:
        storing = asyncio.ensure_future(batches.run())
        try:
            async for events in stream.take_events(max_batch, within=min(within_s, 0.05)):
                await batches.add(events)
        finally:
            storing.cancel()

    return record


def register(app: Any, ctx: WorkerContext) -> None:
    """The role: open ClickHouse, apply pending migrations, start the record agent (nothing when the
    archive is off). The client stays on `ctx` for what shares it (the console, with embedded chdb)."""
    settings = ctx.settings
    if not settings.clickhouse_enabled:
        log.info("archive role: CHATWATCH_CLICKHOUSE_ENABLED=false, nothing to run")
        return
    client = ClickHouseTarget.from_settings(settings).connect()
    applied = migrate(client, Renderer(settings.clickhouse_database, settings.clickhouse_cluster,
                                       settings.retention_days))
    log.info("ClickHouse %s ready (migrations applied now: %s)",
             settings.clickhouse_url or settings.clickhouse_path, applied or "none")
    ctx.clickhouse = client
    register_agent(app, ctx.topics, ArchiveWriter(client), ArchiveGuard(client), settings.record_batch_size,
                   settings.record_batch_wait_s)


ROLE = Role(
    name="archive", order=40, summary="scan records and alerts -> ClickHouse (batches; offsets commit after the insert)",
    agents=("record",), reads=("scans", "alerts"), writes=("deadletter",),
    state="the ClickHouse archive (messages, alerts, PII findings, cases, audit)",
    deployment="archive", register=register)
