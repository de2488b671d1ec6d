"""Twilio: WhatsApp through Programmable Messaging (incoming messages) and Conversations (every
message of a conversation, with its `Author`: the agent's identity when an agent wrote it).

Both post form-encoded parameters signed with `X-Twilio-Signature` = base64(HMAC-SHA1(auth token,
URL + each parameter name and value, sorted by name)). The URL is the one Twilio called:
behind a proxy or an ingress, set `TWILIO_WEBHOOK_URL` to the public address configured in
Twilio; a default port is tried with and without (as Twilio's own validator does).

What becomes a message:
- Messaging: a parameter set with `MessageSid` and `From`/`To` of the form `whatsapp:+<number>`
  (SMS and status callbacks are ignored): inbound, from the customer (`WaId`) to the business
  number; Twilio sends no time, so the time the receiver stored the body is used.
- Conversations: `EventType=onMessageAdded`. An `Author` of the form `whatsapp:+<number>` is the
  customer (inbound); any other author is a person of the business writing from the Twilio SDK or
  API — the agent, `employee_id` = `twilio:<identity>`; `system` authors are not agents. The
  conversation is keyed by the Conversation SID under the chat service (`twilio-service:<sid>`),
  since agent messages do not carry the customer's number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import ValidationError

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
from chatwatch.streams.ingest.sources import Incoming, MissingData, Source, item_reason
from chatwatch.streams.ingest.whatsapp_webhook import BadItem, ParseResult, PayloadError

NAME = "twilio"
SIGNATURE_HEADER = "X-Twilio-Signature"
KINDS = {"image": MessageType.image, "audio": MessageType.audio, "video": MessageType.video}


def signature(url: str, params: list[tuple[str, str]], auth_token: bytes) -> str:
    """The `X-Twilio-Signature` Twilio computes for a request to `url` with form `params`."""
    data = url + "".join(name + value for name in sorted({n for n, _ in params})
                         for value in sorted({v for n, v in params if n == name}))
    return base64.b64encode(hmac.new(auth_token, data.encode(), hashlib.sha1).digest()).decode()


def authenticate(headers: Mapping[str, str], body: bytes, url: str, auth_token: bytes) -> str | None:
    """None when Twilio signed this request; else why it is refused."""
    given = headers.get(SIGNATURE_HEADER)
    if not given:
        return "no signature"
    params = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    for candidate in _with_and_without_port(url):
        if hmac.compare_digest(given.strip(), signature(candidate, params, auth_token)):
            return None
    return "wrong signature (is TWILIO_WEBHOOK_URL the URL configured in Twilio?)"


def _with_and_without_port(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port is None and default:
        return [url, urlunsplit(parts._replace(netloc=f"{host}:{default}"))]
    if parts.port == default:
        return [url, urlunsplit(parts._replace(netloc=host))]
    return [url]


def parse(body: bytes, origin: Origin) -> ParseResult:
    """Form parameters -> canonical messages (one at most); PayloadError when the body is not a form."""
    try:
        text = body.decode("utf-8")
        params = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
    except (UnicodeDecodeError, ValueError):
        raise PayloadError(Reason.invalid_shape, "not form-encoded parameters") from None
    out = ParseResult()
    event = params.get("EventType")
    try:
        if event is not None:
            if event != "onMessageAdded":
                out.ignored.append((event, "not a message event"))
                return out
            out.messages.append(_conversations_message(params, origin.model_copy(update={"channel": NAME,
                                                                                           "field": event})))
        elif "MessageSid" in params and "MessageStatus" not in params:
            if not (params.get("From", "").startswith("whatsapp:") and params.get("To", "").startswith("whatsapp:")):
                out.ignored.append(("messaging", "not WhatsApp (SMS)"))
                return out
            out.messages.append(_messaging_message(params, origin.model_copy(update={"channel": NAME,
                                                                                       "field": "messaging"})))
        elif "MessageStatus" in params:
            out.ignored.append(("messaging", "status callback"))
        else:
            raise PayloadError(Reason.invalid_shape, "no MessageSid or EventType: not a Twilio message webhook")
    except (KeyError, ValueError, ValidationError) as exc:  # the reason names fields, never their values
        if isinstance(exc, PayloadError):
            raise
        out.problems.append(BadItem(Reason.invalid_message, event or "messaging", item_reason(exc, "parameter"),
                                    {k: v for k, v in params.items() if k.endswith("Sid")}))
    return out


def _messaging_message(params: dict[str, str], origin: Origin) -> Message:
    business = _digits(params["To"])
    customer = params.get("WaId") or _digits(params["From"])
    if origin.received_at is None:
        raise MissingData("no time: Twilio sends none and the body has no receive time")
    attachments = [_attachment(params, i) for i in range(int(params.get("NumMedia") or 0))]
    return Message(
        message_id=f"{NAME}:{params['MessageSid']}", business_phone_number_id=business,
        business_display_number=business, customer_wa_id=customer, customer_name=params.get("ProfileName") or None,
        conversation_key=conversation_key(business, customer), direction=Direction.inbound,
        timestamp=origin.received_at, type=_kind(attachments), source_type="messaging",
        text=params.get("Body") or None, attachments=attachments,
        reply_to_id=f"{NAME}:{params['OriginalRepliedMessageSid']}" if params.get("OriginalRepliedMessageSid") else None,
        details={"twilio": {"account": params.get("AccountSid"), "messaging_service": params.get("MessagingServiceSid")}},
        origin=origin)


def _conversations_message(params: dict[str, str], origin: Origin) -> Message:
    author = params["Author"]
    business = f"twilio-service:{params.get('ChatServiceSid') or params.get('AccountSid') or 'default'}"
    conversation = params["ConversationSid"]
    from_customer = author.startswith(("whatsapp:", "+"))
    details: dict[str, Any] = {"twilio": {"conversation": conversation, "participant": params.get("ParticipantSid"),
                                          "source": params.get("Source")}}
    employee = None
    if not from_customer and author != "system":
        employee = f"{NAME}:{author}"
        details["agent"] = {"source": NAME, "id": author}
    media = json.loads(params["Media"]) if params.get("Media") else []
    attachments = [Attachment(kind=KINDS.get(str(m.get("content_type") or m.get("ContentType") or "").split("/")[0],
                                             MessageType.document).value,
                              media_id=m.get("sid") or m.get("Sid"), filename=m.get("filename") or m.get("Filename"),
                              mime_type=m.get("content_type") or m.get("ContentType"),
                              size=m.get("size") if isinstance(m.get("size"), int) else None)
                   for m in media if isinstance(m, dict)]
    return Message(
        message_id=f"{NAME}:{params['MessageSid']}", business_phone_number_id=business, customer_wa_id=conversation,
        conversation_key=conversation_key(business, conversation), employee_id=employee,
        direction=Direction.inbound if from_customer else Direction.outbound,
        timestamp=_time(params.get("DateCreated"), origin), type=_kind(attachments),
        source_type=f"conversations/{params.get('Source') or 'unknown'}", text=params.get("Body") or None,
        attachments=attachments, details=details, origin=origin)


def _attachment(params: dict[str, str], i: int) -> Attachment:
    mime = params.get(f"MediaContentType{i}") or None
    return Attachment(kind=KINDS.get((mime or "").split("/")[0], MessageType.document).value, mime_type=mime,
                      url=params.get(f"MediaUrl{i}") or None)


def _kind(attachments: list[Attachment]) -> MessageType:
    return MessageType(attachments[0].kind) if attachments else MessageType.text


def _time(value: str | None, origin: Origin) -> datetime:
    if value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if origin.received_at is None:
        raise MissingData("no time: no DateCreated and no receive time")
    return origin.received_at


def _digits(address: str) -> str:
    return "".join(c for c in address.removeprefix("whatsapp:") if c.isdigit())


def _missing(settings: Settings) -> str | None:
    if settings.twilio_auth_token_bytes:
        return None
    return "no Twilio auth token: set CHATWATCH_TWILIO_AUTH_TOKEN or CHATWATCH_TWILIO_AUTH_TOKEN_FILE"


def _authenticate(request: Incoming, settings: Settings) -> str | None:
    return authenticate(request.headers, request.body, settings.twilio_webhook_url or request.url,
                        settings.twilio_auth_token_bytes or b"")


def _routing_key(body: bytes, settings: Settings) -> bytes | None:
    try:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return None
    if params.get("ConversationSid"):
        business = f"twilio-service:{params.get('ChatServiceSid') or params.get('AccountSid') or 'default'}"
        return conversation_key(business, params["ConversationSid"]).encode()
    if params.get("To", "").startswith("whatsapp:") and params.get("From"):
        return conversation_key(_digits(params["To"]), params.get("WaId") or _digits(params["From"])).encode()
    return None


SOURCE = Source(name=NAME, title="Twilio (Programmable Messaging and Conversations)",
                path=lambda settings: settings.twilio_webhook_path, missing=_missing, authenticate=_authenticate,
                routing_key=_routing_key, parse=lambda body, origin, settings, links: parse(body, origin))
