"""Builds WhatsApp Cloud API webhook bodies in Meta's documented envelope.

For the demo and the tests: the shapes mirror real payloads (see the fixtures named in
docs/architecture.md). Inbound messages use field `messages`; messages an employee sends from
the WhatsApp Business app arrive as `smb_message_echoes`.
"""

from __future__ import annotations

import json
from typing import Any


def envelope(phone_number_id: str, display: str, field: str, value: dict[str, Any],
             waba_id: str = "102290129340398") -> dict[str, Any]:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": display, "phone_number_id": phone_number_id}, **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"value": value, "field": field}]}]}


def message(*, phone_number_id: str, display: str, customer: str, wamid: str, timestamp: int,
            type: str = "text", body: dict[str, Any] | None = None, text: str | None = None,
            customer_name: str = "Cliente", outbound: bool = False, context: dict[str, Any] | None = None,
            user_id: str | None = None) -> dict[str, Any]:
    """One message in its envelope. `text` is a shortcut for a text message body. `user_id`: the customer's
    business-scoped id, next to their number or, with `customer=""`, instead of it (WhatsApp usernames)."""
    if text is not None:
        type, body = "text", {"body": text}
    msg: dict[str, Any] = {"id": wamid, "timestamp": str(timestamp), "type": type}
    if body is not None:
        msg[type] = body
    if context:
        msg["context"] = context
    contacts = [{"profile": {"name": customer_name}, "wa_id": customer}]
    if user_id is not None:
        contacts[0]["user_id"] = user_id
        msg["to_user_id" if outbound else "from_user_id"] = user_id
    if outbound:
        msg.update({"from": display, "to": customer})
        return envelope(phone_number_id, display, "smb_message_echoes", {"contacts": contacts, "message_echoes": [msg]})
    msg["from"] = customer
    return envelope(phone_number_id, display, "messages", {"contacts": contacts, "messages": [msg]})


def status(*, phone_number_id: str, display: str, customer: str, wamid: str, timestamp: int,
           state: str = "delivered") -> dict[str, Any]:
    st = {"id": wamid, "status": state, "timestamp": str(timestamp), "recipient_id": customer}
    return envelope(phone_number_id, display, "messages", {"statuses": [st]})


def dumps(doc: dict[str, Any]) -> bytes:
    """Serialize like Meta does: compact, non-ASCII escaped as \\uXXXX."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode()
