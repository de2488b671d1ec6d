"""Who a business-scoped user id is: the phone number it was seen with.

WhatsApp usernames let a customer hide their number; webhooks then carry only a user id. A customer
first seen by number (or with both) must keep their conversation, so every normalize worker keeps
the links (business phone id, user id) -> number that webhooks showed together, shares new ones on
the compacted `<prefix>.identities` topic, and follows that topic from its start to learn the others'.
Eventually consistent: a link published by one worker reaches the others within a poll.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from chatwatch.settings import Settings
from chatwatch.streams.kafka_security import aiokafka_options
from chatwatch.streams.topics import partitions_of, until_kafka_answers

log = logging.getLogger(__name__)


class IdentityLinks:
    def __init__(self) -> None:
        self._phones: dict[tuple[str, str], str] = {}

    def __len__(self) -> int:
        return len(self._phones)

    def lookup(self, phone_id: str, user_id: str) -> str | None:
        return self._phones.get((phone_id, user_id))

    def learn(self, links: Iterable[tuple[str, str, str]]) -> list[tuple[bytes, bytes]]:
        """Remember links; the new or changed ones as (key, value) records to share."""
        out = []
        for phone_id, user_id, phone in links:
            if self._phones.get((phone_id, user_id)) != phone:
                self._phones[(phone_id, user_id)] = phone
                out.append(record(phone_id, user_id, phone))
        return out

    def load(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the identities topic (a bad one is skipped: the topic is ours, but never trusted)."""
        try:
            doc = json.loads(value or b"")
            self._phones[(str(doc["phone_id"]), str(doc["user_id"]))] = str(doc["phone"])
        except (ValueError, KeyError, TypeError):
            log.warning("identities: skipped an unreadable record")


def record(phone_id: str, user_id: str, phone: str) -> tuple[bytes, bytes]:
    key = f"{phone_id}:{user_id}".encode()
    return key, json.dumps({"phone_id": phone_id, "user_id": user_id, "phone": phone}).encode()


async def follow(links: IdentityLinks, settings: Settings, topic: str, poll_s: float = 1.0) -> None:
    """Read the identities topic from its start, then keep reading (no consumer group: every worker
    needs every link)."""
    consumer = AIOKafkaConsumer(topic, **aiokafka_options(settings), group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await until_kafka_answers(consumer.start, f"identities consumer on {settings.kafka_bootstrap}")
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=int(poll_s * 1000), max_records=10_000)
            for messages in batches.values():
                for m in messages:
                    links.load(m.key, m.value)
    finally:
        await consumer.stop()


async def catch_up(links: IdentityLinks, settings: Settings, topic: str, timeout_s: float = 120.0) -> int:
    """Read the identities topic up to its current end before the worker starts consuming, so a restarted
    worker knows every link before its first message. Returns the records read."""
    consumer = AIOKafkaConsumer(**aiokafka_options(settings), group_id=None, enable_auto_commit=False)
    await until_kafka_answers(consumer.start, f"identities consumer on {settings.kafka_bootstrap}")
    read = 0
    try:
        admin = AIOKafkaAdminClient(**aiokafka_options(settings))
        await admin.start()
        try:
            partitions = [TopicPartition(topic, p) for p in await partitions_of(admin, topic)]
        finally:
            await admin.close()
        if not partitions:
            return 0
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        async with asyncio.timeout(timeout_s):
            while any([await consumer.position(tp) < end[tp] for tp in partitions]):
                for messages in (await consumer.getmany(*partitions, timeout_ms=500)).values():
                    for m in messages:
                        links.load(m.key, m.value)
                        read += 1
    finally:
        await consumer.stop()
    log.info("identities: %d link(s) loaded from %s", len(links), topic)
    return read
