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
class TopicNames:
    raw: str  # webhook bodies exactly as received (bytes), headers: source, received_at
    messages: str  # canonical Message JSON, key = conversation_key
    statuses: str  # StatusUpdate JSON, key = conversation_key
    events: str  # CallEvent and WebhookError JSON ("kind": call | error), key = conversation_key or phone id
    identities: str  # compacted: "<phone id>:<user id>" -> {phone_id, user_id, phone} (streams/identities.py)
    alerts: str  # Alert JSON, key = conversation_key
    scans: str  # ScanRecord JSON (archive + analytics), key = conversation_key
    rates: str  # messages counted by per-employee rate rules, key = employee id (re-partitioned by employee)
    deadletter: str  # DeadLetter JSON
    notify: str  # alerts again, ONE partition: the notification state has a single owner
    notify_deadletter: str  # notifications given up after retries (DeadLetter JSON)

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        p = settings.topic_prefix
        return cls(
            raw=f"{p}.raw",
            messages=f"{p}.messages",
            statuses=f"{p}.statuses",
            events=f"{p}.events",
            identities=f"{p}.identities",
            alerts=f"{p}.alerts",
            scans=f"{p}.scans",
            rates=f"{p}.rates",
            deadletter=f"{p}.deadletter",
            notify=f"{p}.notify",
            notify_deadletter=f"{p}.notify.deadletter",
        )

    def all(self) -> list[str]:
        return [self.raw, self.messages, self.statuses, self.events, self.identities, self.alerts, self.scans, self.rates,
                self.deadletter, self.notify_deadletter]


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
