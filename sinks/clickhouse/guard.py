"""What a write must never undo: legal holds and erasures, consulted at write time.

A replay (a restart, a rebalance, records still on Kafka) writes rows again with a newer version,
and the newer version wins a ReplacingMergeTree merge. So the writer must know, for every row it
writes, whether its conversation is held (`held = 1`: spared by retention and erasure) or was
erased (the row is not written at all). Both live in small tables; before each batch the writer
asks for their version (one tiny query) and reloads them only when it changed. After the batch
it asks again: a hold or erasure that landed while the batch was in flight is applied to the
batch's conversations then, so the later write cannot win that race either.

Erasure leaves a tombstone per conversation (a pseudonymous key, no phone number): messages
dated up to the erasure are not written again; later messages are a new conversation's data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chatwatch.sinks.clickhouse import metrics
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.queries import quote

log = logging.getLogger(__name__)
HELD_TABLES = ("messages", "alerts", "pii_findings")
ERASABLE = {"messages": "timestamp", "alerts": "message_timestamp", "pii_findings": "timestamp",
            "conversation_daily": None}  # table -> its message-time column (None: per-day aggregates, all go)


def in_list(keys: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{quote(k)}'" for k in keys) + ")"


def held_keys(client: Client) -> tuple[set[str], set[str]]:
    """(conversation keys, customer numbers) under a legal hold now."""
    rows = client.query(f"SELECT scope, key FROM {client.database}.legal_holds FINAL WHERE held = 1")
    return ({r["key"] for r in rows if r["scope"] == "conversation"}, {r["key"] for r in rows if r["scope"] == "customer"})


def erased_before(client: Client) -> dict[str, datetime]:
    """conversation key -> messages dated up to then were erased."""
    rows = client.query(f"SELECT conversation_key, erased_before FROM {client.database}.erasures FINAL")
    return {r["conversation_key"]: _utc(r["erased_before"]) for r in rows}


def mark_held(client: Client, keys: list[str], held: bool) -> None:
    for table in HELD_TABLES:
        client.command(f"ALTER TABLE {client.database}.{table} UPDATE held = {int(held)} "
                       f"WHERE conversation_key IN {in_list(keys)} SETTINGS mutations_sync = 2")


def delete_conversations(client: Client, keys: list[str]) -> None:
    for table in ERASABLE:
        client.command(f"DELETE FROM {client.database}.{table} WHERE conversation_key IN {in_list(keys)}")


def delete_erased(client: Client, erased: dict[str, datetime]) -> None:
    """Delete what tombstones cover: each conversation's rows dated up to its erasure."""
    for table, time_column in ERASABLE.items():
        for key, before in erased.items():
            cutoff = f" AND {time_column} <= toDateTime64('{before.isoformat(' ')[:23]}', 3, 'UTC')" if time_column else ""
            client.command(f"DELETE FROM {client.database}.{table} WHERE conversation_key = '{quote(key)}'{cutoff}")


@dataclass
class ArchiveGuard:
    client: Client | None
    conversations: set[str] = field(default_factory=set)  # held
    customers: set[str] = field(default_factory=set)  # held
    erased: dict[str, datetime] = field(default_factory=dict)
    version: tuple | None = None

    def is_held(self, conversation_key: str, customer_wa_id: str | None = None) -> bool:
        return conversation_key in self.conversations or (customer_wa_id or "") in self.customers

    def is_erased(self, conversation_key: str, at: datetime) -> bool:
        before = self.erased.get(conversation_key)
        return before is not None and at <= before

    def _version(self) -> tuple:
        db = self.client.database
        row = self.client.query(
            f"SELECT (SELECT count() FROM {db}.legal_holds) AS h, (SELECT max(at) FROM {db}.legal_holds) AS ht, "
            f"(SELECT count() FROM {db}.erasures) AS e, (SELECT max(at) FROM {db}.erasures) AS et")[0]
        return (row["h"], str(row["ht"]), row["e"], str(row["et"]))

    def reload(self) -> None:
        self.conversations, self.customers = held_keys(self.client)
        self.erased = erased_before(self.client)

    def before_write(self) -> None:
        """Reload holds and erasures if they changed since the last batch (raises ClickHouseError)."""
        if self.client is None:
            return
        version = self._version()
        if version != self.version:
            self.reload()
            self.version = version

    def after_write(self, written: Iterable[tuple[str, str | None]]) -> None:
        """Apply holds and erasures that landed while (conversation key, customer) pairs were written."""
        if self.client is None:
            return
        version = self._version()
        if version == self.version:
            return
        was = ArchiveGuard(None, set(self.conversations), set(self.customers), dict(self.erased))
        self.reload()
        self.version = version
        pairs = set(written)
        keys = {k for k, _ in pairs}
        newly_held = sorted({k for k, c in pairs if self.is_held(k, c) and not was.is_held(k, c)})
        newly_erased = {k: t for k, t in self.erased.items() if k in keys and was.erased.get(k) != t}
        if newly_held:
            mark_held(self.client, newly_held, True)
        if newly_erased:
            delete_erased(self.client, newly_erased)
        if newly_held or newly_erased:
            metrics.guard_races.inc()
            log.info("a hold or erasure landed during a write; applied to %d conversation(s) of that batch",
                     len(newly_held) + len(newly_erased))


def _utc(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
