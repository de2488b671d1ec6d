"""The identity links a restarted worker reads before its first message (real broker)."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from chatwatch.settings import Settings
from chatwatch.streams.identities import IdentityLinks, catch_up, record


def test_catch_up_reads_every_partition_of_the_identities_topic_before_the_worker_starts(kafka_bootstrap: str):
    """It asked the consumer for the topic's partitions after `topics()`, which fetches metadata into a copy:
    no partitions, 0 links read, and a restarted worker met its first username-only message knowing nobody."""
    topic = f"cw-{uuid.uuid4().hex[:8]}.identities"
    links = [("277321005464405", f"BR.user{i}", f"55119400{i:05d}") for i in range(30)]

    async def scenario() -> tuple[int, IdentityLinks]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 3, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for link in links:
                key, value = record(*link)
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()
        known = IdentityLinks()
        read = await catch_up(known, Settings(kafka_bootstrap=kafka_bootstrap), topic, timeout_s=30)
        return read, known

    read, known = asyncio.run(scenario())
    assert read == 30 and len(known) == 30
    assert known.lookup("277321005464405", "BR.user7") == "5511940000007"
