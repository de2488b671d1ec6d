"""WhatsApp Business Cloud API webhook: signature and handshake checks, payload -> canonical records.

Pure functions, no I/O. The format is Meta's documented notification envelope
(object -> entry[] -> changes[] -> value.{messages, message_echoes, statuses, errors});
every message type maps to a `MessageType`, and a type we do not know becomes `unsupported`
(with its JSON) instead of an error. Customers known only by a business-scoped user id (BSUID) and
group messages parse like the others. The coexistence `history` field gives historical messages,
`calls` gives call events, and value-level errors (rate limits…) become error events. Other fields
(account_update, template status…) are returned as `ignored` with a reason so the caller can log
and count them.
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
    CallEvent,
    Direction,
    Message,
    MessageType,
    Origin,
    StatusUpdate,
    WebhookError,
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
class BadItem:
    """One unusable item of a body: its reason code, where it sits, what was wrong, and the item itself
    (it becomes a dead letter). Not `Problem`: that is a rule pack's error at file:line:column."""

    reason: str
    where: str  # e.g. entry[0].changes[0].value.messages[7]
    detail: str  # names fields, never values
    item: Any = None  # the item's JSON (kept in its dead letter), None when it is not an object


@dataclass
class ParseResult:
    messages: list[Message] = field(default_factory=list)  # live messages
    statuses: list[StatusUpdate] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)  # past messages (coexistence sync), historical=True
    calls: list[CallEvent] = field(default_factory=list)
    errors: list[WebhookError] = field(default_factory=list)  # value-level errors: no message or status
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)
    problems: list[BadItem] = field(default_factory=list)
    links: set[tuple[str, str, str]] = field(default_factory=set)  # (business phone id, user id, phone) seen together


# Phone number of a customer known by (business phone id, user id), from links seen earlier; None if unknown.
Identities = Callable[[str, str], str | None]


def _no_identities(phone_id: str, user_id: str) -> str | None:
    return None


@dataclass(frozen=True)
class Contact:
    """One entry of a change's contacts[]: who the customer is, by phone and/or business-scoped id."""

    wa_id: str | None
    user_id: str | None
    parent_user_id: str | None
    name: str | None
    username: str | None


class Contacts:
    """A change's contacts[], found by phone or by user id; with a single contact, that one."""

    def __init__(self, raw: Any):
        self.all = [_contact(c) for c in raw or [] if isinstance(c, dict)]

    def find(self, phone: str | None, user_id: str | None) -> Contact | None:
        for c in self.all:
            if (phone and c.wa_id == phone) or (user_id and c.user_id == user_id):
                return c
        return self.all[0] if len(self.all) == 1 else None


def _contact(raw: dict[str, Any]) -> Contact:
    profile = raw.get("profile") if isinstance(raw.get("profile"), dict) else {}
    return Contact(_str(raw.get("wa_id")) or None, _str(raw.get("user_id")) or None,
                   _str(raw.get("parent_user_id")) or None, _str(profile.get("name")) or None,
                   _str(profile.get("username") or raw.get("username")) or None)


def parse_notification(body: bytes | str | dict[str, Any], origin: Origin | None = None,
                       identities: Identities | None = None) -> ParseResult:
    """Parse one webhook POST body. Raises PayloadError when nothing in it can be used.

    Individual malformed items (entries, changes, messages, statuses) inside an otherwise good
    payload are listed in `problems` with the item, so one bad item never takes its neighbours with it.
    `identities` gives the phone number behind a user id from links seen before (a customer first seen
    by number keeps their conversation when later only their user id comes); `links` lists the
    (phone id, user id, number) pairs this body shows, for the caller to remember.
    """
    doc = _load(body)
    if doc.get("object") != "whatsapp_business_account":
        raise PayloadError("unexpected_object", f"object is {str(doc.get('object'))[:40]!r}, not 'whatsapp_business_account'")
    entries = doc.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("invalid_shape", "entry is missing or not a list")
    result = ParseResult()
    identities = identities or _no_identities
    base = origin or Origin(field="messages")
    for e_idx, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            result.problems.append(BadItem("invalid_shape", f"entry[{e_idx}]", "no changes list", entry))
            continue
        for c_idx, change in enumerate(entry["changes"]):
            where = f"entry[{e_idx}].changes[{c_idx}]"
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                result.problems.append(BadItem("invalid_shape", where, "no value object", change))
                continue
            fld = str(change.get("field", ""))
            change_origin = base.model_copy(update={"field": fld, "waba_id": _str(entry.get("id"))})
            try:
                _parse_change(fld, change["value"], change_origin, where, result, identities)
            except Exception as exc:  # a change shaped unlike any Meta sends: it alone is dead-lettered
                result.problems.append(BadItem("invalid_shape", where, _describe(exc), change))
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


def _parse_change(fld: str, value: dict[str, Any], origin: Origin, where: str, out: ParseResult,
                  identities: Identities = _no_identities) -> None:
    errors = [_error(e) for e in value.get("errors") or [] if isinstance(e, dict)]
    metadata = value.get("metadata") or {}
    phone_id = _str(metadata.get("phone_number_id"))
    display = _str(metadata.get("display_phone_number"))
    if fld not in (*MESSAGE_FIELDS, "history", "calls"):
        out.ignored.append((fld, "not a message field"))
        return
    if not phone_id:
        out.problems.append(BadItem("invalid_shape", f"{where}.value", "metadata.phone_number_id is missing", value))
        return
    business = Business(phone_id, display)
    if fld == "history":
        _history(value, business, origin, where, out)
        return
    if fld == "calls":
        for k_idx, raw in enumerate(value.get("calls") or []):
            _keep(out.calls, out, f"{where}.value.calls[{k_idx}]", "invalid_message", raw,
                  lambda raw=raw: _call(raw, business, origin))
        if not value.get("calls"):
            out.ignored.append((fld, "no calls in change"))
        return
    contacts = Contacts(value.get("contacts"))
    out.links.update((phone_id, c.user_id, c.wa_id) for c in contacts.all if c.user_id and c.wa_id)
    key = MESSAGE_FIELDS[fld]
    for m_idx, raw in enumerate(value.get(key) or []):
        _keep(out.messages, out, f"{where}.value.{key}[{m_idx}]", "invalid_message", raw,
              lambda raw=raw: _message(raw, fld, business, contacts, errors, origin, identities=identities))
    for s_idx, raw in enumerate(value.get("statuses") or []):
        _keep(out.statuses, out, f"{where}.value.statuses[{s_idx}]", "invalid_status", raw,
              lambda raw=raw: _status(raw, phone_id, contacts, origin, identities))
    out.links.update((phone_id, m.customer_user_id, m.customer_wa_id) for m in out.messages
                     if m.customer_user_id and m.customer_wa_id != m.customer_user_id and not m.group_id)
    if errors and not value.get(key) and not value.get("statuses"):
        # an error about the business number itself (rate limit…): kept and counted, never dropped
        out.errors.extend(WebhookError(business_phone_number_id=phone_id, error=e, origin=origin) for e in errors)
    elif not value.get(key) and not value.get("statuses"):
        out.ignored.append((fld, "no messages or statuses in change"))


def _keep(into: list, out: ParseResult, where: str, reason: str, raw: Any, parse: Callable[[], Any]) -> None:
    """Parse one item into `into`; any failure stays with its item (its neighbours flow on)."""
    try:
        into.append(parse())
    except Exception as exc:
        out.problems.append(BadItem(reason, where, _describe(exc), raw))


@dataclass(frozen=True)
class Business:
    phone_id: str
    display: str | None

    def is_business(self, number: str | None) -> bool:
        return bool(number) and number in (self.display, self.phone_id)


def _history(value: dict[str, Any], business: Business, origin: Origin, where: str, out: ParseResult) -> None:
    """Coexistence history: past chats of the WhatsApp Business app, in threads (one per customer) or, for
    history media, as value.messages[]. A message from the business number is outbound."""
    contacts = Contacts(value.get("contacts"))
    items: list[tuple[str, Any, str | None]] = []
    for h_idx, chunk in enumerate(value.get("history") or []):
        for t_idx, thread in enumerate((chunk or {}).get("threads") or []):
            customer = _str(thread.get("id"))
            for m_idx, raw in enumerate(thread.get("messages") or []):
                items.append((f"{where}.value.history[{h_idx}].threads[{t_idx}].messages[{m_idx}]", raw, customer))
    for m_idx, raw in enumerate(value.get("messages") or []):
        items.append((f"{where}.value.messages[{m_idx}]", raw, None))
    for item_where, raw, customer in items:
        _keep(out.history, out, item_where, "invalid_message", raw,
              lambda raw=raw, customer=customer: _message(raw, "history", business, contacts, [], origin, customer))
    if not items:
        out.ignored.append(("history", "no messages in history change"))


def _message(raw: dict[str, Any], fld: str, business: Business, contacts: Contacts,
             value_errors: list[WhatsAppError], origin: Origin, thread_customer: str | None = None,
             identities: Identities = _no_identities) -> Message:
    if not isinstance(raw, dict):
        raise TypeError("message is not an object")
    sender, recipient = _str(raw.get("from")) or None, _str(raw.get("to")) or None
    sender_id, recipient_id = _str(raw.get("from_user_id")) or None, _str(raw.get("to_user_id")) or None
    group_id = _str(raw.get("group_id")) or None
    if fld == "smb_message_echoes" or (fld == "history" and business.is_business(sender)):
        # Sent by the business from its phone app; the customer is the other party.
        direction = Direction.outbound
        phone = thread_customer or (recipient if recipient and not business.is_business(recipient) else None)
        user_id = recipient_id
    else:
        direction = Direction.inbound
        phone, user_id = sender or thread_customer, sender_id
    contact = contacts.find(phone, user_id)
    user_id = user_id or (contact.user_id if contact else None)
    phone = phone or (contact.wa_id if contact else None) or (identities(business.phone_id, user_id) if user_id else None)
    customer = phone or user_id
    if not customer:
        raise ValueError("no customer: neither a number ('from'/'to') nor a user id ('from_user_id')")
    source_type = _str(raw.get("type")) or _inferred_type(raw)
    content = _content(source_type, raw)
    ctx = raw.get("context") or {}
    timestamp, unreadable = _timestamp_or_received(raw.get("timestamp"), origin)
    details = content.pop("details", {})
    if unreadable is not None:
        details = {**details, "timestamp_as_sent": unreadable}
    history = raw.get("history_context")
    if isinstance(history, dict):
        details = {**details, "history_status": history.get("status")}
    return Message(
        message_id=_str(raw.get("id")) or _fail("empty id"),
        business_phone_number_id=business.phone_id,
        business_display_number=business.display,
        customer_wa_id=customer,
        customer_name=contact.name if contact else None,
        customer_user_id=user_id,
        customer_parent_user_id=_str(raw.get("from_parent_user_id")) or (contact.parent_user_id if contact else None),
        customer_username=contact.username if contact else None,
        group_id=group_id,
        historical=True if fld == "history" else None,
        conversation_key=conversation_key(business.phone_id, f"group:{group_id}" if group_id else customer),
        direction=direction,
        timestamp=timestamp,
        source_type=source_type,
        reply_to_id=_str(ctx.get("id")) if ctx.get("from") or ctx.get("id") else None,
        forwarded=bool(ctx.get("forwarded") or ctx.get("frequently_forwarded")),
        frequently_forwarded=bool(ctx.get("frequently_forwarded")),
        errors=[_error(e) for e in raw.get("errors") or [] if isinstance(e, dict)] + value_errors,
        details=details,
        origin=origin.model_copy(update={"field": fld}) if fld == "history" else origin,
        **content,
    )


def _inferred_type(raw: dict[str, Any]) -> str:
    """A message without `type` (seen for locations): the one content key it carries, else unknown."""
    present = [k for k in EXTRACTORS if isinstance(raw.get(k), (dict, list))]
    return present[0] if len(present) == 1 else "unknown"


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
    text = " ".join(str(w) for w in words if w and not isinstance(w, (dict, list))) or None
    details: dict[str, Any] = {"interactive_type": kind, "reply_id": reply.get("id")}
    if "response_json" in reply:
        details["response_json"] = reply["response_json"]
    if kind not in _KNOWN_INTERACTIVE:  # payment_method and whatever comes next: every field kept
        details["raw"] = reply
    return {"type": MessageType.interactive, "text": text, "details": details}


_KNOWN_INTERACTIVE = {"button_reply", "list_reply", "nfm_reply"}


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


def _media_placeholder(raw: dict[str, Any]) -> dict[str, Any]:
    """History sync: a media message whose media comes later (a separate history webhook)."""
    return {"type": MessageType.unsupported, "details": {"unsupported_type": "media_placeholder"}}


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
    "unknown": _unsupported,
    "media_placeholder": _media_placeholder,
    "revoke": _revoke,
    "edit": _edit,
}


# Keys every message has: the rest of an unknown message is its content.
_ENVELOPE_KEYS = {"from", "to", "id", "timestamp", "type", "context", "from_user_id", "from_parent_user_id",
                  "to_user_id", "group_id", "errors"}


def _content(source_type: str, raw: dict[str, Any]) -> dict[str, Any]:
    extract = EXTRACTORS.get(source_type)
    if extract is None:  # a type we do not know yet: kept whole, never dropped
        unknown = {k: v for k, v in raw.items() if k not in _ENVELOPE_KEYS}
        return {"type": MessageType.unsupported, "details": {"unsupported_type": source_type, "raw": unknown}}
    content = extract(raw)
    if raw.get("referral"):
        content["details"] = {**content.get("details", {}), "referral": raw["referral"]}
    return content


def _status(raw: dict[str, Any], phone_id: str, contacts: Contacts, origin: Origin,
            identities: Identities = _no_identities) -> StatusUpdate:
    phone = _str(raw.get("recipient_id")) or None
    user_id = _str(raw.get("recipient_user_id")) or None
    contact = contacts.find(phone, user_id)
    user_id = user_id or (contact.user_id if contact else None)
    phone = phone or (contact.wa_id if contact else None) or (identities(phone_id, user_id) if user_id else None)
    recipient = phone or user_id or _fail("no recipient: neither recipient_id nor recipient_user_id")
    details = {k: raw[k] for k in ("conversation", "pricing", "biz_opaque_callback_data") if raw.get(k)}
    timestamp, unreadable = _timestamp_or_received(raw.get("timestamp"), origin)
    if unreadable is not None:
        details["timestamp_as_sent"] = unreadable
    return StatusUpdate(
        message_id=_str(raw.get("id")) or _fail("empty id"),
        business_phone_number_id=phone_id,
        recipient_id=recipient,
        recipient_user_id=user_id,
        conversation_key=conversation_key(phone_id, recipient),
        status=_str(raw.get("status")) or _fail("empty status"),
        timestamp=timestamp,
        errors=[_error(e) for e in raw.get("errors") or [] if isinstance(e, dict)],
        details=details or None,
        origin=origin,
    )


def _call(raw: dict[str, Any], business: Business, origin: Origin) -> CallEvent:
    """A call event (connect, terminate, recording available…): who, when, how long, how it ended."""
    if not isinstance(raw, dict):
        raise TypeError("call is not an object")
    sender, recipient = _str(raw.get("from")) or None, _str(raw.get("to")) or None
    outbound = business.is_business(sender) or _str(raw.get("direction")) == "BUSINESS_INITIATED"
    customer = (recipient if outbound else sender) or _str(raw.get("from_user_id") or raw.get("to_user_id")) or None
    recording = raw.get("call_recording") or {}
    audio = recording.get(recording.get("type") or "audio") if isinstance(recording, dict) else None
    attachments = [Attachment(kind="audio", media_id=_str(audio.get("id")), mime_type=_str(audio.get("mime_type")),
                              sha256=_str(audio.get("sha256")), url=_str(audio.get("url")))] if isinstance(audio, dict) else []
    timestamp, _ = _timestamp_or_received(raw.get("timestamp"), origin)
    start, _ = _timestamp_or_received(raw.get("start_time"), None) if raw.get("start_time") else (None, None)
    end, _ = _timestamp_or_received(raw.get("end_time"), None) if raw.get("end_time") else (None, None)
    return CallEvent(
        call_id=_str(raw.get("id")) or _fail("empty id"),
        business_phone_number_id=business.phone_id,
        customer_wa_id=customer,
        conversation_key=conversation_key(business.phone_id, customer) if customer else None,
        event=_str(raw.get("event")) or "unknown",
        direction=Direction.outbound if outbound else Direction.inbound,
        status=_str(raw.get("status")) or None,
        timestamp=timestamp, start=start, end=end,
        duration_s=_int(raw.get("duration")),
        attachments=attachments,
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


def _timestamp_or_received(value: Any, origin: Origin | None) -> tuple[datetime | None, str | None]:
    """The send time; when it is missing, not a number or out of range, the time we received the event
    (and what was sent, cut short, for the record): a message is never lost to its clock."""
    try:
        return _timestamp(value), None
    except (TypeError, ValueError, OverflowError):
        fallback = (origin.received_at if origin and origin.received_at else datetime.now(UTC)) if origin else None
        return fallback, str(value)[:40]


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
