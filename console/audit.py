"""Reading the audit trail: every login, case view, reveal, decision, export and user change, with
who, when, what and from where. Writing is `sinks.clickhouse.privacy.audit` (the CLI's holds and
erasures land in the same table)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from chatwatch import csv_export
from chatwatch.console import days
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.queries import quote

COLUMNS = ("at", "actor", "action", "target", "source", "details")


@dataclass
class AuditFilters:
    actor: str = ""
    action: str = ""
    target: str = ""
    since: str = ""
    until: str = ""
    limit: int = 500

    @classmethod
    def from_args(cls, args: Any) -> AuditFilters:
        f = cls(**{k.name: str(args.get(k.name, "")).strip()[:200] for k in fields(cls)
                   if k.name != "limit" and args.get(k.name)})
        f.since, f.until = days.checked(f.since), days.checked(f.until)
        return f

    def query_args(self) -> dict[str, str]:
        return {k.name: getattr(self, k.name) for k in fields(self) if k.name != "limit" and getattr(self, k.name)}


def entries(client: Client, f: AuditFilters, limit: int | None = None) -> list[dict]:
    where = ["1"]
    if f.actor:
        where.append(f"actor = '{quote(f.actor)}'")
    if f.action:
        where.append(f"action = '{quote(f.action)}'")
    if f.target:
        where.append(f"positionCaseInsensitiveUTF8(target, '{quote(f.target)}') > 0")
    where += days.between("at", f.since, f.until)
    return client.query(f"SELECT toString(at) AS at, actor, action, target, source, details "
                        f"FROM {client.database}.audit_log WHERE {' AND '.join(where)} "
                        f"ORDER BY at DESC LIMIT {int(limit or f.limit)}")


def actions(client: Client) -> list[str]:
    return [r["action"] for r in client.query(f"SELECT DISTINCT action FROM {client.database}.audit_log ORDER BY action")]


def to_csv(rows: list[dict]) -> str:
    """The export: actors include user names tried at a failed sign-in, so cells are made spreadsheet-safe."""
    return csv_export.dumps(rows, COLUMNS)
