"""What an agent step wants written, and the delivery that makes at-least-once hold.

An agent computes a list of `Output`s for one input record, then `Delivery` sends them all and
waits for the broker's acknowledgement before the agent takes the next record. Faust commits an
input offset only once the agent has moved past it, so an offset is never committed before its
outputs are on Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatwatch.streams import metrics
from chatwatch.streams.deadletter import dead_letter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes


def dead_letter_output(stage: str, reason: str, error: str, value: bytes, deadletter_topic: str,
                       source_topic: str, partition: int | None, offset: int | None) -> Output:
    """Count, log (without the payload) and wrap one dead letter."""
    metrics.dead_letters.labels(stage, reason).inc()
    log.warning("dead letter stage=%s reason=%s at %s[%s]@%s: %s", stage, reason, source_topic, partition, offset,
                error)
    dl = dead_letter(stage, reason, error, value, source_topic, partition, offset)
    return Output(deadletter_topic, None, dl.to_bytes())


class Delivery:
    """Sends outputs through the Faust app's producer; retries with backoff, never drops."""

    def __init__(self, app: Any, max_backoff_s: float = 30.0):
        self._app = app
        self._topics: dict[str, Any] = {}
        self._max_backoff_s = max_backoff_s

    def _topic(self, name: str) -> Any:
        if name not in self._topics:
            self._topics[name] = self._app.topic(name, value_serializer="raw", key_serializer="raw")
        return self._topics[name]

    async def __call__(self, outputs: list[Output]) -> None:
        backoff = 0.5
        while True:
            try:
                futures = [await self._topic(o.topic).send(key=o.key, value=o.value) for o in outputs]
                await asyncio.gather(*futures)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("delivery of %d record(s) failed (%s); retrying in %.1fs", len(outputs),
                            type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)


def step_agent(app: Any, topic_name: str, name: str, stage: str, step: Callable[[Any], list[Output]]) -> Any:
    """An agent that maps each record (a Faust Message: value, partition, offset, timestamp) to
    outputs with a pure `step`, delivers them, and only then takes the next record."""
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw")
    deliver = Delivery(app)

    @app.agent(topic, name=name)
    async def agent(stream: Any) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            await deliver(step(event.message))
            metrics.processing_seconds.labels(stage).observe(time.perf_counter() - started)

    return agent


def batch_agent(app: Any, topic_name: str, name: str, stage: str, step: Callable[[list[Any]], list[Output]],
                max_batch: int, within_s: float) -> Any:
    """Like `step_agent`, over batches: Faust acks a batch's events only when the agent asks for the
    next batch, i.e. after `deliver` returned, so at-least-once holds."""
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw")
    deliver = Delivery(app)

    @app.agent(topic, name=name)
    async def agent(stream: Any) -> None:
        async for events in stream.take_events(max_batch, within=within_s):
            started = time.perf_counter()
            await deliver(step([e.message for e in events]))
            elapsed = time.perf_counter() - started
            metrics.scan_batch_size.observe(len(events))
            for _ in events:
                metrics.processing_seconds.labels(stage).observe(elapsed)

    return agent
