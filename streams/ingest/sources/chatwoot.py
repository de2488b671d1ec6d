"""Chatwoot: the open-source inbox many teams in Latin America answer WhatsApp from, twenty agents on
one company number. Its webhooks say who typed each reply, which the Cloud API never does.

What becomes a message: `message_created` (and a `message_updated` that deletes one) in a WhatsApp
inbox (`conversation.channel` Channel::Whatsapp or Channel::TwilioSms with a whatsapp: contact), not
private notes or activity lines. Who typed it: `sender` with `type: user` is an agent
(`employee_id` = `chatwoot:<user id>`, their name and e-mail kept in `details.agent`); an agent bot
or a contact is not; an echo of a message typed in the WhatsApp Business app on the phone
(coexistence) comes as outgoing with `content_attributes.external_echo` and no sender: outbound,
employee unknown, `details.typed_on_phone`.

Which conversation: Chatwoot's webhook does not carry the business number. With
`CHATWOOT_INBOX_NUMBERS` mapping an inbox id to its WhatsApp phone number id, the conversation key
is the one the Cloud API gives the same chat (so conversation rules and the archive see one
conversation whichever source reported a message); without, the business is `chatwoot-inbox:<id>`.
The message id is the WhatsApp one (`source_id`, wamid.…) when Chatwoot has it, so a message seen
through both sources is one message (same alert ids, one archive row); else `chatwoot:<account>:<id>`.

Authentication: `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`
with `X-Chatwoot-Timestamp` (Chatwoot 4.11+); a timestamp more than `CHATWOOT_MAX_SKEW_S` away from
now is refused, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chatwatch.records import (
    Attachment,
    Direction,
    Message,
    MessageType,
    Origin,
    conversation_key,
)
from chatwatch.settings import Settings
from chatwatch.streams.deadletter import Reason
from chatwatch.streams.ingest.sources import MissingData, Source, item_reason
from chatwatch.streams.ingest.whatsapp_webhook import BadItem, ParseResult, PayloadError

NAME = "chatwoot"
SIGNATURE_HEADER = "X-Chatwoot-Signature"
TIMESTAMP_HEADER = "X-Chatwoot-Timestamp"
WHATSAPP_CHANNELS = {"Channel::Whatsapp", "Channel::TwilioSms"}  # Twilio inboxes carry SMS or WhatsApp
FILE_TYPES = {"image": MessageType.image, "audio": MessageType.audio, "video": MessageType.video,
              "file": MessageType.document, "sticker": MessageType.sticker}


def sign(body: bytes, secret: bytes, timestamp: int) -> str:
    """The `X-Chatwoot-Signature` value Chatwoot sends for `body` at `timestamp`."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def authenticate(headers: Mapping[str, str], body: bytes, secret: bytes, max_skew_s: float,
                 now: float | None = None) -> str | None:
    """None when the request is Chatwoot's and fresh; else why it is refused (for the log, no secrets)."""
    signature, stamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not signature or not stamp:
        return "no signature or timestamp header"
    try:
        timestamp = int(stamp)
    except ValueError:
        return "timestamp is not a number"
    if abs((time.time() if now is None else now) - timestamp) > max_skew_s:
        return "timestamp too old or in the future (replay?)"
    if not hmac.compare_digest(signature.strip(), sign(body, secret, timestamp)):
        return "wrong signature"
    return None


def routing_key(body: bytes, inbox_numbers: Mapping[str, str]) -> bytes | None:
    """The conversation key of the body's message, or None (normalize still judges the body)."""
    try:
        doc = json.loads(body)
        business, customer = _parties(doc, inbox_numbers)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return conversation_key(business, customer).encode() if business and customer else None


def parse(body: bytes, origin: Origin, inbox_numbers: Mapping[str, str]) -> ParseResult:
    """A Chatwoot webhook body -> canonical messages (one at most). Raises PayloadError when the body is
    not a Chatwoot event at all; an event that is not a WhatsApp message is reported in `ignored`."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise PayloadError(Reason.invalid_json, f"body is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("event"), str):
        raise PayloadError(Reason.invalid_shape, "not a Chatwoot webhook event (no 'event')")
    out = ParseResult()
    event = doc["event"]
    if event not in ("message_created", "message_updated"):
        out.ignored.append((event, "not a message event"))
        return out
    conversation = doc.get("conversation") or {}
    if conversation.get("channel") not in WHATSAPP_CHANNELS:
        out.ignored.append((event, f"not a WhatsApp inbox ({conversation.get('channel') or 'no channel'})"))
        return out
    if doc.get("private"):
        out.ignored.append((event, "private note (not sent to the customer)"))
        return out
    if doc.get("message_type") not in ("incoming", "outgoing", "template"):
        out.ignored.append((event, f"message type {doc.get('message_type')!r} (activity)"))
        return out
    attributes = doc.get("content_attributes") or {}
    if event == "message_updated" and not attributes.get("deleted"):
        out.ignored.append((event, "update of a message already seen (status, not content)"))
        return out
    try:
        out.messages.append(_message(doc, event, origin.model_copy(update={"channel": NAME, "field": event}),
                                     inbox_numbers))
    except (KeyError, TypeError, ValueError) as exc:  # the reason names fields, never their values
        out.problems.append(BadItem(Reason.invalid_message, "message", item_reason(exc), doc))
    return out


def _message(doc: dict[str, Any], event: str, origin: Origin, inbox_numbers: Mapping[str, str]) -> Message:
    business, customer = _parties(doc, inbox_numbers)
    if not customer:
        raise MissingData("no customer: the conversation's contact has no phone number or id")
    inbound = doc["message_type"] == "incoming"
    attributes = doc.get("content_attributes") or {}
    sender = doc.get("sender") or {}
    details: dict[str, Any] = {"chatwoot": {"account": _id((doc.get("account") or {}).get("id")),
                                            "inbox": _id((doc.get("inbox") or {}).get("id")),
                                            "conversation": _id((doc.get("conversation") or {}).get("display_id")
                                                                or (doc.get("conversation") or {}).get("id")),
                                            "message": _id(doc.get("id"))}}
    employee = None
    if not inbound:
        if sender.get("type") == "user":
            employee = f"{NAME}:{sender['id']}"
            details["agent"] = {"source": NAME, "id": _id(sender.get("id")), "name": sender.get("name"),
                                "email": sender.get("email")}
        elif attributes.get("external_echo"):
            details["typed_on_phone"] = True  # coexistence: typed in the WhatsApp Business app, not the inbox
        elif sender.get("type") == "agent_bot":
            details["bot"] = {"id": _id(sender.get("id")), "name": sender.get("name")}
    message_id = _message_id(doc)
    attachments = [_attachment(a) for a in doc.get("attachments") or [] if isinstance(a, dict)]
    deleted = event == "message_updated" and attributes.get("deleted")
    if deleted:
        kind = MessageType.deleted
    elif attachments:
        kind = FILE_TYPES.get(str((doc.get("attachments") or [{}])[0].get("file_type")), MessageType.document)
    else:
        kind = MessageType.text
    return Message(
        message_id=f"{message_id}:deleted" if deleted else message_id,
        business_phone_number_id=business,
        customer_wa_id=customer,
        customer_name=((doc.get("conversation") or {}).get("meta") or {}).get("sender", {}).get("name")
        if inbound else None,
        conversation_key=conversation_key(business, customer),
        employee_id=employee,
        direction=Direction.inbound if inbound else Direction.outbound,
        timestamp=_time(doc.get("created_at")),
        type=kind,
        source_type=f"{doc['message_type']}/{doc.get('content_type') or 'text'}",
        text=None if deleted else (doc.get("content") or None),
        attachments=attachments,
        target_message_id=message_id if deleted else None,
        details=details,
        origin=origin,
    )


def _parties(doc: dict[str, Any], inbox_numbers: Mapping[str, str]) -> tuple[str, str | None]:
    """(business, customer): the inbox's WhatsApp phone number id (or `chatwoot-inbox:<id>`) and the
    contact's number in WhatsApp's form (digits), else `chatwoot-contact:<id>`."""
    conversation = doc.get("conversation") or {}
    inbox = _id((doc.get("inbox") or {}).get("id") or conversation.get("inbox_id"))
    business = inbox_numbers.get(inbox or "") or f"chatwoot-inbox:{inbox}"
    contact = (conversation.get("meta") or {}).get("sender") or {}
    if doc.get("message_type") == "incoming" and not contact:
        contact = doc.get("sender") or {}
    phone = "".join(c for c in str(contact.get("phone_number") or "").removeprefix("whatsapp:") if c.isdigit())
    if phone:
        return business, phone
    contact_id = _id(contact.get("id") or (doc.get("contact") or {}).get("id"))
    return business, f"chatwoot-contact:{contact_id}" if contact_id else None


def _message_id(doc: dict[str, Any]) -> str:
    source_id = str(doc.get("source_id") or "")
    if source_id.startswith("wamid."):
        return source_id  # the WhatsApp id: the same message seen through the Cloud API is this one
    return f"{NAME}:{_id((doc.get('account') or {}).get('id'))}:{_id(doc['id'])}"


def _attachment(raw: dict[str, Any]) -> Attachment:
    extension = str(raw.get("extension") or "").lstrip(".") or None
    url = raw.get("data_url") or None
    return Attachment(kind=FILE_TYPES.get(str(raw.get("file_type")), MessageType.document).value,
                      media_id=_id(raw.get("id")), filename=f"attachment.{extension}" if extension else None,
                      size=raw.get("file_size") if isinstance(raw.get("file_size"), int) else None,
                      url=url if isinstance(url, str) else None)


def _time(value: Any) -> datetime:
    """Chatwoot sends epoch seconds in message payloads and ISO / 'YYYY-MM-DD HH:MM:SS UTC' strings in others."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        text = value.strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise MissingData("no created_at")


def _id(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _missing(settings: Settings) -> str | None:
    if settings.chatwoot_secret_bytes:
        return None
    return "no Chatwoot webhook secret: set CHATWATCH_CHATWOOT_WEBHOOK_SECRET or CHATWATCH_CHATWOOT_WEBHOOK_SECRET_FILE"


SOURCE = Source(
    name=NAME, title="Chatwoot (WhatsApp inboxes: who typed each reply)",
    path=lambda settings: settings.chatwoot_webhook_path, missing=_missing,
    authenticate=lambda request, settings: authenticate(request.headers, request.body,
                                                        settings.chatwoot_secret_bytes or b"",
                                                        settings.chatwoot_max_skew_s),
    routing_key=lambda body, settings: routing_key(body, settings.chatwoot_inbox_numbers),
    parse=lambda body, origin, settings, links: parse(body, origin, settings.chatwoot_inbox_numbers))
