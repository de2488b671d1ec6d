"""Topic names under the configured prefix, and their idempotent creation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from chatwatch.settings import Settings
from chatwatch.streams.kafka_security import aiokafka_options

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Topic:
    """What a topic carries, for the people who read the docs (the roles say which of them read and write it)."""

    suffix: str  # the name is `<prefix>.<suffix>`
    key: str
    holds: str
    writers: str = ""  # writers that are not worker roles
    readers: str = ""  # readers that are not worker roles


TOPICS: dict[str, Topic] = {  # TopicNames attribute -> its description; docs/architecture.md's table comes from here
    "raw": Topic("raw", "conversation (routing fields)", "webhook bodies exactly as received (headers: source, "
                 "received_at)", writers="webhook receiver"),
    "messages": Topic("messages", "conversation", "canonical Message JSON", writers="`chatwatch import`"),
    "statuses": Topic("statuses", "conversation", "StatusUpdate JSON (sent, delivered, read, failed…)",
                      readers="analytics"),
    "events": Topic("events", "conversation or phone id", "CallEvent and WebhookError JSON (`kind`: call or error)",
                    readers="operators, analytics"),
    "identities": Topic("identities", "phone id:user id", "compacted: the latest phone <-> user id link seen together"),
    "alerts": Topic("alerts", "conversation", "Alert JSON (rule, masked terms, offsets; never the message text)"),
    "scans": Topic("scans", "conversation", "ScanRecord JSON: one per message (redacted text, PII counts, alert ids)"),
    "rates": Topic("rates", "employee, else business number", "messages counted by per-employee rate rules"),
    "deadletter": Topic("deadletter", "—", "DeadLetter JSON: inputs a stage could not process, outputs Kafka refused "
                        "(reason, error, original bytes, source offset)", readers="operators"),
    "notify": Topic("notify", "— (one partition)", "alerts again, on one partition: the notification state has a "
                    "single owner"),
    "notify_deadletter": Topic("notify.deadletter", "—", "notifications given up after retries (DeadLetter JSON)",
                               readers="operators"),
}


@dataclass(frozen=True)
class TopicNames:
    raw: str
    messages: str
    statuses: str
    events: str
    identities: str
    alerts: str
    scans: str
    rates: str
    deadletter: str
    notify: str  # ONE partition
    notify_deadletter: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        return cls.with_prefix(settings.topic_prefix)

    @classmethod
    def with_prefix(cls, prefix: str) -> TopicNames:
        return cls(**{field: f"{prefix}.{topic.suffix}" for field, topic in TOPICS.items()})

    def all(self) -> list[str]:
        """Every topic but `notify` (created with one partition, apart)."""
        return [getattr(self, field) for field in TOPICS if field != "notify"]


def topic_configs(name: str, settings: Settings) -> dict[str, str]:
    """Per-topic settings at creation: the raw topic takes whole webhook bodies (Meta: up to 3 MB), which
    the broker's default 1 MiB limit would refuse; dead letters are capped below their topic's limit."""
    names = TopicNames.from_settings(settings)
    if name == names.raw:
        return {"max.message.bytes": str(settings.raw_record_max_bytes)}
    if name == names.identities:
        return {"cleanup.policy": "compact"}  # the latest link per user id, kept for good
    if name in (names.deadletter, names.notify_deadletter):
        return {"max.message.bytes": str(settings.deadletter_max_payload_bytes * 4 // 3 + 64 * 1024)}
    return {}


async def until_kafka_answers(attempt: Callable[[], Awaitable[T]], what: str, max_backoff_s: float = 30.0) -> T:
    """`attempt()`, retried with backoff while the broker does not answer: processes may start before Kafka."""
    backoff = 1.0
    while True:
        try:
            return await attempt()
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("%s: Kafka does not answer yet (%s); retrying in %.0fs", what, type(exc).__name__, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)


async def wait_for_topics(settings: Settings) -> list[str]:
    """`ensure_topics` once the broker answers."""
    return await until_kafka_answers(lambda: ensure_topics(settings), f"topics on {settings.kafka_bootstrap}")


async def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics with the configured partitions and sizes; existing ones are left as they are
    (raise an existing raw topic's `max.message.bytes` by hand, see README Operations)."""
    names = TopicNames.from_settings(settings).all()
    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        one = TopicNames.from_settings(settings).notify
        if one not in existing:
            missing.append(one)
        if missing:
            new = [NewTopic(n, 1 if n == one else settings.topic_partitions, settings.topic_replication,
                            topic_configs=topic_configs(n, settings)) for n in missing]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another process created them first
            log.info("created topics %s", missing)
        return missing
    finally:
        await admin.close()


async def partitions_of(admin: AIOKafkaAdminClient, topic: str) -> list[int]:
    """A topic's partition numbers, asked of the broker. (`AIOKafkaConsumer.topics()` fetches metadata into a
    copy it returns, so `partitions_for_topic` after it still knows nothing: an empty list, silently.)"""
    (described,) = await admin.describe_topics([topic])
    if described.get("error_code"):
        raise LookupError(f"topic {topic}: error code {described['error_code']}")
    return sorted(p["partition"] for p in described.get("partitions") or ())
