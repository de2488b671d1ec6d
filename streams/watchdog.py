"""Stuck-partition watchdog: Faust's long-standing silent failure is a consumer that stops taking
records from a partition — no error, no log, the lag just grows.

Every `interval` the worker reports, per assigned partition of the topics its agents read, the
committed offset and the end of the log. A partition is stuck when records wait (end > committed)
and the committed offset has not moved for `stuck_after_s`. A stage that is knowingly waiting (a
produce or ClickHouse backoff, visible in its own metrics) does not count: restarting the worker
would not help it. A stuck partition fails `/healthz` (so Kubernetes restarts the worker) and is
named by `chatwatch_partition_stuck{topic,partition}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from prometheus_client import REGISTRY

from chatwatch.streams import metrics

Partition = tuple[str, int]
WAITING_GAUGES = ("chatwatch_delivery_backing_off", "chatwatch_clickhouse_backing_off")


def some_stage_backing_off() -> bool:
    """True while any stage waits out a known outage (the gauges its writers set)."""
    return any(sample.value > 0 for family in REGISTRY.collect() if family.name in WAITING_GAUGES
               for sample in family.samples)


@dataclass
class PartitionWatchdog:
    stuck_after_s: float
    explained: Callable[[], bool] = some_stage_backing_off
    clock: Callable[[], float] = time.monotonic
    _since: dict[Partition, tuple[int | None, float]] = field(default_factory=dict)
    stuck: list[Partition] = field(default_factory=list)

    def observe(self, positions: Mapping[Partition, tuple[int | None, int]]) -> list[Partition]:
        """positions: partition -> (committed offset or None, end offset). Returns the stuck partitions."""
        now = self.clock()
        stuck = []
        for tp, (committed, end) in positions.items():
            waiting = end > (committed or 0) + 1
            last = self._since.get(tp)
            if not waiting or last is None or last[0] != committed:
                self._since[tp] = (committed, now)
            elif now - last[1] >= self.stuck_after_s:
                stuck.append(tp)
        for tp in [tp for tp in self._since if tp not in positions]:  # revoked
            del self._since[tp]
        if stuck and self.explained():
            for tp in stuck:  # a known wait: start counting again once it ends
                self._since[tp] = (positions[tp][0], now)
            stuck = []
        for tp in set(self.stuck) - set(stuck):
            metrics.partition_stuck.labels(tp[0], str(tp[1])).set(0)
        for tp in stuck:
            metrics.partition_stuck.labels(tp[0], str(tp[1])).set(1)
        self.stuck = sorted(stuck)
        return self.stuck
