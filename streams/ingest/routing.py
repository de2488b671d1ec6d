"""The key of a raw record: the conversation a webhook body is about, read cheaply at the receiver.

Without a key, one conversation's bodies land on random raw partitions; normalize works through a
backlog partition by partition, so a later message can reach the conversation rules before an
earlier one (the privacy notice counted on the wrong message). Keyed by the conversation key, the
same key the messages and scans topics use, a conversation's bodies stay on one partition from the
receiver to the conversation agent, in the order they arrived.

Only the routing fields are read (the business number and the first customer of the first change);
a body this cannot read gets no key and is routed as before, and normalize still judges it.
"""

from __future__ import annotations

import json
from typing import Any

from chatwatch.records import conversation_key


def routing_key(body: bytes) -> bytes | None:
    """The conversation key of the body's first message, echo, status or history thread, or None."""
    try:
        doc = json.loads(body)
        value = doc["entry"][0]["changes"][0]["value"]
        metadata = value["metadata"]
        phone_id = str(metadata["phone_number_id"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    business = {phone_id, str(metadata.get("display_phone_number") or "")}
    customer = _customer(value, business)
    return conversation_key(phone_id, customer).encode() if phone_id and customer else None


def _customer(value: dict[str, Any], business: set[str]) -> str | None:
    """The other party, as the parser finds it: the group, else the sender (of an echo: the party that is
    not the business), else the first contact."""
    for field, parties in (("messages", ("from",)), ("message_echoes", ("to", "from")),
                           ("statuses", ("recipient_id",))):
        items = value.get(field)
        if isinstance(items, list) and items and isinstance(items[0], dict):
            first = items[0]
            if first.get("group_id"):
                return f"group:{first['group_id']}"
            for party in parties:
                found = str(first.get(party) or "")
                if found and (field != "message_echoes" or found not in business):
                    return found
            contacts = value.get("contacts")
            if isinstance(contacts, list) and contacts and isinstance(contacts[0], dict):
                return str(contacts[0].get("wa_id") or contacts[0].get("user_id") or "") or None
            return first.get("from_user_id") or first.get("to_user_id") or first.get("recipient_user_id")
    history = value.get("history")
    try:
        return str(history[0]["threads"][0]["id"])
    except (IndexError, KeyError, TypeError):
        return None
