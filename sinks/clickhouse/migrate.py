"""Applies the migrations a database lacks, in order; safe to run at every start."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.ddl import MIGRATIONS, TABLES, Renderer

log = logging.getLogger(__name__)


def applied_versions(client: Client, r: Renderer) -> set[int]:
    rows = client.query(f"SELECT version FROM {r.db}.schema_migrations FINAL")
    return {int(row["version"]) for row in rows}


def migrate(client: Client, r: Renderer) -> list[int]:
    """Create what is missing; returns the versions applied now (empty when up to date)."""
    client.command(r.database())
    for stmt in r.table(next(t for t in TABLES if t.name == "schema_migrations")):
        client.command(stmt)
    done = applied_versions(client, r)
    applied = []
    for m in MIGRATIONS:
        if m.version in done:
            continue
        for stmt in m.statements(r):  # every statement is IF NOT EXISTS: a half-applied migration re-runs
            client.command(stmt)
        client.insert_json("schema_migrations", [{"version": m.version, "name": m.name,
                                                  "applied_at": datetime.now(UTC).isoformat(sep=" ")[:23]}])
        log.info("applied migration %d: %s", m.version, m.name)
        applied.append(m.version)
    for stmt in r.ttl_update():
        client.command(stmt)
    return applied
