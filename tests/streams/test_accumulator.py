"""The archive's accumulator: a record that fails for a reason other than the sink is found by
splitting its batch and dead-lettered; the records around it are stored; every event is released."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from chatwatch.streams.agents.outputs import Accumulator


class Message:
    def __init__(self, value: bytes):
        self.value, self.refs, self.acked = value, 1, 0

    def incref(self):
        self.refs += 1

    def ack(self, consumer):
        self.acked += 1


def test_a_poison_record_is_isolated_and_dead_lettered_the_rest_is_stored():
    events = [SimpleNamespace(message=Message(b"ok%d" % i)) for i in range(10)]
    events[6].message.value = b"poison"
    stored, poisoned, calls = [], [], [0]

    async def store(batch):
        calls[0] += 1
        if any(e.message.value == b"poison" for e in batch):
            raise KeyError("a field no code path expected")  # before: retried forever, every partition stalled
        stored.extend(e.message.value for e in batch)

    async def poison(batch, exc):
        poisoned.extend((e.message.value, type(exc).__name__) for e in batch)

    async def scenario():
        acc = Accumulator(SimpleNamespace(consumer=None), store, max_batch=10, within_s=0.01, poison=poison,
                          retry_s=0)
        runner = asyncio.ensure_future(acc.run())
        await acc.add(events)
        for _ in range(200):
            if all(e.message.acked for e in events):
                break
            await asyncio.sleep(0.01)
        runner.cancel()

    asyncio.run(scenario())
    assert poisoned == [(b"poison", "KeyError")]
    assert sorted(stored) == sorted(e.message.value for e in events if e.message.value != b"poison")
    assert all(e.message.acked == 1 for e in events)


def test_a_batch_whose_body_raises_stays_unacked():
    from chatwatch.streams.agents.outputs import acked_when_done

    app = SimpleNamespace(consumer=None)
    good = [SimpleNamespace(message=Message(b"a")), SimpleNamespace(message=Message(b"b"))]
    bad = [SimpleNamespace(message=Message(b"c"))]

    async def scenario():
        async with acked_when_done(app, good):
            pass
        try:
            async with acked_when_done(app, bad):
                raise RuntimeError("a bug in the body")
        except RuntimeError:
            pass

    asyncio.run(scenario())
    assert [e.message.acked for e in good] == [1, 1]
    assert bad[0].message.acked == 0 and bad[0].message.refs == 2  # its offset cannot be committed


def test_the_confirming_task_survives_a_failing_resend():
    """Before, a resend that raised too ended the task unobserved, and the agent waited on a full
    queue until the watchdog."""
    from chatwatch.streams.agents.outputs import InFlight

    class FlakyDelivery:
        def __init__(self):
            self.failures, self.settled = 2, []

        async def send(self, outputs):
            return [None] * len(outputs)

        async def settle(self, outputs, sent):
            if self.failures:
                self.failures -= 1
                raise RuntimeError("a bug while confirming")
            self.settled.append(outputs)

    delivery = FlakyDelivery()
    in_flight = InFlight(SimpleNamespace(consumer=None), delivery, window=1)
    in_flight.RETRY_S = 0
    events = [SimpleNamespace(message=Message(b"x"))]

    async def scenario():
        task = asyncio.ensure_future(in_flight.confirm())
        await in_flight.submit(events, ["output"])
        for _ in range(100):
            if events[0].message.acked:
                break
            await asyncio.sleep(0.01)
        assert not task.done()
        task.cancel()

    asyncio.run(scenario())
    assert delivery.settled == [["output"]] and events[0].message.acked == 1
