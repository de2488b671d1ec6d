"""NER children that die: one new child per death however many batches waited on it; a batch waits
through a few deaths, then NER is reported unavailable (and the caller masks name-like words)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from chatwatch.detectors.pii.ner import name_like
from chatwatch.detectors.pii.ner_pool import NerPool, NerUnavailable


def _kill_children(pool: NerPool) -> None:
    for process in list(pool._pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)


def test_one_restart_per_death_and_a_batch_still_answered():
    restarts = []
    pool = NerPool({}, processes=1, backoff_s=0.01, on_restart=lambda: restarts.append(1))
    try:
        async def scenario():
            _kill_children(pool)
            await asyncio.sleep(0.2)
            # four batches waiting at once, as in the scan agent's window
            return await asyncio.gather(*(pool.entities(["Hola Ana"], "es") for _ in range(4)))

        answers = asyncio.run(scenario())
        assert answers == [[[]]] * 4  # no model here: no entities, but an answer
        assert len(restarts) == 1 and pool.healthy  # before: one new pool per waiting batch
    finally:
        pool.close()


def test_children_that_keep_dying_make_ner_unavailable_and_unhealthy():
    pool = NerPool({}, processes=1, attempts=2, backoff_s=0.01)
    try:
        pool._start = lambda original=pool._start: _dead_on_arrival(original())

        async def scenario():
            _kill_children(pool)
            await asyncio.sleep(0.2)
            await pool.entities(["Hola Ana"], "es")

        with pytest.raises(NerUnavailable):
            asyncio.run(scenario())
        assert not pool.healthy
    finally:
        pool.close()


def _dead_on_arrival(executor):
    """A pool whose child dies as soon as it starts (out of memory at model load)."""
    executor.submit(os._exit, 1)
    return executor


def test_name_like_words_are_what_is_masked_without_ner():
    text = "Hola, habla con Ana Gómez de la tienda Centro"
    assert [text[f.start:f.end] for f in name_like(text)] == ["Ana", "Gómez", "Centro"]
