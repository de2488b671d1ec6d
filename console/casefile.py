"""One case as the case page and the bundle show it: the alert, its rule, the conversation around
the flagged message from the archive, attachment metadata and the earlier alerts of the same
conversation or employee.

Text is shown as archived. When the deployment archives raw text (ARCHIVE_TEXT=raw), it is
redacted here before it is shown, with the same PII detector and redaction as the pipeline; the
raw text leaves only through `reveal` (a typed reason, audited). Times are selected as text so
chdb and a server give the same values.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatwatch.console.alert_queue import base_sql
from chatwatch.detectors.pii import PiiDetector
from chatwatch.detectors.redaction import redact, stored_spans
from chatwatch.rules import RuleSet
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.queries import quote

MESSAGE_COLUMNS = ("message_id, direction, type, toString(timestamp) AS timestamp, text, text_mode, employee_id, "
                   "attachment_mime, attachment_ext, attachment_size, attachment_sha256, pii_types, alert_ids, "
                   "reply_to_id, target_message_id, masked")


@dataclass(frozen=True)
class RuleInfo:
    title: str
    description: str
    pack_title: str
    kind: str  # "message" or the conversation rule's kind


def rule_info(ruleset: RuleSet | None, rule_id: str) -> RuleInfo | None:
    """The rule as the running packs define it (None when it was removed since the alert)."""
    if ruleset is None:
        return None
    for pack, rule in ruleset.rules():
        if rule.id == rule_id:
            return RuleInfo(rule.title, rule.description, pack.pack.title, "message")
    for pack, rule in ruleset.conversation_rules():
        if rule.id == rule_id:
            return RuleInfo(rule.title, rule.description, pack.pack.title, rule.kind)
    return None


def evidence_labels(alert: dict) -> list[dict[str, Any]]:
    """What matched, as the alert recorded it (kind, term or label, offsets)."""
    try:
        return json.loads(alert.get("evidence") or "[]")
    except ValueError:
        return []


def evidence_terms(alert: dict) -> list[str]:
    """The keywords the rule matched (for marking them in the text)."""
    return [e["term"] for e in evidence_labels(alert) if e.get("kind") == "keyword" and e.get("term")]


def conversation(client: Client, alert: dict, around: int) -> list[dict]:
    """Up to `around` messages before and after the flagged one, oldest first."""
    db, key, n = client.database, quote(alert["conversation_key"]), int(around)

    def page(where: str, order: str, limit: int) -> list[dict]:
        # the outer ORDER BY sorts the text times the columns give: ISO text sorts as time does
        return client.query(f"SELECT {MESSAGE_COLUMNS} FROM (SELECT * FROM {db}.messages FINAL "
                            f"WHERE conversation_key = '{key}' AND {where} ORDER BY {order} LIMIT {limit}) "
                            "ORDER BY timestamp, message_id")

    flagged = client.query(f"SELECT toString(timestamp) AS at FROM {db}.messages FINAL WHERE conversation_key = "
                           f"'{key}' AND message_id = '{quote(alert['message_id'])}' LIMIT 1")
    if not flagged:  # not archived (yet, or erased): the newest messages of the conversation
        return page("1", "timestamp DESC, message_id DESC", n)
    at = f"(timestamp, message_id) {{}} (toDateTime64('{flagged[0]['at']}', 3, 'UTC'), '{quote(alert['message_id'])}')"
    return page(at.format("<"), "timestamp DESC, message_id DESC", n) + \
        page(at.format(">="), "timestamp, message_id", n + 1)


def shown_lines(client: Client, alert: dict, around: int, redactor: Redactor, reveal: bool = False) -> list[dict]:
    """The conversation as the case page and the bundle show it: text redacted unless revealed,
    attachments unpacked, the flagged message marked."""
    return [{**m, "shown": redactor.shown(m, reveal), "attachments": attachments(m),
             "flagged": m["message_id"] == alert["message_id"]} for m in conversation(client, alert, around)]


def attachments(message: dict) -> list[dict[str, Any]]:
    return [{"mime": m, "extension": e, "size": int(s), "sha256": h} for m, e, s, h in
            zip(message["attachment_mime"], message["attachment_ext"], message["attachment_size"],
                message["attachment_sha256"], strict=False)]


def earlier_alerts(client: Client, alert: dict, scope: str, limit: int = 20) -> list[dict]:
    """Other alerts of the same conversation or the same employee, newest first."""
    same = f"conversation_key = '{quote(alert['conversation_key'])}'"
    if alert.get("employee_id"):
        same = f"({same} OR employee_id = '{quote(alert['employee_id'])}')"
    return client.query(f"SELECT alert_id, rule_id, rule_title, severity, status, toString(message_timestamp) AS "
                        f"message_timestamp, conversation_key = '{quote(alert['conversation_key'])}' AS same_conversation "
                        f"FROM ({base_sql(client.database)}) WHERE {same} AND alert_id != '{quote(alert['alert_id'])}' "
                        f"AND {scope} ORDER BY message_timestamp DESC LIMIT {int(limit)}")


class Redactor:
    """Redacts raw archived text for display, as the pipeline redacts snippets (PII -> [TYPE]).

    The detector (spaCy models with NER) is built at the first case shown, not at start: a worker
    serving the console does not load a second copy of the models before its agents run."""

    def __init__(self, make_detector: Callable[[], PiiDetector] | None):
        self._make = make_detector
        self._detector: PiiDetector | None = None
        self._lock = threading.Lock()

    def shown(self, message: dict, reveal: bool = False) -> str:
        text = message.get("text") or ""
        if message.get("text_mode") != "raw" or reveal or not text:
            return text
        if self._make is None:
            return ""  # raw text and no detector to redact it with: show nothing rather than PII
        with self._lock:
            if self._detector is None:
                self._detector = self._make()
        return redact(text, [*self._detector.detect(text), *stored_spans(text, message.get("masked"))])
