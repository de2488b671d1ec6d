"""Data-subject operations (LGPD art. 18, GDPR art. 17): legal holds and erasure, with an audit trail.

Erasure deletes a customer's rows from every table that holds them (archive, alerts, PII
counts, per-conversation metrics) except conversations under legal hold, which it refuses and
names. Hourly volumes hold no personal data and stay. Every hold change and erasure is written
to `audit_log` with who, when and what (the customer number masked). Kafka topics keep records
until their retention expires; erasure there is by topic retention — and a tombstone per
conversation (see guard.py) keeps the writer from bringing erased rows back from those records,
including conversations with any known business number not archived yet.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chatwatch.detectors.redaction import mask_phone
from chatwatch.records import conversation_key
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.guard import ERASABLE, HELD_TABLES, delete_conversations, held_keys, in_list, mark_held
from chatwatch.sinks.clickhouse.queries import quote
from chatwatch.sinks.clickhouse.rows import utc


@dataclass
class ErasureReport:
    customer_masked: str
    conversations: list[str] = field(default_factory=list)
    refused_held: list[str] = field(default_factory=list)
    rows_deleted: dict[str, int] = field(default_factory=dict)


def audit(client: Client, actor: str, action: str, target: str, details: dict, source: str = "") -> None:
    """One audit event: who, what, on what, from where (`source`: the console's client address; the host
    name for command-line actions)."""
    client.insert_json("audit_log", [{"at": utc(datetime.now(UTC)), "actor": actor, "action": action,
                                      "target": target, "details": json.dumps(details, ensure_ascii=False),
                                      "source": source or f"cli@{socket.gethostname()}"}])


def conversations_of(client: Client, customer: str) -> list[str]:
    rows = client.query(f"SELECT DISTINCT conversation_key FROM {client.database}.messages "
                        f"WHERE customer_wa_id = '{quote(customer)}' OR customer_user_id = '{quote(customer)}' "
                        "ORDER BY conversation_key")
    return [r["conversation_key"] for r in rows]


def possible_conversations(client: Client, customer: str) -> set[str]:
    """The customer's conversation key with every business number the archive knows (archived or not)."""
    rows = client.query(f"SELECT DISTINCT business_phone_number_id AS b FROM {client.database}.messages")
    return {conversation_key(r["b"], customer) for r in rows}


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
        # on release, keep rows held by another hold (e.g. the customer's) held
        target = keys if held else [k for k in keys if k not in conversations]
        if target:
            marked = {table: _count(client, table, target) for table in HELD_TABLES}
            mark_held(client, target, held)
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
    # tombstones first, rows second: a writer that reads the tombstones after this never writes them back
    possible = possible_conversations(client, customer) if customer not in held_customers else set()
    tombstones = sorted(set(report.conversations) | {k for k in possible if k not in held_conversations})
    now = datetime.now(UTC)
    if tombstones:
        client.insert_json("erasures", [{"conversation_key": k, "erased_before": utc(now), "at": utc(now), "actor": actor}
                                        for k in tombstones])
    if report.conversations:
        report.rows_deleted = {table: _count(client, table, report.conversations) for table in ERASABLE}
        delete_conversations(client, report.conversations)
    audit(client, actor, "erase", f"customer:{report.customer_masked}",
          {"reason": reason, "conversations_erased": len(report.conversations), "tombstones": len(tombstones),
           "conversations_refused_legal_hold": report.refused_held, "rows_deleted": report.rows_deleted})
    return report


def _count(client: Client, table: str, keys: list[str]) -> int:
    """Logical rows (FINAL): replays and unmerged parts must not change what a report says was erased."""
    rows = client.query(f"SELECT count() AS n FROM {client.database}.{table} FINAL WHERE conversation_key IN {in_list(keys)}")
    return int(rows[0]["n"]) if rows else 0
