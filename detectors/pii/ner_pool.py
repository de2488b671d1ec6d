"""spaCy NER in child processes, so a worker's event loop (consumption, deliveries, the other
agents) never waits for it and NER runs on another core.

The children are started with "spawn" (never fork a process whose event loop and Kafka
threads are running) and load the models once. Texts go over a pipe and entity findings come
back; only the texts that may hold a name are sent (the gate in `ner.py`).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from chatwatch.detectors.pii.findings import Finding
from chatwatch.detectors.pii.ner import NerEngine

log = logging.getLogger(__name__)
_engine: NerEngine | None = None  # the child's own engine


def _load(models: dict[str, str], parent: int) -> None:
    global _engine
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    _engine = NerEngine(models)


def _exit_with(parent: int) -> None:
    """A worker killed with -9 cannot stop its children: each leaves when its parent is gone."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _missing() -> dict[str, str]:
    return dict(_engine.missing) if _engine else {}


def _entities(texts: list[str], lang: str) -> list[list[Finding]]:
    return _engine.entities(texts, lang) if _engine else [[] for _ in texts]


class NerUnavailable(RuntimeError):
    """NER could not run for a batch: its children kept dying."""


class NerPool:
    """A child that dies (out of memory, killed) is replaced once per death, however many batches were
    waiting on it (each used to start its own pool); a batch waits for NER through `attempts` deaths,
    then `entities` raises NerUnavailable and the caller masks what NER would have looked at.
    `healthy` is False from such a failure until NER answers again."""

    def __init__(self, models: dict[str, str], processes: int = 1, attempts: int = 3, backoff_s: float = 0.5,
                 on_restart: Callable[[], None] = lambda: None):
        self._models, self._processes = dict(models), processes
        self._attempts, self._backoff_s, self._on_restart = attempts, backoff_s, on_restart
        self._pool = self._start()
        self._generation = 0
        self.restarts = 0
        self.healthy = True
        # Load the models now (the worker is not ready before), and learn which are missing.
        self.missing: dict[str, str] = self._pool.submit(_missing).result()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self._processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_load, initargs=(self._models, os.getpid()))

    async def entities(self, texts: Sequence[str], lang: str) -> list[list[Finding]]:
        if lang in self.missing or not texts:
            return [[] for _ in texts]
        loop = asyncio.get_running_loop()
        for attempt in range(self._attempts):
            generation = self._generation
            try:
                found = await loop.run_in_executor(self._pool, _entities, list(texts), lang)
                self.healthy = True
                return found
            except BrokenProcessPool:
                self._restart(generation)
                await asyncio.sleep(self._backoff_s * 2 ** attempt)
        self.healthy = False
        raise NerUnavailable(f"NER children died {self._attempts} times while a batch waited")

    def _restart(self, generation: int) -> None:
        """One new pool per death: the batches that saw the same broken pool retry on the new one."""
        if generation != self._generation:
            return
        log.error("NER child process died; starting a new one")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start()
        self._generation += 1
        self.restarts += 1
        self._on_restart()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
