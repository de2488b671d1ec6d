"""Put canonical records on a topic from outside the worker (chat imports), acknowledged by Kafka."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaProducer

from chatwatch.records import Message
from chatwatch.settings import Settings
from chatwatch.streams.kafka_security import aiokafka_options

BATCH = 500


async def publish_messages(settings: Settings, topic: str, messages: Iterable[Message],
                           progress: Callable[[int], None] = lambda n: None) -> int:
    """Send each message keyed by its conversation (the scan path's key), waiting for every
    acknowledgement (acks=all, idempotent): when this returns, Kafka has them all."""
    producer = AIOKafkaProducer(**aiokafka_options(settings), acks="all", enable_idempotence=True,
                                linger_ms=20, max_request_size=settings.raw_record_max_bytes)
    await producer.start()
    sent = 0
    try:
        pending = []
        for msg in messages:
            pending.append(await producer.send(topic, msg.to_bytes(), key=msg.conversation_key.encode()))
            if len(pending) >= BATCH:
                sent += await _settle(pending, progress)
        sent += await _settle(pending, progress)
    finally:
        await producer.stop()
    return sent


async def _settle(pending: list, progress: Callable[[int], None]) -> int:
    for future in pending:
        await future
    progress(len(pending))
    done = len(pending)
    pending.clear()
    return done
