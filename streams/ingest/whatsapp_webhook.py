"""WhatsApp Business Cloud API webhook: signature and handshake checks, payload -> canonical records.

Pure functions, no I/O. The format is Meta's documented notification envelope
(object -> entry[] -> changes[] -> value.{messages, message_echoes, statuses, errors});
every message type maps to a `MessageType`, and a type we do not know becomes `unsupported`
instead of an error. Non-message fields (account_update, template status…) are returned as
`ignored` with a reason so the caller can log and count them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from chatwatch.records import (
    Attachment,
    Direction,
    Message,
    MessageType,
    Origin,
    StatusUpdate,
    WhatsAppError,
    conversation_key,
    validation_summary,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"
MESSAGE_FIELDS = {"messages": "messages", "smb_message_echoes": "message_echoes"}


class PayloadError(ValueError):
    """The payload cannot be read at all; `reason` is a dead-letter reason code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


# --- authenticity -------------------------------------------------------------------------

def sign(body: bytes, app_secret: bytes) -> str:
    """The X-Hub-Signature-256 value Meta sends for `body` (used by tests and the demo)."""
    return "sha256=" + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def signature_is_valid(body: bytes, header: str | None, app_secret: bytes) -> bool:
    """HMAC-SHA256 over the raw bytes as received, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    try:
        given = header.strip().encode("ascii")
    except UnicodeEncodeError:  # a header with non-ASCII bytes cannot be a hex digest
        return False
    return hmac.compare_digest(sign(body, app_secret).encode(), given)


def subscription_challenge(params: dict[str, str], verify_token: bytes) -> str | None:
    """The GET handshake: the challenge to echo back, or None when the request must be refused."""
    token = params.get("hub.verify_token", "").encode()
    if params.get("hub.mode") != "subscribe" or "hub.challenge" not in params:
        return None
    if not hmac.compare_digest(token, verify_token):
        return None
    return params["hub.challenge"]


# --- parsing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One unusable item of a body: its reason code, where it sits, what was wrong, and the item itself."""

    reason: str
    where: str  # e.g. entry[0].changes[0].value.messages[7]
    detail: str  # names fields, never values
    item: Any = None  # the item's JSON (kept in its dead letter), None when it is not an object


@dataclass
class ParseResult:
    messages: list[Message] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)
    problems: list[Problem] = field(default_factory=list)


def parse_notification(body: bytes | str | dict[str, Any], origin: Origin | None = None) -> ParseResult:
    """Parse one webhook POST body. Raises PayloadError when nothing in it can be used.

    Individual malformed items (entries, changes, messages, statuses) inside an otherwise good
    payload are listed in `problems` with the item, so one bad item never takes its neighbours with it.
    """
    doc = _load(body)
    if doc.get("object") != "whatsapp_business_account":
        raise PayloadError("unexpected_object", f"object is {str(doc.get('object'))[:40]!r}, not 'whatsapp_business_account'")
    entries = doc.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("invalid_shape", "entry is missing or not a list")
    result = ParseResult()
    base = origin or Origin(field="messages")
    for e_idx, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            result.problems.append(Problem("invalid_shape", f"entry[{e_idx}]", "no changes list", entry))
            continue
        for c_idx, change in enumerate(entry["changes"]):
            where = f"entry[{e_idx}].changes[{c_idx}]"
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                result.problems.append(Problem("invalid_shape", where, "no value object", change))
                continue
            fld = str(change.get("field", ""))
            change_origin = base.model_copy(update={"field": fld, "waba_id": _str(entry.get("id"))})
            try:
                _parse_change(fld, change["value"], change_origin, where, result)
            except Exception as exc:  # a change shaped unlike any Meta sends: it alone is dead-lettered
                result.problems.append(Problem("invalid_shape", where, _describe(exc), change))
    return result


def _load(body: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("invalid_json", f"not JSON: {exc.__class__.__name__} at position {getattr(exc, 'pos', '?')}") from None
    if not isinstance(doc, dict):
        raise PayloadError("invalid_shape", f"top level is a JSON {type(doc).__name__}, not an object")
    return doc


def _parse_change(fld: str, value: dict[str, Any], origin: Origin, where: str, out: ParseResult) -> None:
    errors = [_error(e) for e in value.get("errors") or [] if isinstance(e, dict)]
    metadata = value.get("metadata") or {}
    phone_id = _str(metadata.get("phone_number_id"))
    display = _str(metadata.get("display_phone_number"))
    if fld not in MESSAGE_FIELDS:
        out.ignored.append((fld, "not a message field"))
        return
    if not phone_id:
        out.problems.append(Problem("invalid_shape", f"{where}.value", "metadata.phone_number_id is missing", value))
        return
    names = {
        _str(c.get("wa_id")): _str((c.get("profile") or {}).get("name"))
        for c in value.get("contacts") or []
        if isinstance(c, dict)
    }
    key = MESSAGE_FIELDS[fld]
    for m_idx, raw in enumerate(value.get(key) or []):
        try:
            out.messages.append(_message(raw, fld, phone_id, display, names, errors, origin))
        except Exception as exc:  # any failure stays with its item (e.g. a timestamp of 10^20)
            out.problems.append(Problem("invalid_message", f"{where}.value.{key}[{m_idx}]", _describe(exc), raw))
    for s_idx, raw in enumerate(value.get("statuses") or []):
        try:
            out.statuses.append(_status(raw, phone_id, origin))
        except Exception as exc:
            out.problems.append(Problem("invalid_status", f"{where}.value.statuses[{s_idx}]", _describe(exc), raw))
    if not value.get(key) and not value.get("statuses") and not errors:
        out.ignored.append((fld, "no messages or statuses in change"))


def _message(raw: dict[str, Any], fld: str, phone_id: str, display: str | None,
             names: dict[str | None, str | None], value_errors: list[WhatsAppError], origin: Origin) -> Message:
    if not isinstance(raw, dict):
        raise TypeError("message is not an object")
    sender, recipient = _str(raw["from"]), _str(raw.get("to"))
    if fld == "smb_message_echoes":
        # An echo is sent by the business from its phone app; the customer is the other party.
        direction = Direction.outbound
        customer = recipient if recipient and recipient != display else sender
    else:
        direction = Direction.inbound
        customer = sender
    if not customer:
        raise ValueError("no customer number ('from'/'to')")
    source_type = _str(raw.get("type")) or "unknown"
    content = _content(source_type, raw)
    ctx = raw.get("context") or {}
    return Message(
        message_id=_str(raw["id"]) or _fail("empty id"),
        business_phone_number_id=phone_id,
        business_display_number=display,
        customer_wa_id=customer,
        customer_name=names.get(customer),
        conversation_key=conversation_key(phone_id, customer),
        direction=direction,
        timestamp=_timestamp(raw["timestamp"]),
        source_type=source_type,
        reply_to_id=_str(ctx.get("id")) if ctx.get("from") or ctx.get("id") else None,
        forwarded=bool(ctx.get("forwarded") or ctx.get("frequently_forwarded")),
        frequently_forwarded=bool(ctx.get("frequently_forwarded")),
        errors=[_error(e) for e in raw.get("errors") or [] if isinstance(e, dict)] + value_errors,
        origin=origin,
        **content,
    )


# Each extractor returns the Message fields that depend on the type. Registry, not an if-chain.
Extractor = Callable[[dict[str, Any]], dict[str, Any]]
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def _media(kind: str) -> Extractor:
    def extract(raw: dict[str, Any]) -> dict[str, Any]:
        media = raw.get(kind) or {}
        att = Attachment(
            kind=kind,
            media_id=_str(media.get("id")),
            mime_type=_str(media.get("mime_type")),
            filename=_str(media.get("filename")),
            size=_int(media.get("file_size") or media.get("size")),
            sha256=_str(media.get("sha256")),
            url=_str(media.get("url")),
            voice=bool(media.get("voice")),
            animated=bool(media.get("animated")),
        )
        return {"type": MessageType(kind), "text": _str(media.get("caption")), "attachments": [att]}
    return extract


def _text(raw: dict[str, Any]) -> dict[str, Any]:
    return {"type": MessageType.text, "text": _str((raw.get("text") or {}).get("body"))}


def _location(raw: dict[str, Any]) -> dict[str, Any]:
    loc = raw.get("location") or {}
    words = " ".join(str(loc[k]) for k in ("name", "address") if loc.get(k))
    details = {k: loc[k] for k in ("latitude", "longitude", "name", "address", "url") if k in loc}
    return {"type": MessageType.location, "text": words or None, "details": details}


def _contacts(raw: dict[str, Any]) -> dict[str, Any]:
    cards = raw.get("contacts") or []
    lines = []
    for card in cards:
        name = (card.get("name") or {}).get("formatted_name")
        phones = [p.get("phone") or p.get("wa_id") for p in card.get("phones") or []]
        emails = [e.get("email") for e in card.get("emails") or []]
        lines.append(" ".join(str(x) for x in [name, *phones, *emails] if x))
    return {"type": MessageType.contacts, "text": "\n".join(lines) or None, "details": {"contacts": cards}}


def _interactive(raw: dict[str, Any]) -> dict[str, Any]:
    inter = raw.get("interactive") or {}
    kind = _str(inter.get("type"))
    reply = inter.get(kind) if kind else None
    reply = reply if isinstance(reply, dict) else {}
    words = [reply.get(k) for k in ("title", "description", "body")]
    text = " ".join(str(w) for w in words if w) or None
    details = {"interactive_type": kind, "reply_id": reply.get("id")}
    if "response_json" in reply:
        details["response_json"] = reply["response_json"]
    return {"type": MessageType.interactive, "text": text, "details": details}


def _button(raw: dict[str, Any]) -> dict[str, Any]:
    btn = raw.get("button") or {}
    return {"type": MessageType.button, "text": _str(btn.get("text")), "details": {"payload": btn.get("payload")}}


def _reaction(raw: dict[str, Any]) -> dict[str, Any]:
    rea = raw.get("reaction") or {}
    emoji = _str(rea.get("emoji"))
    return {"type": MessageType.reaction, "text": emoji or None, "target_message_id": _str(rea.get("message_id")),
            "details": {"removed": not emoji}}


def _order(raw: dict[str, Any]) -> dict[str, Any]:
    order = raw.get("order") or {}
    return {"type": MessageType.order, "text": _str(order.get("text")) or None,
            "details": {"catalog_id": order.get("catalog_id"), "product_items": order.get("product_items") or []}}


def _system(raw: dict[str, Any]) -> dict[str, Any]:
    sysm = raw.get("system") or {}
    return {"type": MessageType.system, "text": _str(sysm.get("body")),
            "details": {k: sysm[k] for k in ("type", "wa_id", "customer", "identity") if k in sysm}}


def _unsupported(raw: dict[str, Any]) -> dict[str, Any]:
    inner = raw.get("unsupported") or {}
    return {"type": MessageType.unsupported, "details": {"unsupported_type": inner.get("type")} if inner else {}}


def _revoke(raw: dict[str, Any]) -> dict[str, Any]:
    rev = raw.get("revoke") or {}
    return {"type": MessageType.deleted, "target_message_id": _str(rev.get("original_message_id"))}


def _edit(raw: dict[str, Any]) -> dict[str, Any]:
    edit = raw.get("edit") or {}
    inner = edit.get("message") or {}
    inner_type = _str(inner.get("type")) or "unknown"
    content = _content(inner_type, inner)
    details = {**content.get("details", {}), "edited_type": inner_type}
    return {**content, "type": MessageType.edited, "target_message_id": _str(edit.get("original_message_id")),
            "details": details}


EXTRACTORS: dict[str, Extractor] = {
    "text": _text,
    **{kind: _media(kind) for kind in MEDIA_TYPES},
    "location": _location,
    "contacts": _contacts,
    "interactive": _interactive,
    "button": _button,
    "reaction": _reaction,
    "order": _order,
    "system": _system,
    "unsupported": _unsupported,
    "revoke": _revoke,
    "edit": _edit,
}


def _content(source_type: str, raw: dict[str, Any]) -> dict[str, Any]:
    extract = EXTRACTORS.get(source_type)
    if extract is None:
        return {"type": MessageType.unsupported, "details": {"unsupported_type": source_type}}
    content = extract(raw)
    if raw.get("referral"):
        content["details"] = {**content.get("details", {}), "referral": raw["referral"]}
    return content


def _status(raw: dict[str, Any], phone_id: str, origin: Origin) -> StatusUpdate:
    recipient = _str(raw["recipient_id"]) or _fail("empty recipient_id")
    return StatusUpdate(
        message_id=_str(raw["id"]) or _fail("empty id"),
        business_phone_number_id=phone_id,
        recipient_id=recipient,
        conversation_key=conversation_key(phone_id, recipient),
        status=_str(raw["status"]) or _fail("empty status"),
        timestamp=_timestamp(raw["timestamp"]),
        errors=[_error(e) for e in raw.get("errors") or [] if isinstance(e, dict)],
        origin=origin,
    )


# --- small helpers ------------------------------------------------------------------------

def _error(e: dict[str, Any]) -> WhatsAppError:
    return WhatsAppError(code=_int(e.get("code")), title=_str(e.get("title")), message=_str(e.get("message")),
                         details=_str((e.get("error_data") or {}).get("details")))


# WhatsApp sends Unix seconds; past this, a number is not a send time (and 10^20 overflows datetime).
_LATEST = datetime(2200, 1, 1, tzinfo=UTC).timestamp()


def _timestamp(value: Any) -> datetime:
    seconds = int(value)
    if not 0 <= seconds < _LATEST:
        raise ValueError("timestamp is out of range (expected Unix seconds)")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise TypeError(f"expected a string, got a JSON {type(value).__name__}")
    return str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _fail(detail: str) -> str:
    raise ValueError(detail)


def _describe(exc: Exception) -> str:
    """Short reason that names fields, never the values in them (they may be personal data)."""
    if isinstance(exc, ValidationError):
        return validation_summary(exc, 300)
    if isinstance(exc, ValueError) and "invalid literal" in str(exc):
        return "a number field holds something that is not a number"
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc).splitlines()[0][:200]
