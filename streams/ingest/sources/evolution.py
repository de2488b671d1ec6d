"""Evolution API: the open-source WhatsApp Web (Baileys) gateway very common in Brazil. One
*instance* is one company phone; `messages.upsert` carries every message, `key.fromMe` telling the
company's side from the customer's.

Who typed it: Evolution knows only the phone, not the person — a reply typed on the phone or by
any system using the instance is `fromMe` with no author. The instance is the employee when a
company gives each employee their own corporate phone (LeapXpert-style one identity per
employee): `employee_id` = `evolution:<instance>`, which the people directory maps to the person
(`ids: ["evolution:vendas-ana"]`). `data.source` (android, ios, web…) is kept in details.

Authentication. Evolution does not sign its webhooks (a request open since 2023). It can send
custom headers, and with a `jwt_key` an `Authorization: Bearer <HS256 JWT>` that expires after
10 minutes. The receiver accepts either a bearer token equal to `EVOLUTION_TOKEN` or a JWT signed
with `EVOLUTION_JWT_KEY` and not expired. What that protects: a request without the token or a
valid JWT is refused, and a JWT seen by someone else stops working within minutes. What it does
not: the body is not signed, so anyone who holds the static token (it travels in every request:
use HTTPS) can post any message; prefer the JWT, and restrict the route to Evolution's addresses.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jwt

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
from chatwatch.streams.ingest.sources import Incoming, Source, item_reason
from chatwatch.streams.ingest.whatsapp_webhook import BadItem, ParseResult, PayloadError

NAME = "evolution"
MEDIA = {"imageMessage": MessageType.image, "videoMessage": MessageType.video, "audioMessage": MessageType.audio,
         "documentMessage": MessageType.document, "stickerMessage": MessageType.sticker}


def authenticate(headers: Mapping[str, str], token: bytes | None, jwt_key: bytes | None) -> str | None:
    """None when the request carries the static bearer token or a valid, unexpired HS256 JWT."""
    auth = headers.get("Authorization") or ""
    if not auth.startswith("Bearer "):
        return "no bearer token"
    given = auth.removeprefix("Bearer ").strip()
    if token and hmac.compare_digest(given.encode(), token):
        return None
    if jwt_key:
        try:
            jwt.decode(given, jwt_key, algorithms=["HS256"], options={"require": ["exp"]})
            return None
        except jwt.ExpiredSignatureError:
            return "expired token"
        except jwt.InvalidTokenError:
            pass
    return "wrong token"


def routing_key(body: bytes) -> bytes | None:
    try:
        doc = json.loads(body)
        business, customer = _parties(doc)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return conversation_key(business, customer).encode() if customer else None


def parse(body: bytes, origin: Origin) -> ParseResult:
    try:
        doc = json.loads(body)
    except ValueError:
        raise PayloadError(Reason.invalid_json, "body is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("event"), str) or "instance" not in doc:
        raise PayloadError(Reason.invalid_shape, "not an Evolution API webhook event (no 'event' or 'instance')")
    out = ParseResult()
    event = doc["event"].lower().replace("_", ".")  # v2 sends messages.upsert; some SDKs MESSAGES_UPSERT
    if event != "messages.upsert":
        out.ignored.append((event, "not a new message"))
        return out
    items = doc.get("data")
    for n, data in enumerate(items if isinstance(items, list) else [items]):  # one message, or a batch
        where = f"data[{n}]" if isinstance(items, list) else "data"
        try:
            message = _message(doc, data, origin.model_copy(update={"channel": NAME, "field": event}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            out.problems.append(BadItem(Reason.invalid_message, where, item_reason(exc), data))
            continue
        if message is None:
            out.ignored.append((event, "a group, status or broadcast message"))
        else:
            out.messages.append(message)
    return out


def _message(doc: dict[str, Any], data: dict[str, Any], origin: Origin) -> Message | None:
    key = data["key"]
    jid = str(key["remoteJid"])
    if not jid.endswith("@s.whatsapp.net"):
        return None  # groups (@g.us), status@broadcast, newsletters: not a customer conversation here
    business, customer = _parties({**doc, "data": data})
    from_me = bool(key.get("fromMe"))
    content = data.get("message") or {}
    kind, text, attachments = _content(content)
    details: dict[str, Any] = {"evolution": {"instance": doc["instance"], "source": data.get("source")}}
    if from_me:
        details["agent"] = {"source": NAME, "id": doc["instance"]}
    return Message(
        message_id=f"{NAME}:{doc['instance']}:{key['id']}", business_phone_number_id=business,
        customer_wa_id=customer, customer_name=None if from_me else (data.get("pushName") or None),
        conversation_key=conversation_key(business, customer),
        employee_id=f"{NAME}:{doc['instance']}" if from_me else None,
        direction=Direction.outbound if from_me else Direction.inbound,
        timestamp=datetime.fromtimestamp(int(data["messageTimestamp"]), UTC), type=kind,
        source_type=str(data.get("messageType") or next(iter(content), "unknown")), text=text,
        attachments=attachments, details=details, origin=origin)


def _parties(doc: dict[str, Any]) -> tuple[str, str]:
    """(business, customer): the instance's own number when the event names it (`sender`), else the
    instance; the customer's number from the chat's JID."""
    data = doc["data"][0] if isinstance(doc.get("data"), list) else doc["data"]
    customer = str(data["key"]["remoteJid"]).split("@")[0]
    owner = str(doc.get("sender") or "").split("@")[0]
    business = owner if owner.isdigit() and owner != customer else f"evolution:{doc['instance']}"
    return business, customer


def _content(content: dict[str, Any]) -> tuple[MessageType, str | None, list[Attachment]]:
    if "conversation" in content:
        return MessageType.text, content["conversation"] or None, []
    if "extendedTextMessage" in content:
        return MessageType.text, (content["extendedTextMessage"] or {}).get("text") or None, []
    for field, kind in MEDIA.items():
        if field in content:
            media = content[field] or {}
            size = media.get("fileLength")
            return kind, media.get("caption") or None, [Attachment(
                kind=kind.value, mime_type=media.get("mimetype"), filename=media.get("fileName"),
                size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
                sha256=media.get("fileSha256") if isinstance(media.get("fileSha256"), str) else None)]
    if "protocolMessage" in content and (content["protocolMessage"] or {}).get("type") == "REVOKE":
        return MessageType.deleted, None, []
    return MessageType.unsupported, None, []


def _missing(settings: Settings) -> str | None:
    if settings.evolution_token_bytes or settings.evolution_jwt_key_bytes:
        return None
    return "no Evolution API token or JWT key: set CHATWATCH_EVOLUTION_TOKEN(_FILE) or CHATWATCH_EVOLUTION_JWT_KEY(_FILE)"


def _authenticate(request: Incoming, settings: Settings) -> str | None:
    return authenticate(request.headers, settings.evolution_token_bytes, settings.evolution_jwt_key_bytes)


SOURCE = Source(name=NAME, title="Evolution API (WhatsApp Web gateway; one instance per phone)",
                path=lambda settings: settings.evolution_webhook_path, missing=_missing, authenticate=_authenticate,
                routing_key=lambda body, settings: routing_key(body), parse=lambda body, origin, s, links: parse(body, origin))
