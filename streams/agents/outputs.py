"""What an agent step wants written, and the delivery that makes at-least-once hold without stalling.

An agent computes a list of `Output`s for its input records, then `Delivery` sends them and waits
for the broker's acknowledgement before the agent takes the next records. Faust commits an input
offset only once the agent has moved past it, so an offset is never committed before its outputs
are on Kafka — or, when Kafka refuses an output for good, before its dead letter is.

Errors at the produce are of two classes:
- retriable (broker unreachable, leader moving, timeouts): back off and retry only the outputs
  that failed; the agent stops consuming meanwhile (one log line and one count per episode);
- permanent (record too large, not authorized, unknown topic after a few tries, a value that
  cannot be serialized): the output becomes a dead letter (`output_rejected`, with the error
  class). A dead letter that is itself refused is logged and counted, and the partition moves on.

A step that raises never takes records with it: `step_agent` dead-letters the record; `batch_agent`
runs the batch's records one by one and dead-letters only the ones that raise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError, UnknownTopicOrPartitionError
from faust.exceptions import ProducerSendError

from chatwatch.streams import metrics
from chatwatch.streams.deadletter import Reason, dead_letter

log = logging.getLogger(__name__)

# An unknown topic is retriable for Kafka (it may be being created); after this many tries it is not.
UNKNOWN_TOPIC_ATTEMPTS = 5


@dataclass(frozen=True)
class Source:
    """The input record an output was made from: where a dead letter of the output points."""

    topic: str
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes | None
    value: bytes
    source: Source | None = None
    is_dead_letter: bool = False  # refused too: counted and dropped, never retried for ever


def dead_letter_output(stage: str, reason: str, error: str, value: bytes, deadletter_topic: str,
                       source_topic: str, partition: int | None, offset: int | None, *,
                       error_class: str | None = None, item_index: str | None = None) -> Output:
    """Count, log (without the payload) and wrap one dead letter."""
    metrics.dead_letters.labels(stage, reason).inc()
    where = f" item {item_index}" if item_index else ""
    log.warning("dead letter stage=%s reason=%s at %s[%s]@%s%s: %s", stage, reason, source_topic, partition, offset,
                where, error)
    dl = dead_letter(stage, reason, error, value, source_topic, partition, offset, error_class=error_class,
                     item_index=item_index)
    return Output(deadletter_topic, None, dl.to_bytes(), Source(source_topic, partition, offset), is_dead_letter=True)


def is_permanent(exc: BaseException, attempt: int) -> bool:
    """Will sending the same record again never succeed? (Faust wraps aiokafka's errors.)"""
    cause = exc.__cause__ if isinstance(exc, ProducerSendError) and exc.__cause__ is not None else exc
    if isinstance(cause, UnknownTopicOrPartitionError):
        return attempt >= UNKNOWN_TOPIC_ATTEMPTS
    if isinstance(cause, KafkaError):
        return not cause.retriable
    if isinstance(cause, ProducerSendError | TimeoutError | ConnectionError):
        return False  # a send error without a cause, a timeout, a dropped connection: try again
    return True  # TypeError, ValueError…: the record itself cannot be sent


def error_class(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc, ProducerSendError) and exc.__cause__ is not None else exc
    return type(cause).__name__


class Delivery:
    """Sends outputs through the Faust app's producer: retriable errors are retried with backoff
    (only the failed outputs, so no duplicates), permanent ones become dead letters."""

    def __init__(self, app: Any, stage: str, deadletter_topic: str, max_backoff_s: float = 30.0):
        self._app = app
        self._stage = stage
        self._deadletter_topic = deadletter_topic
        self._topics: dict[str, Any] = {}
        self._max_backoff_s = max_backoff_s

    def _topic(self, name: str) -> Any:
        if name not in self._topics:
            self._topics[name] = self._app.topic(name, value_serializer="raw", key_serializer="raw")
        return self._topics[name]

    async def _send(self, output: Output) -> Any:
        return await self._topic(output.topic).send(key=output.key, value=output.value)

    async def _attempt(self, outputs: list[Output]) -> list[BaseException | None]:
        """Send all, then wait for every acknowledgement; the error of each output, or None."""
        sent: list[Any] = []
        for output in outputs:
            try:
                sent.append(await self._send(output))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused before it left (too large for the producer, serialization…)
                sent.append(exc)
        waiting = [f for f in sent if not isinstance(f, BaseException)]
        acks = iter(await asyncio.gather(*waiting, return_exceptions=True))
        return [f if isinstance(f, BaseException) else _error_or_none(next(acks)) for f in sent]

    async def __call__(self, outputs: list[Output]) -> None:
        pending, attempt, backoff, backing_off = list(outputs), 0, 0.5, False
        try:
            while pending:
                errors = await self._attempt(pending)
                attempt += 1
                retry: list[Output] = []
                transient: list[BaseException] = []
                for output, exc in zip(pending, errors, strict=True):
                    if exc is None:
                        continue
                    if not is_permanent(exc, attempt):
                        retry.append(output)
                        transient.append(exc)
                    elif (dead := self._rejected(output, exc)) is not None:
                        retry.append(dead)  # sent on the next pass, without waiting
                if transient:
                    if not backing_off:
                        backing_off = True
                        metrics.delivery_backoff_episodes.labels(self._stage).inc()
                        metrics.delivery_backing_off.labels(self._stage).set(1)
                        log.warning("%s: Kafka did not take %d record(s) (%s); retrying with backoff, not consuming "
                                    "meanwhile", self._stage, len(transient), error_class(transient[0]))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff_s)
                pending = retry
        finally:
            if backing_off:
                metrics.delivery_backing_off.labels(self._stage).set(0)
                log.info("%s: Kafka takes records again after %d attempt(s)", self._stage, attempt)

    def _rejected(self, output: Output, exc: BaseException) -> Output | None:
        """A dead letter for an output Kafka will never take; None when the output was a dead letter."""
        cls = error_class(exc)
        metrics.outputs_rejected.labels(self._stage, cls).inc()
        src = output.source or Source(output.topic)
        if output.is_dead_letter:
            metrics.dead_letters_unwritable.labels(self._stage).inc()
            log.error("%s: dead letter for %s[%s]@%s refused by Kafka (%s); dropped, the partition moves on",
                      self._stage, src.topic, src.partition, src.offset, cls)
            return None
        return dead_letter_output(self._stage, Reason.output_rejected, f"Kafka refused the output for {output.topic}: "
                                  f"{cls}", output.value, self._deadletter_topic, src.topic, src.partition, src.offset,
                                  error_class=cls)


def _error_or_none(result: Any) -> BaseException | None:
    return result if isinstance(result, BaseException) else None


def _safe_step(stage: str, step: Callable[[Any], list[Output]], message: Any, deadletter_topic: str) -> list[Output]:
    try:
        return step(message)
    except Exception as exc:
        log.exception("%s failed at %s[%s]@%s", stage, message.topic, message.partition, message.offset)
        return [dead_letter_output(stage, Reason.processing_error, type(exc).__name__, message.value or b"",
                                   deadletter_topic, message.topic, message.partition, message.offset,
                                   error_class=type(exc).__name__)]


def step_agent(app: Any, topic_name: str, name: str, stage: str, step: Callable[[Any], list[Output]],
               deadletter_topic: str) -> Any:
    """An agent that maps each record (a Faust Message: value, partition, offset, timestamp) to
    outputs with a pure `step`, delivers them, and only then takes the next record."""
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw")
    deliver = Delivery(app, stage, deadletter_topic)

    @app.agent(topic, name=name)
    async def agent(stream: Any) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            await deliver(_safe_step(stage, step, event.message, deadletter_topic))
            metrics.processing_seconds.labels(stage).observe(time.perf_counter() - started)

    return agent


def batch_agent(app: Any, topic_name: str, name: str, stage: str, step: Callable[[list[Any]], list[Output]],
                max_batch: int, within_s: float, deadletter_topic: str) -> Any:
    """Like `step_agent`, over batches: Faust acks a batch's events only when the agent asks for the
    next batch, i.e. after `deliver` returned, so at-least-once holds. A batch whose step raises is
    run again record by record, so only the records that fail alone are dead-lettered."""
    topic = app.topic(topic_name, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw")
    deliver = Delivery(app, stage, deadletter_topic)

    @app.agent(topic, name=name)
    async def agent(stream: Any) -> None:
        async for events in stream.take_events(max_batch, within=within_s):
            started = time.perf_counter()
            messages = [e.message for e in events]
            try:
                outputs = step(messages)
            except Exception:
                log.exception("%s failed on a batch of %d; retrying its records one by one", stage, len(messages))
                outputs = [o for m in messages for o in _safe_step(stage, lambda one: step([one]), m, deadletter_topic)]
            await deliver(outputs)
            metrics.scan_batch_size.observe(len(events))
            metrics.processing_seconds.labels(stage).observe((time.perf_counter() - started) / max(len(events), 1))

    return agent
