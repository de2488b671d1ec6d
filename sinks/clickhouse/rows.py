"""Kafka records -> ClickHouse rows (pure). Column names match ddl.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chatwatch.detectors.attachments import extension
from chatwatch.records import Alert, ScanRecord

Rows = dict[str, list[dict[str, Any]]]


def utc(value: datetime) -> str:
    """DateTime64(3, 'UTC') literal for JSONEachRow."""
    return value.astimezone(UTC).isoformat(" ", "milliseconds")[:23]


def scan_rows(record: ScanRecord, now: datetime, held: bool = False) -> Rows:
    m = record.message
    common = {"conversation_key": m.conversation_key, "business_phone_number_id": m.business_phone_number_id,
              "employee_id": m.employee_id or "", "held": int(held)}
    message = {
        **common, "message_id": m.message_id, "business_display_number": m.business_display_number or "",
        "customer_wa_id": m.customer_wa_id, "team": "", "direction": m.direction.value, "type": m.type.value,
        "source_type": m.source_type, "timestamp": utc(m.timestamp), "text": m.text or "", "text_mode": record.text_mode,
        "attachment_mime": [a.mime_type or "" for a in m.attachments],
        "attachment_ext": [extension(a.filename) for a in m.attachments],
        "attachment_size": [a.size or 0 for a in m.attachments],
        "attachment_sha256": [a.sha256 or "" for a in m.attachments],
        "reply_to_id": m.reply_to_id or "", "target_message_id": m.target_message_id or "",
        "pii_types": sorted(record.pii), "alert_ids": record.alert_ids,
        "raw_topic": m.origin.raw_topic or "", "raw_partition": m.origin.raw_partition or 0,
        "raw_offset": m.origin.raw_offset or 0, "ingested_at": utc(now),
        "customer_user_id": m.customer_user_id or "", "group_id": m.group_id or "", "historical": int(bool(m.historical)),
        "source": m.origin.channel, "masked": json.dumps(record.masked) if record.masked else "",
    }
    findings = [{**common, "message_id": m.message_id, "team": "", "direction": m.direction.value,
                 "timestamp": utc(m.timestamp), "pii_type": t, "count": n} for t, n in sorted(record.pii.items())]
    return {"messages": [message], "pii_findings": findings}


def alert_rows(alert: Alert, held: bool = False) -> Rows:
    return {"alerts": [{
        "alert_id": alert.alert_id, "rule_id": alert.rule_id, "rule_title": alert.rule_title, "pack_id": alert.pack_id,
        "pack_version": alert.pack_version, "severity": alert.severity.value, "category": alert.category,
        "tags": alert.tags, "message_id": alert.message_id, "conversation_key": alert.conversation_key,
        "business_phone_number_id": alert.business_phone_number_id, "customer_masked": alert.customer_masked,
        "employee_id": alert.employee_id or "", "team": "", "direction": alert.direction.value,
        "message_type": alert.message_type.value, "message_timestamp": utc(alert.message_timestamp),
        "created_at": utc(alert.created_at), "snippet": alert.snippet or "", "pii_types": sorted(alert.pii),
        "held": int(held), "historical": int(bool(alert.historical)),
        "evidence": json.dumps([e.model_dump(exclude_none=True) for e in alert.evidence], ensure_ascii=False)}]}

