"""Metrics of the ClickHouse archive writer (bounded labels: table names, failure kinds)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

clickhouse_rows = Counter("chatwatch_clickhouse_rows_written_total", "Rows stored in ClickHouse by table.", ["table"])
clickhouse_insert_seconds = Histogram(
    "chatwatch_clickhouse_insert_seconds", "Duration of one batched insert.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
clickhouse_failures = Counter(
    "chatwatch_clickhouse_write_failures_total", "Failed inserts: unavailable (retried) or rejected (dead-lettered).",
    ["reason"])
guard_races = Counter(
    "chatwatch_clickhouse_guard_races_total", "Batches that a hold or erasure overtook mid-write (applied after).")
archive_pending = Gauge(
    "chatwatch_archive_pending_records", "Records the archive agent holds until their batch is written.")
erased_skipped = Counter(
    "chatwatch_archive_erased_skipped_total", "Records not written because their conversation was erased (replays).")
clickhouse_backoff_episodes = Counter(
    "chatwatch_clickhouse_backoff_episodes_total", "Outages the writer waited out, by error class.", ["error_class"])
clickhouse_backing_off = Gauge("chatwatch_clickhouse_backing_off", "1 while the writer waits for ClickHouse to return.")
