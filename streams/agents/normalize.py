"""normalize: raw webhook bodies -> canonical messages and status updates, and dead letters.

Each raw record names its source (header `source`, written by the receiver); its parser reads it
(streams/ingest/sources/). A body nothing can be read from is dead-lettered whole (up to the payload
cap); a body with some bad items dead-letters each bad item (its JSON and its index), and the good
ones flow on.
"""

from __future__ import annotations

import functools
import json
import logging
from datetime import UTC, datetime
from typing import Any

from chatwatch.records import Origin
from chatwatch.settings import Settings
from chatwatch.streams import identities, metrics
from chatwatch.streams.agents.outputs import Output, batch_agent, dead_letter_output, per_record
from chatwatch.streams.agents.role import Role, WorkerContext
from chatwatch.streams.deadletter import Reason
from chatwatch.streams.identities import IdentityLinks
from chatwatch.streams.ingest import sources
from chatwatch.streams.ingest.whatsapp_webhook import PayloadError
from chatwatch.streams.topics import TopicNames

log = logging.getLogger(__name__)
STAGE = "normalize"


def process_raw(value: bytes, topics: TopicNames, *, partition: int | None = None, offset: int | None = None,
                received_at: datetime | None = None, links: IdentityLinks | None = None, source: str | None = None,
                settings: Settings | None = None) -> list[Output]:
    """One raw event of `source` (None: the Cloud API's, as records written before sources had names) ->
    outputs. Never raises: what cannot be parsed becomes a dead letter. With `links`, customers known only
    by user id are found by the number they were seen with, and new links are shared."""
    metrics.messages_received.inc()
    origin = Origin(field="messages", raw_topic=topics.raw, raw_partition=partition, raw_offset=offset,
                    received_at=received_at)

    def dead(reason: str, error: str, original: bytes = value, item_index: str | None = None) -> Output:
        return dead_letter_output(STAGE, reason, error, original, topics.deadletter, topics.raw, partition, offset,
                                  item_index=item_index)

    parser = sources.source_of(source)
    if parser is None:
        return [dead(Reason.invalid_shape, f"no source named {source!r} (header 'source')")]
    try:
        result = parser.parse(value, origin, settings or _defaults(), links.lookup if links is not None else None)
    except PayloadError as exc:
        return [dead(exc.reason, str(exc))]
    except Exception as exc:
        log.exception("normalize failed at %s[%s]@%s", topics.raw, partition, offset)
        return [dead(Reason.processing_error, type(exc).__name__)]

    shared = links.learn(result.links) if links is not None else []
    outputs = [Output(topics.identities, key, link) for key, link in shared]
    for msg in result.messages:
        metrics.messages_normalized.labels(msg.type.value, msg.direction.value).inc()
        outputs.append(Output(topics.messages, msg.conversation_key.encode(), msg.to_bytes()))
    for msg in result.history:  # past chats: the same scan path, marked historical
        metrics.messages_normalized.labels(msg.type.value, msg.direction.value).inc()
        metrics.history_messages.inc()
        outputs.append(Output(topics.messages, msg.conversation_key.encode(), msg.to_bytes()))
    for status in result.statuses:
        metrics.statuses_normalized.labels(status.status if status.status in _STATUSES else "other").inc()
        outputs.append(Output(topics.statuses, status.conversation_key.encode(), status.to_bytes()))
    for call in result.calls:
        metrics.call_events.labels(metrics.call_event_label(call.event)).inc()
        outputs.append(Output(topics.events, (call.conversation_key or call.business_phone_number_id).encode(),
                              call.to_bytes()))
    for error in result.errors:
        metrics.webhook_errors.labels(str(error.error.code or "none")).inc()
        log.warning("WhatsApp reports error %s for business number %s: %s", error.error.code,
                    error.business_phone_number_id, error.error.title)
        outputs.append(Output(topics.events, (error.business_phone_number_id or "").encode(), error.to_bytes()))
    for fld, reason in result.ignored:
        metrics.changes_ignored.labels(metrics.field_label(fld)).inc()
        log.info("ignored webhook change field=%s: %s", metrics.field_label(fld), reason)
    for problem in result.problems:  # each bad item alone, with its index; its neighbours flow on
        item = json.dumps(problem.item, ensure_ascii=False).encode() if problem.item is not None else value
        outputs.append(dead(problem.reason, f"{problem.where}: {problem.detail}", item, problem.where))
    return outputs


_STATUSES = {"sent", "delivered", "read", "played", "failed", "deleted", "warning"}


@functools.cache
def _defaults() -> Settings:
    return Settings()


def source_header(headers: Any) -> str | None:
    """The `source` header of a raw record (Faust gives a list of pairs or a mapping), None when absent."""
    pairs = headers.items() if isinstance(headers, dict) else (headers or ())
    for key, value in pairs:
        if key == "source":
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def register_agent(app: Any, topics: TopicNames, max_batch: int, within_s: float, settings: Settings,
                   links: IdentityLinks) -> Any:
    """The normalize agent, and the task that keeps `links` up to date with the other workers' (the caller
    loads them once before the worker starts: `identities.catch_up`)."""

    @app.task
    async def follow_identities() -> None:
        await identities.follow(links, settings, topics.identities)

    def step(record: Any) -> list[Output]:
        received = datetime.fromtimestamp(record.timestamp, UTC) if record.timestamp else None
        return process_raw(record.value or b"", topics, partition=record.partition, offset=record.offset,
                           received_at=received, links=links, source=source_header(record.headers),
                           settings=settings)

    return batch_agent(app, topics.raw, "chatwatch.normalize", STAGE, per_record(step), max_batch, within_s,
                       topics.deadletter)


def register(app: Any, ctx: WorkerContext) -> None:
    """The role: the identity links every normalize worker shares are read to the end before Faust starts."""
    links = IdentityLinks()
    settings = ctx.settings
    ctx.before_start.append(lambda: identities.catch_up(links, settings, ctx.topics.identities))
    register_agent(app, ctx.topics, settings.normalize_batch_size, settings.normalize_batch_wait_s, settings, links)


ROLE = Role(
    name="normalize", order=10, summary="webhook bodies -> canonical messages, statuses, events, identity links",
    agents=("normalize",), reads=("raw", "identities"), writes=("messages", "statuses", "events", "identities",
                                                                 "deadletter"),
    state="identity links (phone id <-> user id), rebuilt from the compacted identities topic at start",
    deployment="scan", register=register)
