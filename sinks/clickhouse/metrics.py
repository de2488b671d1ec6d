"""Metrics of the ClickHouse archive writer (bounded labels: table names, failure kinds)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

clickhouse_rows = Counter("chatwatch_clickhouse_rows_written_total", "Rows stored in ClickHouse by table.", ["table"])
clickhouse_insert_seconds = Histogram(
    "chatwatch_clickhouse_insert_seconds", "Duration of one batched insert.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
clickhouse_failures = Counter(
    "chatwatch_clickhouse_write_failures_total", "Failed inserts: unavailable (retried) or rejected (dead-lettered).",
    ["reason"])
