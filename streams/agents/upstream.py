"""The wall time up to which every message the receiver took has reached the conversation rules.

A quiet partition's deadlines ("no reply within 15 minutes") are judged by the wall clock. That is true
only when nothing older waits upstream: after a restart or a backlog, or with a conversation worker
started before normalize and scan, "no reply" fired for replies still waiting in the raw or messages
topic. So the wall clock is trusted only up to the time this probe last proved caught up:

  note the wall time t; read the end offsets of the raw topic; wait until a consumer group of this
  deployment has committed past them; then the same for the messages topic (its end read only now, so
  it holds what normalize made of those raw records), then the scans topic for the conversation group.

When the last is passed, every record written before t has been through every stage, and t is the
caught-up time. A stage commits an offset only once its outputs are on Kafka (outputs.py), so a
committed offset past the end means its outputs are written. Groups from an older layout (their
committed offsets left behind) do not hold the probe: per partition the furthest group counts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from chatwatch.settings import Settings
from chatwatch.streams import metrics
from chatwatch.streams.kafka_security import aiokafka_options
from chatwatch.streams.topics import partitions_of

log = logging.getLogger(__name__)

Offsets = dict[int, int]  # partition -> offset


@dataclass(frozen=True)
class Stage:
    """A topic and the consumer groups whose commits say it was read: `groups` None means every group of
    the deployment (the furthest counts), else these group ids."""

    topic: str
    groups: tuple[str, ...] | None = None


def passed(committed: Offsets, ends: Offsets) -> bool:
    """Every partition's committed offset at or past its end (an empty partition needs no commit)."""
    return all(committed.get(p, 0) >= end for p, end in ends.items() if end > 0)


class UpstreamProbe:
    """Proves, stage after stage, that the records written before a wall time have all been read."""

    GIVE_UP_AFTER = 3

    def __init__(self, stages: list[Stage], ends: Callable[[str], Awaitable[Offsets]],
                 committed: Callable[[Stage], Awaitable[Offsets]], wall: Callable[[], float] = time.time,
                 poll_s: float = 1.0):
        self.stages, self._ends, self._committed, self._wall, self.poll_s = stages, ends, committed, wall, poll_s
        self.caught_up_at = 0.0  # nothing is proved before a first probe completes
        self.failing = 0  # probes failed in a row

    def trusted(self) -> float | None:
        """The wall time the clock may go up to, or None when the probe cannot tell (Kafka refuses it
        again and again, say the worker may not describe the other groups): then the wall clock alone."""
        return None if self.failing >= self.GIVE_UP_AFTER else self.caught_up_at

    async def once(self) -> float:
        """One probe: returns (and keeps) the wall time it started at, once every stage has passed it."""
        started = self._wall()
        for stage in self.stages:
            ends = await self._ends(stage.topic)
            while not passed(await self._committed(stage), ends):
                metrics.conversation_upstream_behind.set(max(0.0, self._wall() - self.caught_up_at))
                await asyncio.sleep(self.poll_s)
        self.caught_up_at = max(self.caught_up_at, started)
        metrics.conversation_upstream_behind.set(max(0.0, self._wall() - self.caught_up_at))
        return started

    async def run(self) -> None:
        """Probe forever; a Kafka error is logged and the probe starts again (the time does not advance)."""
        while True:
            try:
                await self.once()
                self.failing = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failing += 1
                log.warning("upstream probe failed %d time(s) in a row (%s); %s", self.failing, type(exc).__name__,
                            "quiet partitions now follow the wall clock alone" if self.trusted() is None else
                            "quiet partitions wait on the last caught-up time")
            await asyncio.sleep(self.poll_s)


class KafkaOffsets:
    """End offsets (a consumer with no group) and committed offsets (the admin client) on the real broker."""

    def __init__(self, settings: Settings):
        self.prefix, self._settings = settings.base_group_id, settings

    async def start(self) -> None:
        """Made here, not in __init__: aiokafka's clients belong to the running event loop."""
        self._consumer = AIOKafkaConsumer(**aiokafka_options(self._settings), group_id=None, enable_auto_commit=False)
        self._admin = AIOKafkaAdminClient(**aiokafka_options(self._settings))
        await self._consumer.start()
        await self._admin.start()

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def ends(self, topic: str) -> Offsets:
        partitions = [TopicPartition(topic, p) for p in await partitions_of(self._admin, topic)]
        if not partitions:  # never "passed" for want of partitions to check
            raise LookupError(f"topic {topic}: no partitions")
        found = await self._consumer.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in found.items()}

    async def groups(self) -> list[str]:
        """This deployment's consumer groups: the base group id and its per-role-set variants."""
        listed = await self._admin.list_consumer_groups()
        return sorted({g[0] for g in listed if g[0] == self.prefix or g[0].startswith(self.prefix + ".")})

    async def committed(self, stage: Stage) -> Offsets:
        best: Offsets = {}
        for group in stage.groups if stage.groups is not None else await self.groups():
            for tp, meta in (await self._admin.list_consumer_group_offsets(group)).items():
                if tp.topic == stage.topic and meta.offset >= 0:
                    best[tp.partition] = max(best.get(tp.partition, 0), meta.offset)
        return best

