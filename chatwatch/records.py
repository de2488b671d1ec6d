"""The wire models every topic carries: one versioned canonical message and what derives from it.

The bottom layer: plain pydantic (no Faust, nothing else of chatwatch), so rules, detectors,
sinks, streams and tests share them. Bump
SCHEMA_VERSION on any change that an older consumer could misread, and keep readers of the
previous version working for one release.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1


class Severity(StrEnum):
    """One severity scale: rule packs are written in it, alerts and notifications carry it."""

    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)  # lowest first, as declared: an order, not a set


class SnippetMode(StrEnum):
    """How an alert carries its message's text (the `alert_snippet` setting): PII replaced by [TYPE], masked,
    HMAC-hashed, raw, or not at all. One enum for the setting, the scan agent and `redaction.redact`, which
    applies every mode but `none` (no text: nothing to redact)."""

    replace = "replace"
    mask = "mask"
    hash = "hash"
    keep = "keep"
    none = "none"


class Direction(StrEnum):
    inbound = "inbound"  # customer -> business
    outbound = "outbound"  # business (employee) -> customer


class MessageType(StrEnum):
    text = "text"
    image = "image"
    document = "document"
    audio = "audio"
    video = "video"
    sticker = "sticker"
    location = "location"
    contacts = "contacts"
    interactive = "interactive"
    button = "button"
    reaction = "reaction"
    order = "order"
    system = "system"
    unsupported = "unsupported"
    deleted = "deleted"  # the sender revoked an earlier message (target_message_id)
    edited = "edited"  # the sender edited an earlier message (target_message_id); text is the new text


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo never passes silently) and instances are immutable.
    The base of the records, rule packs and notification settings alike."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Wire(StrictModel):

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class Attachment(_Wire):
    kind: str = Field(description="image, video, audio, document or sticker")
    media_id: str | None = None
    mime_type: str | None = None
    filename: str | None = None
    size: int | None = None
    sha256: str | None = None
    url: str | None = None
    voice: bool = False
    animated: bool = False


class WhatsAppError(_Wire):
    code: int | None = None
    title: str | None = None
    message: str | None = None
    details: str | None = None


class Origin(_Wire):
    """Where a record came from, so any alert can be traced back to the raw event."""

    channel: str = Field("whatsapp_cloud_api", description="The source: a webhook source's name "
                         "(whatsapp_cloud_api, chatwoot…; streams/ingest/sources/) or chat_export")
    field: str = Field(description="Webhook change field, e.g. 'messages' or 'smb_message_echoes'.")
    waba_id: str | None = None
    raw_topic: str | None = None
    raw_partition: int | None = None
    raw_offset: int | None = None
    received_at: datetime | None = None


class Message(_Wire):
    """One WhatsApp message in the canonical, source-independent form."""

    schema_version: Literal[1] = SCHEMA_VERSION
    message_id: str = Field(description="WhatsApp message id (wamid.…)")
    business_phone_number_id: str
    business_display_number: str | None = None
    customer_wa_id: str = Field(description="The customer's phone number, or their business-scoped user id "
                                            "when WhatsApp sends no number")
    customer_name: str | None = None
    customer_user_id: str | None = Field(None, description="Business-scoped user id (BSUID), when WhatsApp sends one")
    customer_parent_user_id: str | None = None
    customer_username: str | None = Field(None, description="WhatsApp username (@…), when the customer has one")
    group_id: str | None = Field(None, description="WhatsApp group the message was posted in; the sender is the "
                                                   "participant")
    historical: bool | None = Field(None, description="True: a past message (coexistence history sync or a chat "
                                                      "export), archived and scanned but not notified in real time")
    conversation_key: str = Field(description="Stable pseudonymous key of (business number, customer or group)")
    employee_id: str | None = None
    direction: Direction
    timestamp: datetime = Field(description="When WhatsApp says the message was sent (UTC)")
    type: MessageType
    source_type: str = Field(description="The type string exactly as the source sent it")
    text: str | None = Field(None, description="Body, caption, reply title… whatever text a person sees")
    attachments: list[Attachment] = Field(default_factory=list)
    reply_to_id: str | None = None
    target_message_id: str | None = Field(None, description="Message a reaction, edit or delete refers to")
    forwarded: bool = False
    frequently_forwarded: bool = False
    details: dict[str, Any] = Field(default_factory=dict, description="Type-specific fields (location, order…)")
    errors: list[WhatsAppError] = Field(default_factory=list)
    origin: Origin


class StatusUpdate(_Wire):
    """Delivery state of a message the business sent (sent, delivered, read, played, failed)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    message_id: str
    business_phone_number_id: str
    recipient_id: str = Field(description="Phone number, or business-scoped user id when WhatsApp sends no number")
    recipient_user_id: str | None = None
    conversation_key: str
    status: str
    timestamp: datetime
    errors: list[WhatsAppError] = Field(default_factory=list)
    details: dict[str, Any] | None = Field(None, description="conversation and pricing, as WhatsApp sent them")
    origin: Origin


class CallEvent(_Wire):
    """A WhatsApp call happened (or its recording is ready): compliance keeps that a call took place."""

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["call"] = "call"
    call_id: str
    business_phone_number_id: str
    customer_wa_id: str | None = None
    conversation_key: str | None = None
    event: str = Field(description="connect, terminate, call_recording_available… as WhatsApp sent it")
    direction: Direction | None = None
    status: str | None = None
    timestamp: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    duration_s: int | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    origin: Origin


class WebhookError(_Wire):
    """An error WhatsApp reports for the business number itself (rate limit, …), with no message."""

    schema_version: Literal[1] = SCHEMA_VERSION
    kind: Literal["error"] = "error"
    business_phone_number_id: str | None = None
    error: WhatsAppError
    origin: Origin


class Evidence(_Wire):
    """What matched: a rule term with offsets into the original text (for highlighting), or a label."""

    kind: str = Field("keyword", description="keyword | regex | attachment | pii | scope")
    term: str = Field(description="The rule's term, or a label such as 'regex[0]' or 'attachment[0]:extension'")
    start: int | None = None
    end: int | None = None


class ContextLine(_Wire):
    """One earlier message of the conversation, redacted, shown with an alert."""

    direction: Direction
    timestamp: datetime
    text: str


class Alert(_Wire):
    """A rule fired on a message. Carries no raw message text: only rule terms, offsets and masked ids."""

    schema_version: Literal[1] = SCHEMA_VERSION
    alert_id: str = Field(description="Deterministic: same message + rule -> same id, so replays dedupe")
    rule_id: str
    rule_title: str
    pack_id: str
    pack_version: str
    severity: Severity
    category: str
    tags: list[str] = Field(default_factory=list)
    message_id: str
    conversation_key: str
    business_phone_number_id: str
    customer_masked: str
    employee_id: str | None = None
    direction: Direction
    message_type: MessageType
    message_timestamp: datetime
    created_at: datetime
    evidence: list[Evidence] = Field(default_factory=list)
    pii: dict[str, int] = Field(default_factory=dict, description="PII findings in the message by type (counts only)")
    snippet: str | None = Field(None, description="The message text redacted as configured (alert_snippet)")
    context: list[ContextLine] = Field(default_factory=list, description="Previous messages, redacted (oldest first)")
    historical: bool | None = Field(None, description="True: raised on a past message (history sync, chat import "
                                                      "or retro-scan); not notified in real time by default")


class ScanRecord(_Wire):
    """One per scanned message, for the archive and analytics: the message with its text as the
    deployment allows (redacted by default), PII counts by type (never values) and its alert ids."""

    schema_version: Literal[1] = SCHEMA_VERSION
    message: Message  # `text` already redacted/raw/removed as `text_mode` says
    text_mode: Literal["redacted", "raw", "none"]
    pii: dict[str, int] = Field(default_factory=dict)
    alert_ids: list[str] = Field(default_factory=list)
    rule_ids: list[str] = Field(default_factory=list, description="Message rules that fired, marker rules (alert: "
                                                                   "false) included: what conversation rules read")
    masked: list[tuple[str, int, int]] = Field(default_factory=list, description="With raw text only: the (type, start, "
                                               "end) spans the pipeline masked, so later readers redact the same")
    scanned_at: datetime


class DeadLetter(_Wire):
    """Input a stage could not process or an output Kafka refused, with the reason and the original.

    The original travels along up to the configured size (`deadletter_max_payload_bytes`); a larger
    one stays where it is, named by its source coordinates (topic, partition, offset: it is on the
    raw topic until retention) and identified by its size and SHA-256, so a dead letter can always
    be written."""

    schema_version: Literal[1] = SCHEMA_VERSION
    stage: str = Field(description="normalize | scan | conversation | record | notify (the stage that wrote it)")
    reason: str = Field(description="Reason code from a fixed list (see chatwatch.streams.deadletter.Reason)")
    error: str = Field(description="Human-readable detail; never contains message text")
    error_class: str | None = Field(None, description="Exception class behind the failure, when there is one")
    original_b64: str | None = Field(None, description="The original bytes, base64; absent when over the size cap")
    original_size: int = Field(0, description="Size of the original in bytes")
    original_sha256: str | None = Field(None, description="SHA-256 (hex) of the original bytes")
    item_index: str | None = Field(None, description="Which item of the source record, e.g. entry[0].changes[0]"
                                                     ".value.messages[7], when one item of many was bad")
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    failed_at: datetime

    @property
    def original(self) -> bytes | None:
        return None if self.original_b64 is None else base64.b64decode(self.original_b64)


def validation_summary(exc: ValidationError, limit: int = 500) -> str:
    """What was wrong with a record, by field path, without the input values (they may hold PII)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}"
                     for e in exc.errors(include_input=False))[:limit]


def number_digits(number: str) -> str:
    """A business number as WhatsApp sends it (digits only): packs write "+52 55 1234 5678", webhooks
    "525512345678", and both must name the same number."""
    return "".join(c for c in number if c.isdigit()) or number


def conversation_key(business_phone_number_id: str, customer_wa_id: str) -> str:
    """Pseudonymous but stable key: one conversation stays on one partition, without a phone number in it."""
    digest = hashlib.sha256(f"{business_phone_number_id}:{customer_wa_id}".encode()).hexdigest()
    return f"cv_{digest[:24]}"
