"""The stuck-partition watchdog with a controllable clock: records waiting and a committed offset that
does not move make a partition stuck; progress, an empty backlog, a known backoff or a revoke do not."""

from __future__ import annotations

from prometheus_client import REGISTRY

from chatwatch.streams.watchdog import PartitionWatchdog


class Clock:
    t = 1000.0

    def __call__(self) -> float:
        return self.t


def stuck_gauge(topic: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value("chatwatch_partition_stuck", {"topic": topic, "partition": str(partition)})


def test_a_partition_that_stops_moving_with_records_waiting_is_stuck_and_named():
    clock, backing_off = Clock(), {"now": False}
    dog = PartitionWatchdog(60, explained=lambda: backing_off["now"], clock=clock)
    raw0, raw1, scans = ("cw.raw", 0), ("cw.raw", 1), ("cw.scans", 0)
    assert dog.observe({raw0: (100, 500), raw1: (10, 11), scans: (None, 0)}) == []
    clock.t += 30
    assert dog.observe({raw0: (100, 800), raw1: (10, 11), scans: (None, 0)}) == []  # not long enough yet
    clock.t += 31
    # raw0: records wait, committed still 100 after 61 s -> stuck; raw1 caught up; scans empty
    assert dog.observe({raw0: (100, 900), raw1: (10, 11), scans: (None, 0)}) == [raw0]
    assert stuck_gauge("cw.raw", 0) == 1
    clock.t += 5
    assert dog.observe({raw0: (150, 900), raw1: (10, 11), scans: (None, 0)}) == []  # it moved again
    assert stuck_gauge("cw.raw", 0) == 0


def test_a_known_backoff_is_not_a_stall_and_a_revoked_partition_is_forgotten():
    clock, backing_off = Clock(), {"now": True}
    dog = PartitionWatchdog(60, explained=lambda: backing_off["now"], clock=clock)
    tp = ("cw.scans", 1)
    dog.observe({tp: (5, 50)})
    clock.t += 120
    assert dog.observe({tp: (5, 60)}) == []  # ClickHouse or Kafka outage: waiting is the right thing
    backing_off["now"] = False
    clock.t += 30
    assert dog.observe({tp: (5, 60)}) == []  # counting starts again when the wait ends
    clock.t += 31
    assert dog.observe({tp: (5, 60)}) == [tp]
    assert dog.observe({}) == [] and not dog._since  # revoked: nothing left to judge
