"""The caught-up time: the wall time up to which every received message has reached the conversation
rules. Unit tests drive the probe with scripted offsets; the last test runs it on the real broker."""

from __future__ import annotations

import asyncio

from chatwatch.streams.agents.upstream import Stage, UpstreamProbe, passed


def test_a_partition_counts_as_passed_at_its_end_and_an_empty_one_needs_no_commit():
    assert passed({0: 5, 1: 3}, {0: 5, 1: 3, 2: 0})
    assert not passed({0: 5}, {0: 5, 1: 3})
    assert not passed({0: 4, 1: 3}, {0: 5, 1: 3})


class Scripted:
    """Topics whose end offsets and committed offsets a test moves by hand."""

    def __init__(self) -> None:
        self.end = {"raw": {0: 10}, "messages": {0: 7}, "scans": {0: 7}}
        self.done = {"raw": {0: 10}, "messages": {0: 7}, "scans": {0: 7}}

    async def ends(self, topic: str) -> dict[int, int]:
        return dict(self.end[topic])

    async def committed(self, stage: Stage) -> dict[int, int]:
        return dict(self.done[stage.topic])


STAGES = [Stage("raw"), Stage("messages"), Stage("scans", ("chatwatch",))]


def test_nothing_is_proved_before_a_first_probe_and_a_caught_up_pipeline_proves_the_start_time():
    kafka, wall = Scripted(), [1000.0]
    probe = UpstreamProbe(STAGES, kafka.ends, kafka.committed, wall=lambda: wall[0], poll_s=0.01)
    assert probe.trusted() == 0.0  # a conversation worker started before normalize: nothing due yet
    assert asyncio.run(probe.once()) == 1000.0 and probe.trusted() == 1000.0


def test_a_backlog_upstream_holds_the_time_until_each_stage_has_passed_what_was_written_before_it():
    async def scenario() -> list[float]:
        kafka, wall = Scripted(), [2000.0]
        kafka.done["raw"] = {0: 4}  # normalize is 6 raw records behind (or not running)
        probe = UpstreamProbe(STAGES, kafka.ends, kafka.committed, wall=lambda: wall[0], poll_s=0.01)
        task = asyncio.create_task(probe.once())
        seen = []
        await asyncio.sleep(0.05)
        seen.append(probe.trusted())  # still 0: the raw backlog is unread
        wall[0] = 2030.0
        kafka.done["raw"] = {0: 10}  # normalize passes the raw end and writes 6 more messages
        kafka.end["messages"] = {0: 13}
        kafka.end["scans"] = {0: 13}
        await asyncio.sleep(0.05)
        seen.append(probe.trusted())  # still 0: scan has not read those messages
        kafka.done["messages"] = {0: 13}
        await asyncio.sleep(0.05)
        seen.append(probe.trusted())  # the scans written since are unread by the conversation group
        kafka.done["scans"] = {0: 13}
        await asyncio.wait_for(task, 1)
        seen.append(probe.trusted())
        return seen

    assert asyncio.run(scenario()) == [0.0, 0.0, 0.0, 2000.0]  # the time the probe began, not its end


def test_a_probe_kafka_keeps_refusing_leaves_the_wall_clock_alone_in_charge():
    async def refused(_: object) -> dict[int, int]:
        raise PermissionError("group authorization failed")

    async def scenario() -> list[float | None]:
        kafka = Scripted()
        probe = UpstreamProbe(STAGES, kafka.ends, refused, poll_s=0.01)
        task = asyncio.create_task(probe.run())
        await asyncio.sleep(0.005)
        first = probe.trusted()
        await asyncio.sleep(0.2)
        task.cancel()
        return [first, probe.trusted()]

    assert asyncio.run(scenario()) == [0.0, None]
