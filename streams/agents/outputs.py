"""What an agent step wants written, and the delivery that makes at-least-once hold.

An agent computes a list of `Output`s for one input record, then `Delivery` sends them all and
waits for the broker's acknowledgement before the agent takes the next record. Faust commits an
input offset only once the agent has moved past it, so an offset is never committed before its
outputs are on Kafka.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sinks import metrics
from streams.deadletter import dead_letter

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
            except Exception as exc:  # noqa: BLE001 - any producer failure means "not stored yet"
                log.warning("delivery of %d record(s) failed (%s); retrying in %.1fs", len(outputs),
                            type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
