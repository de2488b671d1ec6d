"""Writes batches of rows to ClickHouse, and only returns once they are stored.

The record agent awaits `write` before Faust may commit the batch's offsets, so nothing is
committed before it is stored. While ClickHouse is unreachable, `write` retries with capped
exponential backoff: the agent stops consuming (Faust pauses the partitions once its bounded
buffer is full) instead of dropping rows or growing memory. Rows ClickHouse *rejects* (bad
data, not an outage) are isolated by writing the batch record by record; those records come
back to the caller for the dead-letter topic.
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


class ArchiveWriter:
    def __init__(self, client: Client, max_backoff_s: float = 30.0, sleep: Callable = asyncio.sleep):
        self.client = client
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep

    async def write(self, batches: list[Rows]) -> list[tuple[int, str]]:
        """Store every record's rows (one Rows per input record). Returns (index, error) of rejected ones."""
        merged: Rows = {}
        for rows in batches:
            for table, table_rows in rows.items():
                merged.setdefault(table, []).extend(table_rows)
        try:
            await self._with_retries(merged)
            return []
        except ClickHouseError as exc:
            log.warning("batch of %d records rejected (%s); isolating the bad ones", len(batches), exc)
        rejected = []
        for i, rows in enumerate(batches):
            try:
                await self._with_retries(rows)
            except ClickHouseError as exc:
                metrics.clickhouse_failures.labels("rejected").inc()
                rejected.append((i, str(exc)))
        return rejected

    async def _with_retries(self, rows: Rows) -> None:
        backoff = 0.5
        while True:
            try:
                started = time.perf_counter()
                await asyncio.to_thread(self._insert, rows)
                metrics.clickhouse_insert_seconds.observe(time.perf_counter() - started)
                for table, table_rows in rows.items():
                    metrics.clickhouse_rows.labels(table).inc(len(table_rows))
                return
            except ClickHouseError as exc:
                if not exc.retryable:
                    raise
                metrics.clickhouse_failures.labels("unavailable").inc()
                delay = backoff * (0.5 + random.random())  # jitter: replicas do not retry in step
                log.warning("ClickHouse unavailable (%s); retrying in %.1fs, not consuming meanwhile", exc, delay)
                await self._sleep(delay)
                backoff = min(backoff * 2, self.max_backoff_s)

    def _insert(self, rows: Rows) -> None:
        for table, table_rows in rows.items():
            if table_rows:
                self.client.insert_json(table, table_rows)
