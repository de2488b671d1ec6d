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
from collections.abc import Sequence
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


class NerPool:
    def __init__(self, models: dict[str, str], processes: int = 1):
        self._models, self._processes = dict(models), processes
        self._pool = self._start()
        # Load the models now (the worker is not ready before), and learn which are missing.
        self.missing: dict[str, str] = self._pool.submit(_missing).result()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self._processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_load, initargs=(self._models, os.getpid()))

    async def entities(self, texts: Sequence[str], lang: str) -> list[list[Finding]]:
        if lang in self.missing or not texts:
            return [[] for _ in texts]
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, _entities, list(texts), lang)
        except BrokenProcessPool:  # a child died (out of memory, killed): start new ones, try once more
            log.error("NER child process died; starting a new one")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            return await loop.run_in_executor(self._pool, _entities, list(texts), lang)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
