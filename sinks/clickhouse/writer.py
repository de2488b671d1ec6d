"""Writes batches of rows to ClickHouse, and only returns once they are stored.

The record agent awaits `write` before Faust may commit the batch's offsets, so nothing is
committed before it is stored. Failures are classed (errors.py): during an outage (unreachable,
too many parts, memory, disk, HTTP 5xx) `write` retries with capped exponential backoff — the
agent stops consuming (Faust pauses the partitions once its bounded buffer is full) instead of
dropping rows or growing memory; one log line and a gauge per episode. Rows ClickHouse *rejects*
(the data, not an outage) are found by bisection — halves of the batch are retried until the
bad records stand alone (about 2·log2(n) inserts per bad record, not n) — and come back to the
caller for the dead-letter topic with their error class.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from chatwatch.sinks.clickhouse import metrics
from chatwatch.sinks.clickhouse.client import ClickHouseError, Client
from chatwatch.sinks.clickhouse.rows import Rows

log = logging.getLogger(__name__)


def merged(batches: list[Rows]) -> Rows:
    out: Rows = {}
    for rows in batches:
        for table, table_rows in rows.items():
            out.setdefault(table, []).extend(table_rows)
    return out


class ArchiveWriter:
    def __init__(self, client: Client, max_backoff_s: float = 30.0, sleep: Callable = asyncio.sleep):
        self.client = client
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self.inserts = 0  # insert attempts, for tests and the fault suite

    async def write(self, batches: list[Rows]) -> list[tuple[int, str]]:
        """Store every record's rows (one Rows per input record). Returns (index, error) of rejected ones."""
        return await self._store(list(range(len(batches))), batches)

    async def _store(self, indexes: list[int], batches: list[Rows]) -> list[tuple[int, str]]:
        try:
            await self._with_retries(merged([batches[i] for i in indexes]))
            return []
        except ClickHouseError as exc:
            if len(indexes) == 1:
                metrics.clickhouse_failures.labels("rejected").inc()
                return [(indexes[0], exc.summary())]
            if len(indexes) == len(batches):
                log.warning("batch of %d records rejected (%s); bisecting to find the bad ones",
                            len(batches), exc.summary())
        half = len(indexes) // 2
        return await self._store(indexes[:half], batches) + await self._store(indexes[half:], batches)

    async def _with_retries(self, rows: Rows) -> None:
        backoff, outage_since = 0.5, None
        while True:
            try:
                started = time.perf_counter()
                self.inserts += 1
                await asyncio.to_thread(self._insert, rows)
                metrics.clickhouse_insert_seconds.observe(time.perf_counter() - started)
                for table, table_rows in rows.items():
                    metrics.clickhouse_rows.labels(table).inc(len(table_rows))
                if outage_since is not None:
                    metrics.clickhouse_backing_off.set(0)
                    log.warning("ClickHouse writes resumed after %.1fs", time.monotonic() - outage_since)
                return
            except ClickHouseError as exc:
                if not exc.retryable:
                    raise
                metrics.clickhouse_failures.labels("unavailable").inc()
                if outage_since is None:
                    outage_since = time.monotonic()
                    metrics.clickhouse_backoff_episodes.labels(exc.error_class).inc()
                    metrics.clickhouse_backing_off.set(1)
                    log.warning("ClickHouse unavailable (%s); retrying with backoff, not consuming meanwhile",
                                exc.summary())
                await self._sleep(backoff * (0.5 + random.random()))  # jitter: replicas do not retry in step
                backoff = min(backoff * 2, self.max_backoff_s)

    def _insert(self, rows: Rows) -> None:
        for table, table_rows in rows.items():
            if table_rows:
                self.client.insert_json(table, table_rows)
