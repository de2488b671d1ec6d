"""What an agent step wants written, and the delivery that makes at-least-once hold without stalling.

An agent computes a list of `Output`s for a batch of input records and hands them to `InFlight`,
which sends them at once and acks the batch's input events only after the broker acknowledged
every output (`Delivery.settle`). Faust commits an input offset only once its event is acked, so
an offset is never committed before its outputs are on Kafka — or, when Kafka refuses an output
for good, before its dead letter is. Sinks that are not Kafka (the archive) gather their events
in an `Accumulator`, which acks them after the store.

Errors at the produce are of two classes:
- retriable (broker unreachable, leader moving, timeouts): back off and retry only the outputs
  that failed; the agent stops consuming meanwhile (one log line and one count per episode);
- permanent (record too large, not authorized, unknown topic after a few tries, a value that
  cannot be serialized): the output becomes a dead letter (`output_rejected`, with the error
  class). A dead letter that is itself refused is logged and counted, and the partition moves on.

A step that raises never takes records with it: `batch_agent` runs the batch's records one by one
and dead-letters only the ones that raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError, UnknownTopicOrPartitionError
from faust.exceptions import ProducerSendError

from chatwatch.logs import fields
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
                where, error, **fields(stage=stage, reason=reason, topic=source_topic, partition=partition, offset=offset,
                                       error_class=error_class))
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
    """Sends outputs with the Faust app's producer: retriable errors are retried with backoff
    (only the failed outputs, so no duplicates), permanent ones become dead letters.

    `send` hands outputs to the producer without waiting; `settle` waits for their acknowledgements
    and retries what failed; calling the delivery does both."""

    def __init__(self, app: Any, stage: str, deadletter_topic: str, max_backoff_s: float = 30.0):
        self._app = app
        self._stage = stage
        self._deadletter_topic = deadletter_topic
        self._max_backoff_s = max_backoff_s
        self._producer: Any = None

    async def send(self, outputs: list[Output]) -> list[Any]:
        """A future per output, or the error that refused it before it left (too large, serialization…)."""
        if self._producer is None:
            self._producer = await self._app.maybe_start_producer()
        sent: list[Any] = []
        for output in outputs:
            try:
                sent.append(await self._producer.send(output.topic, output.key, output.value, None, None, None))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                sent.append(exc)
        return sent

    async def settle(self, outputs: list[Output], sent: list[Any]) -> None:
        """Return once every output is acknowledged, or dead-lettered when Kafka will never take it."""
        pending, errors, attempt, backoff, backing_off = list(outputs), await _outcomes(sent), 1, 0.5, False
        try:
            while True:
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
                if not retry:
                    return
                if transient:
                    if not backing_off:
                        backing_off = True
                        metrics.delivery_backoff_episodes.labels(self._stage).inc()
                        metrics.delivery_backing_off.labels(self._stage).set(1)
                        log.warning("%s: Kafka did not take %d record(s) (%s); retrying with backoff, not consuming "
                                    "meanwhile", self._stage, len(transient), error_class(transient[0]),
                                    **fields(stage=self._stage, error_class=error_class(transient[0])))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff_s)
                pending = retry
                errors = await _outcomes(await self.send(pending))
                attempt += 1
        finally:
            if backing_off:
                metrics.delivery_backing_off.labels(self._stage).set(0)
                log.info("%s: Kafka takes records again after %d attempt(s)", self._stage, attempt,
                         **fields(stage=self._stage, attempt=attempt))

    async def __call__(self, outputs: list[Output]) -> None:
        await self.settle(outputs, await self.send(outputs))

    def _rejected(self, output: Output, exc: BaseException) -> Output | None:
        """A dead letter for an output Kafka will never take; None when the output was a dead letter."""
        cls = error_class(exc)
        metrics.outputs_rejected.labels(self._stage, cls).inc()
        src = output.source or Source(output.topic)
        if output.is_dead_letter:
            metrics.dead_letters_unwritable.labels(self._stage).inc()
            log.error("%s: dead letter for %s[%s]@%s refused by Kafka (%s); dropped, the partition moves on",
                      self._stage, src.topic, src.partition, src.offset, cls,
                      **fields(stage=self._stage, topic=src.topic, partition=src.partition, offset=src.offset,
                               error_class=cls))
            return None
        return dead_letter_output(self._stage, Reason.output_rejected, f"Kafka refused the output for {output.topic}: "
                                  f"{cls}", output.value, self._deadletter_topic, src.topic, src.partition, src.offset,
                                  error_class=cls)


class InFlight:
    """Pipelined delivery: a batch's outputs are sent at once and the agent takes its next batch
    while the broker acknowledges them. A batch's input events are acked (their offsets become
    committable) only after all its outputs are acknowledged, batches in order; at most `window`
    batches wait, then the agent waits too. So no offset is committed before its outputs are on
    Kafka, as with a delivery awaited per batch, without a broker round trip per batch."""

    RETRY_S = 1.0

    def __init__(self, app: Any, delivery: Delivery, window: int):
        self._app = app
        self._delivery = delivery
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=max(1, window))

    async def submit(self, events: list[Any], outputs: list[Output], held: bool = False) -> None:
        """Send `outputs`; `events` are acked once they are acknowledged. `held`: the caller already took
        the extra reference on each event (it kept them past Faust's ack itself)."""
        if not held:
            hold(events)
        await self._queue.put((events, outputs, await self._delivery.send(outputs)))

    async def confirm(self) -> None:
        """Runs beside the agent: settle each batch in order, then release its input events."""
        while True:
            events, outputs, sent = await self._queue.get()
            while True:  # this task must not die: the agent would wait on a full queue forever
                try:
                    if sent is None:
                        sent = await self._delivery.send(outputs)
                    await self._delivery.settle(outputs, sent)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bug, not Kafka: send the batch again rather than lose it
                    log.exception("confirming a batch of %d output(s) failed; sending it again", len(outputs))
                    sent = None
                    await asyncio.sleep(self.RETRY_S)
            for event in events:
                event.message.ack(self._app.consumer)


class Accumulator:
    """Gathers a slow sink's input events into large batches: `store` runs when `max_batch` events wait,
    when the oldest has waited `within_s`, or at once when the worker stops (`flush_now`). Events are
    held past Faust's own ack and released only after `store` returned, so their offsets are committed
    only once stored; at most two batches wait, then the agent waits too.

    `store` retries the sink's own outages. Any other failure is a record no code path expected (or a
    bug): the batch is tried `attempts` times, then split in halves until the events that fail alone
    are found; those go to `poison` (a dead letter) and are released, so one bad record cannot stall
    every partition behind it."""

    ATTEMPTS = 3

    def __init__(self, app: Any, store: Callable[[list[Any]], Awaitable[None]], max_batch: int, within_s: float,
                 pending: Any = None, poison: Callable[[list[Any], BaseException], Awaitable[None]] | None = None,
                 retry_s: float = 1.0):
        self._app, self._store, self._max, self._within = app, store, max_batch, within_s
        self._poison, self._retry_s = poison, retry_s
        self._pending = pending  # a Prometheus gauge of the events waiting, or None
        self._events: list[Any] = []
        self._oldest = 0.0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._stopping = False

    async def add(self, events: list[Any]) -> None:
        hold(events)
        if not self._events:
            self._oldest = time.monotonic()
            self._wake.set()
        self._events.extend(events)
        self._count()
        if len(self._events) >= self._max:
            self._wake.set()
        while len(self._events) >= 2 * self._max:
            self._room.clear()
            await self._room.wait()

    async def flush_now(self) -> None:
        """Store what waits without waiting for the batch to fill (shutdown)."""
        self._stopping = True
        self._wake.set()

    def _due(self) -> float | None:
        """Seconds until the waiting events must be stored (0: now), None when nothing waits."""
        if not self._events:
            return None
        if self._stopping or len(self._events) >= self._max:
            return 0.0
        return max(0.0, self._oldest + self._within - time.monotonic())

    async def run(self) -> None:
        while True:
            due = self._due()
            if due != 0.0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), due)
                except TimeoutError:
                    pass
                continue
            batch, self._events = self._events[:self._max], self._events[self._max:]
            self._oldest = time.monotonic()
            await self._store_or_isolate(batch)
            for event in batch:
                event.message.ack(self._app.consumer)
            self._count()
            self._room.set()

    async def _store_or_isolate(self, batch: list[Any]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._store(batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # not the sink's outage (the store retries those itself)
                error = exc
                log.exception("storing a batch of %d record(s) failed (attempt %d)", len(batch), attempt)
                await asyncio.sleep(self._retry_s)
            if attempt >= self.ATTEMPTS and self._poison is not None:
                break  # without a place for poison, keep trying, as before
        if len(batch) == 1:
            log.error("a record fails alone (%s); dead-lettered, the partition moves on", type(error).__name__)
            await self._poison(batch, error)
            return
        half = len(batch) // 2
        await self._store_or_isolate(batch[:half])
        await self._store_or_isolate(batch[half:])

    def _count(self) -> None:
        if self._pending is not None:
            self._pending.set(len(self._events))


@contextlib.asynccontextmanager
async def acked_when_done(app: Any, events: list[Any]) -> AsyncIterator[None]:
    """The batch's offsets become committable only once the body finished. Faust acks a batch's events
    when the next batch is taken, even after the body raised: the batch would be committed without its
    alerts and states. Held, a batch whose body raised keeps its partition's offset where it was (the
    stuck-partition check then fails /healthz, and the restart replays it)."""
    hold(events)
    yield
    for event in events:
        event.message.ack(app.consumer)


def hold(events: list[Any]) -> None:
    """Keep events unacked past Faust's own ack (at the next batch): an extra reference on each message,
    released by `event.message.ack(consumer)`."""
    for event in events:
        event.message.incref()


async def _outcomes(sent: list[Any]) -> list[BaseException | None]:
    waiting = [f for f in sent if not isinstance(f, BaseException)]
    acks = iter(await asyncio.gather(*waiting, return_exceptions=True))
    return [f if isinstance(f, BaseException) else _error_or_none(next(acks)) for f in sent]


def _error_or_none(result: Any) -> BaseException | None:
    return result if isinstance(result, BaseException) else None


def _safe_step(stage: str, step: Callable[[Any], list[Output]], message: Any, deadletter_topic: str) -> list[Output]:
    try:
        return step(message)
    except Exception as exc:
        log.exception("%s failed at %s[%s]@%s", stage, message.topic, message.partition, message.offset,
                      **fields(stage=stage, topic=message.topic, partition=message.partition, offset=message.offset))
        return [dead_letter_output(stage, Reason.processing_error, type(exc).__name__, message.value or b"",
                                   deadletter_topic, message.topic, message.partition, message.offset,
                                   error_class=type(exc).__name__)]


def batch_agent(app: Any, topic_name: str, name: str, stage: str, step: Callable[[list[Any]], list[Output]],
                max_batch: int, within_s: float, deadletter_topic: str, window: int = 8) -> Any:
    """An agent that maps each batch of records (Faust Messages: value, partition, offset, timestamp)
    to outputs with a pure `step` and hands them to an `InFlight` pipeline. A batch whose step raises
    is run again record by record, so only the records that fail alone are dead-lettered."""
    in_flight = InFlight(app, Delivery(app, stage, deadletter_topic), window)

    @app.agent(bytes_topic(app, topic_name), name=name)
    async def agent(stream: Any) -> None:
        confirming = asyncio.ensure_future(in_flight.confirm())
        try:
            async for events in stream.take_events(max_batch, within=within_s):
                started = time.perf_counter()
                messages = [e.message for e in events]
                try:
                    outputs = step(messages)
                except Exception:
                    log.exception("%s failed on a batch of %d; retrying its records one by one", stage, len(messages))
                    outputs = [o for m in messages for o in _safe_step(stage, lambda one: step([one]), m,
                                                                        deadletter_topic)]
                await in_flight.submit(events, outputs)
                metrics.batch_size.labels(stage).observe(len(events))
                metrics.batch_seconds.labels(stage).observe(time.perf_counter() - started)
        finally:
            confirming.cancel()

    return agent


def bytes_topic(app: Any, *names: str, **options: Any) -> Any:
    """A topic (or several) an agent reads as raw bytes: each step decodes and validates its records
    itself, so a bad record becomes a dead letter instead of a Faust decode error."""
    return app.topic(*names, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw", **options)


def per_record(step: Callable[[Any], list[Output]]) -> Callable[[list[Any]], list[Output]]:
    """A batch step from a step over one record."""
    return lambda batch: [o for message in batch for o in step(message)]
