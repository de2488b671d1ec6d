"""Rule hits -> Alert records for the alerts topic. Pure; the scan agent produces them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from chatwatch.detectors.redaction import mask_phone
from chatwatch.detectors.scanner import RuleHit
from chatwatch.records import Alert, ContextLine, Evidence, Message

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
        evidence=[Evidence(kind=e.kind, term=e.label, start=e.start, end=e.end) for e in hit.evidence],
        pii=pii or {},
        context=context or [],
        historical=message.historical,
        snippet=None if snippet is None else snippet[:SNIPPET_CHARS] + ("…" if len(snippet) > SNIPPET_CHARS else ""),
    )
