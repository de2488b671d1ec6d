"""Rule hits -> Alert records for the alerts topic. Pure; the scan agent produces them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from chatwatch.detectors.conversation import Fired, Header
from chatwatch.detectors.redaction import mask_phone
from chatwatch.detectors.scanner import RuleHit
from chatwatch.records import Alert, ContextLine, Direction, Evidence, Message
from chatwatch.rules import Pack

ALERT_NAMESPACE = uuid.UUID("6f1c1d7e-8a43-4b7e-9a59-3c2f0e6f3b11")


def alert_id(message_id: str, rule_id: str) -> str:
    """Same message + same rule -> same id, so a replay after a crash produces no new alert."""
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{message_id}\x1f{rule_id}"))


SNIPPET_CHARS = 280


def to_alert(message: Message, hit: RuleHit, now: datetime | None = None, *, snippet: str | None = None,
             pii: dict[str, int] | None = None, context: list[ContextLine] | None = None) -> Alert:
    """`snippet` must already be redacted (see detectors.redaction); it is cut to SNIPPET_CHARS."""
    rule, pack = hit.rule, hit.pack.pack
    return Alert(
        alert_id=alert_id(message.message_id, rule.id),
        rule_id=rule.id,
        rule_title=rule.title,
        pack_id=pack.id,
        pack_version=pack.version,
        severity=rule.severity.value,
        category=rule.category,
        tags=list(rule.tags),
        message_id=message.message_id,
        conversation_key=message.conversation_key,
        business_phone_number_id=message.business_phone_number_id,
        customer_masked=mask_phone(message.customer_wa_id),
        employee_id=message.employee_id,
        direction=message.direction,
        message_type=message.type,
        message_timestamp=message.timestamp,
        created_at=now or datetime.now(UTC),
        evidence=list(hit.evidence),
        pii=pii or {},
        context=context or [],
        historical=message.historical,
        snippet=None if snippet is None else snippet[:SNIPPET_CHARS] + ("…" if len(snippet) > SNIPPET_CHARS else ""),
    )


def conversation_alert(fired: Fired, key: str, pack: Pack, header: Header, now: datetime | None = None) -> Alert:
    """A conversation rule fired: the alert points at the last message that made it (or the one whose
    answer never came), lists every such message as evidence and shows their redacted lines as context.
    `header` is what the conversation's state remembers of it (business number, masked customer,
    employee, last message type, historical)."""
    rule, last = fired.rule, fired.evidence[-1]

    def direction(sender: str) -> Direction:
        return Direction.inbound if sender == "customer" else Direction.outbound

    return Alert(
        alert_id=fired.alert_id,
        rule_id=rule.id,
        rule_title=rule.title,
        pack_id=pack.pack.id,
        pack_version=pack.pack.version,
        severity=rule.severity.value,
        category=rule.category,
        tags=[*rule.tags, "conversation", rule.kind],
        message_id=last.message_id,
        conversation_key=key,
        business_phone_number_id=header.business or "",
        customer_masked=header.customer or "",
        employee_id=header.employee,
        direction=direction(last.sender),
        message_type=header.message_type or "text",
        message_timestamp=fired.at,
        created_at=now or datetime.now(UTC),
        evidence=[*(Evidence(kind="message", term=e.message_id) for e in fired.evidence),
                  Evidence(kind="conversation", term=fired.why)],
        context=[ContextLine(direction=direction(e.sender), timestamp=e.at, text=e.snippet)
                 for e in fired.evidence if e.snippet],
        historical=True if header.historical else None,
    )
