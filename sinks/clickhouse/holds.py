"""Legal holds: conversations or customers exempt from retention TTL and from erasure.

The writer marks new rows of held conversations `held = 1` (TTL deletes only `held = 0`); a
hold placed later marks the existing rows. The cache refreshes from the table every `ttl_s`.
"""

from __future__ import annotations

import asyncio
import time

from chatwatch.sinks.clickhouse.client import ClickHouseError, Client


def held_keys(client: Client) -> tuple[set[str], set[str]]:
    """(conversation keys, customer numbers) under a legal hold now."""
    rows = client.query(f"SELECT scope, key FROM {client.database}.legal_holds FINAL WHERE held = 1")
    return ({r["key"] for r in rows if r["scope"] == "conversation"}, {r["key"] for r in rows if r["scope"] == "customer"})


class HoldCache:
    def __init__(self, client: Client | None, ttl_s: float = 30.0):
        self.client = client
        self.ttl_s = ttl_s
        self.conversations: set[str] = set()
        self.customers: set[str] = set()
        self._loaded = 0.0

    def is_held(self, conversation_key: str, customer_wa_id: str | None = None) -> bool:
        return conversation_key in self.conversations or (customer_wa_id or "") in self.customers

    def refresh(self) -> None:
        if self.client is None:
            return
        self.conversations, self.customers = held_keys(self.client)
        self._loaded = time.monotonic()

    async def refresh_if_stale(self) -> None:
        if time.monotonic() - self._loaded >= self.ttl_s:
            try:
                await asyncio.to_thread(self.refresh)
            except ClickHouseError:
                pass  # keep the last known holds; the writer's retries report the outage
