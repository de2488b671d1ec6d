"""Data-subject operations (LGPD art. 18, GDPR art. 17): legal holds and erasure, with an audit trail.

Erasure deletes a customer's rows from every table that holds them (archive, alerts, PII
counts, per-conversation metrics) except conversations under legal hold, which it refuses and
names. Hourly volumes hold no personal data and stay. Every hold change and erasure is written
to `audit_log` with who, when and what (the customer number masked). Kafka topics keep records
until their retention expires; erasure there is by topic retention.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chatwatch.detectors.redaction import mask_phone
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.holds import held_keys
from chatwatch.sinks.clickhouse.queries import quote
from chatwatch.sinks.clickhouse.rows import utc

PERSONAL_TABLES = ("messages", "alerts", "pii_findings", "conversation_daily")


@dataclass
class ErasureReport:
    customer_masked: str
    conversations: list[str] = field(default_factory=list)
    refused_held: list[str] = field(default_factory=list)
    rows_deleted: dict[str, int] = field(default_factory=dict)


def _in(keys: list[str]) -> str:
    return "(" + ", ".join(f"'{quote(k)}'" for k in keys) + ")"


def audit(client: Client, actor: str, action: str, target: str, details: dict) -> None:
    client.insert_json("audit_log", [{"at": utc(datetime.now(UTC)), "actor": actor, "action": action,
                                      "target": target, "details": json.dumps(details, ensure_ascii=False)}])


def conversations_of(client: Client, customer: str) -> list[str]:
    rows = client.query(f"SELECT DISTINCT conversation_key FROM {client.database}.messages "
                        f"WHERE customer_wa_id = '{quote(customer)}' ORDER BY conversation_key")
    return [r["conversation_key"] for r in rows]


def set_hold(client: Client, scope: str, key: str, reason: str, actor: str, held: bool = True) -> dict[str, int]:
    """Place or release a hold and mark existing rows; returns rows marked per table."""
    if scope not in ("conversation", "customer"):
        raise ValueError("scope is 'conversation' or 'customer'")
    client.insert_json("legal_holds", [{"scope": scope, "key": key, "held": int(held), "reason": reason,
                                        "actor": actor, "at": utc(datetime.now(UTC))}])
    keys = [key] if scope == "conversation" else conversations_of(client, key)
    marked = {}
    if keys:
        conversations, _ = held_keys(client)
        for table in ("messages", "alerts", "pii_findings"):
            # on release, keep rows held by another hold (e.g. the customer's) held
            still = [k for k in keys if k in conversations] if not held else []
            target = [k for k in keys if k not in still]
            if not target:
                continue
            marked[table] = _count(client, table, target)
            client.command(f"ALTER TABLE {client.database}.{table} UPDATE held = {int(held)} "
                           f"WHERE conversation_key IN {_in(target)} SETTINGS mutations_sync = 2")
    shown = mask_phone(key) if scope == "customer" else key
    audit(client, actor, "hold" if held else "release", f"{scope}:{shown}",
          {"reason": reason, "conversations": len(keys), "rows_marked": marked})
    return marked


def erase_customer(client: Client, customer: str, actor: str, reason: str = "data subject request") -> ErasureReport:
    conversations = conversations_of(client, customer)
    held_conversations, held_customers = held_keys(client)
    report = ErasureReport(mask_phone(customer))
    if customer in held_customers:
        report.refused_held = conversations
    else:
        report.refused_held = [k for k in conversations if k in held_conversations]
    report.conversations = [k for k in conversations if k not in report.refused_held]
    if report.conversations:
        for table in PERSONAL_TABLES:
            report.rows_deleted[table] = _count(client, table, report.conversations)
            client.command(f"DELETE FROM {client.database}.{table} WHERE conversation_key IN {_in(report.conversations)}")
    audit(client, actor, "erase", f"customer:{report.customer_masked}",
          {"reason": reason, "conversations_erased": len(report.conversations),
           "conversations_refused_legal_hold": report.refused_held, "rows_deleted": report.rows_deleted})
    return report


def _count(client: Client, table: str, keys: list[str]) -> int:
    """Logical rows (FINAL): replays and unmerged parts must not change what a report says was erased."""
    rows = client.query(f"SELECT count() AS n FROM {client.database}.{table} FINAL WHERE conversation_key IN {_in(keys)}")
    return int(rows[0]["n"]) if rows else 0
