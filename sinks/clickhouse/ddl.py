"""Tables, materialized views and versioned migrations — the same DDL for chdb and a server.

Idempotency: every table is a ReplacingMergeTree keyed by its natural id (message id, alert id),
so a replay after a crash stores the same row again and merges keep one; queries read with FINAL.
The materialized views only use aggregates that a duplicate cannot change (min, max,
uniqExact, groupUniqArray), so they do not double-count replays either.

Cluster mode (a cluster name is configured): each table becomes `<name>_local` with a
Replicated* engine ON CLUSTER plus a Distributed `<name>` over it; views read the local tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

DT = "DateTime64(3, 'UTC')"
LC = "LowCardinality(String)"


@dataclass(frozen=True)
class Table:
    name: str
    columns: str
    engine: str  # single-server engine, e.g. "ReplacingMergeTree(ingested_at)"
    order_by: str
    partition_by: str | None = None
    ttl: str | None = None  # may use {retention_days}
    shard_key: str = "rand()"


@dataclass(frozen=True)
class View:
    name: str
    target: str  # table the view writes into
    source: str  # table it reads from
    select: str  # SELECT ... FROM {source} ...


# Columns added after the first release (migration 4 adds them to older archives).
MESSAGE_IDENTITY = ("customer_user_id String DEFAULT '', group_id String DEFAULT '', historical UInt8 DEFAULT 0, "
                    "source {LC} DEFAULT 'whatsapp_cloud_api'").replace("{LC}", LC)
ALERT_HISTORICAL = "historical UInt8 DEFAULT 0"
ALERT_EVIDENCE = "evidence String DEFAULT ''"  # JSON list of the matched terms/labels, for highlighting
AUDIT_SOURCE = "source String DEFAULT ''"  # where the actor was: client address (console), host (CLI)
# What the pipeline masked in a message archived raw: JSON [[type, start, end], …] (PII and what rules
# marked sensitive), so the console redacts it as the alerts did, not only what the detector finds again.
MESSAGE_MASKED = "masked String DEFAULT ''"

TABLES = (
    Table("schema_migrations", f"version UInt32, name String, applied_at {DT}", "ReplacingMergeTree(applied_at)",
          "version"),
    Table("messages", f"""
        message_id String, business_phone_number_id {LC}, business_display_number {LC}, customer_wa_id String,
        conversation_key String, employee_id {LC}, team {LC}, direction {LC}, type {LC}, source_type {LC},
        timestamp {DT}, text String, text_mode {LC}, attachment_mime Array({LC}), attachment_ext Array({LC}),
        attachment_size Array(UInt64), attachment_sha256 Array(String), reply_to_id String, target_message_id String,
        pii_types Array({LC}), alert_ids Array(String), raw_topic {LC}, raw_partition Int32, raw_offset Int64,
        ingested_at {DT}, held UInt8 DEFAULT 0, {MESSAGE_IDENTITY}, {MESSAGE_MASKED}""",
          "ReplacingMergeTree(ingested_at)", "(business_phone_number_id, conversation_key, timestamp, message_id)",
          "toYYYYMM(timestamp)", "toDateTime(timestamp) + INTERVAL {retention_days} DAY DELETE WHERE held = 0",
          "cityHash64(conversation_key)"),
    Table("alerts", f"""
        alert_id String, rule_id {LC}, rule_title String, pack_id {LC}, pack_version {LC}, severity {LC},
        category {LC}, tags Array({LC}), message_id String, conversation_key String, business_phone_number_id {LC},
        customer_masked String, employee_id {LC}, team {LC}, direction {LC}, message_type {LC},
        message_timestamp {DT}, created_at {DT}, snippet String, pii_types Array({LC}), held UInt8 DEFAULT 0,
        {ALERT_HISTORICAL}""",
          "ReplacingMergeTree(created_at)", "alert_id", "toYYYYMM(message_timestamp)",
          "toDateTime(message_timestamp) + INTERVAL {retention_days} DAY DELETE WHERE held = 0",
          "cityHash64(conversation_key)"),
    Table("pii_findings", f"""
        message_id String, conversation_key String, business_phone_number_id {LC}, employee_id {LC}, team {LC},
        direction {LC}, timestamp {DT}, pii_type {LC}, count UInt16, held UInt8 DEFAULT 0""",
          "ReplacingMergeTree", "(message_id, pii_type)", "toYYYYMM(timestamp)",
          "toDateTime(timestamp) + INTERVAL {retention_days} DAY DELETE WHERE held = 0", "cityHash64(conversation_key)"),
    Table("legal_holds", f"scope {LC}, key String, held UInt8, reason String, actor String, at {DT}",
          "ReplacingMergeTree(at)", "(scope, key)"),
    Table("erasures", f"conversation_key String, erased_before {DT}, at {DT}, actor String",
          "ReplacingMergeTree(at)", "conversation_key"),
    Table("audit_log", f"at {DT}, actor String, action {LC}, target String, details String", "MergeTree", "at"),
    # The compliance console: one row per decision on an alert (append-only; a case's state is its
    # latest event, the events are its trail) and the console's local users (latest row wins).
    Table("case_events", f"""
        event_id String, alert_id String, conversation_key String, at {DT}, actor String, action {LC},
        status {LC}, assignee String, reason {LC}, note String, source String""",
          "MergeTree", "(alert_id, at, event_id)", "toYYYYMM(at)", shard_key="cityHash64(alert_id)"),
    Table("console_users", f"""
        username String, display_name String, email String, role {LC}, teams Array(String), password_hash String,
        active UInt8, language {LC}, session_version UInt32, updated_at {DT}, updated_by String""",
          "ReplacingMergeTree(updated_at)", "username", shard_key="cityHash64(username)"),
    Table("conversation_daily", f"""
        day Date, business_phone_number_id {LC}, conversation_key String,
        first_inbound AggregateFunction(minIf, {DT}, UInt8), last_inbound AggregateFunction(maxIf, {DT}, UInt8),
        last_outbound AggregateFunction(maxIf, {DT}, UInt8),
        outbound_times AggregateFunction(groupUniqArrayIf, {DT}, UInt8),
        inbound_messages AggregateFunction(uniqExactIf, String, UInt8),
        outbound_messages AggregateFunction(uniqExactIf, String, UInt8),
        employees AggregateFunction(groupUniqArrayIf, {LC}, UInt8)""",
          "AggregatingMergeTree", "(day, business_phone_number_id, conversation_key)", "toYYYYMM(day)",
          shard_key="cityHash64(conversation_key)"),
    Table("volume_hourly", f"hour DateTime('UTC'), business_phone_number_id {LC}, direction {LC}, "
                           "messages AggregateFunction(uniqExact, String)",
          "AggregatingMergeTree", "(hour, business_phone_number_id, direction)", "toYYYYMM(hour)"),
)

VIEWS = (
    View("conversation_daily_mv", "conversation_daily", "messages", """
        SELECT toDate(timestamp) AS day, business_phone_number_id, conversation_key,
               minIfState(timestamp, direction = 'inbound') AS first_inbound,
               maxIfState(timestamp, direction = 'inbound') AS last_inbound,
               maxIfState(timestamp, direction = 'outbound') AS last_outbound,
               groupUniqArrayIfState(timestamp, direction = 'outbound') AS outbound_times,
               uniqExactIfState(message_id, direction = 'inbound') AS inbound_messages,
               uniqExactIfState(message_id, direction = 'outbound') AS outbound_messages,
               groupUniqArrayIfState(if(employee_id = '', business_phone_number_id, employee_id),
                                     direction = 'outbound') AS employees
        FROM {source} GROUP BY day, business_phone_number_id, conversation_key"""),
    View("volume_hourly_mv", "volume_hourly", "messages", """
        SELECT toStartOfHour(timestamp) AS hour, business_phone_number_id, direction, uniqExactState(message_id) AS messages
        FROM {source} GROUP BY hour, business_phone_number_id, direction"""),
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[Renderer], list[str]]


class Renderer:
    """Renders TABLES/VIEWS for one database, optionally for a cluster."""

    def __init__(self, database: str, cluster: str | None = None, retention_days: int = 1825):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database) or (cluster and not re.fullmatch(r"[\w.-]+", cluster)):
            raise ValueError("database/cluster names may only use letters, digits and '_'")
        self.db, self.cluster, self.retention_days = database, cluster, retention_days

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER '{self.cluster}'" if self.cluster else ""

    def storage(self, name: str) -> str:
        """Where rows of a logical table physically land (the local table in a cluster)."""
        return f"{name}_local" if self.cluster else name

    def database(self) -> str:
        return f"CREATE DATABASE IF NOT EXISTS {self.db}{self.on_cluster}"

    def table(self, t: Table) -> list[str]:
        engine = t.engine
        if self.cluster:
            name, _, args = engine.partition("(")
            zk = f"'/clickhouse/tables/{{shard}}/{self.db}/{t.name}_local', '{{replica}}'"
            engine = f"Replicated{name}({zk}{', ' + args.rstrip(')') if args else ''})"
        parts = [f"CREATE TABLE IF NOT EXISTS {self.db}.{self.storage(t.name)}{self.on_cluster}",
                 f"({' '.join(t.columns.split())})", f"ENGINE = {engine}"]
        if t.partition_by:
            parts.append(f"PARTITION BY {t.partition_by}")
        parts.append(f"ORDER BY {t.order_by}")
        if t.ttl:
            parts.append("TTL " + t.ttl.format(retention_days=int(self.retention_days)))
        out = ["\n".join(parts)]
        if self.cluster:
            out.append(f"CREATE TABLE IF NOT EXISTS {self.db}.{t.name}{self.on_cluster} AS {self.db}.{t.name}_local "
                       f"ENGINE = Distributed('{self.cluster}', {self.db}, {t.name}_local, {t.shard_key})")
        return out

    def view(self, v: View) -> str:
        select = " ".join(v.select.format(source=f"{self.db}.{self.storage(v.source)}").split())
        return (f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self.db}.{v.name}{self.on_cluster} "
                f"TO {self.db}.{self.storage(v.target)} AS {select}")

    def add_columns(self, table: str, columns: str) -> list[str]:
        """ALTER … ADD COLUMN IF NOT EXISTS for each column (and the Distributed table over it)."""
        names = [table] + ([self.storage(table)] if self.cluster else [])
        return [f"ALTER TABLE {self.db}.{name}{self.on_cluster} "
                + ", ".join(f"ADD COLUMN IF NOT EXISTS {c.strip()}" for c in columns.split(", "))
                for name in reversed(names)]

    def ttl_update(self) -> list[str]:
        """Retention is configuration: re-applied at every migrate (a no-op when unchanged)."""
        return [f"ALTER TABLE {self.db}.{self.storage(t.name)}{self.on_cluster} MODIFY TTL "
                + t.ttl.format(retention_days=int(self.retention_days)) for t in TABLES if t.ttl]


def _tables(names: tuple[str, ...]) -> Callable[[Renderer], list[str]]:
    return lambda r: [s for t in TABLES if t.name in names for s in r.table(t)]


MIGRATIONS = (
    Migration(1, "archive, alerts, pii findings, holds, audit",
              _tables(("messages", "alerts", "pii_findings", "legal_holds", "audit_log"))),
    Migration(2, "conversation metrics views",
              lambda r: _tables(("conversation_daily", "volume_hourly"))(r) + [r.view(v) for v in VIEWS]),
    Migration(3, "erasure tombstones (replays cannot bring erased conversations back)", _tables(("erasures",))),
    Migration(4, "customers by user id, groups, past messages (history sync, chat exports)",
              lambda r: r.add_columns("messages", MESSAGE_IDENTITY) + r.add_columns("alerts", ALERT_HISTORICAL)),
    Migration(5, "compliance console: case events, users, audit source, alert evidence",
              lambda r: _tables(("case_events", "console_users"))(r) + r.add_columns("alerts", ALERT_EVIDENCE)
              + r.add_columns("audit_log", AUDIT_SOURCE)),
    Migration(6, "what the pipeline masked in messages archived raw", lambda r: r.add_columns("messages", MESSAGE_MASKED)),
)
