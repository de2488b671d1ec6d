"""The case workflow. A case is an alert under review; its state is its latest event.

    open --assign--> assigned --escalate--> escalated
      |                 |                      |
      +-----------------+--- resolve (violation) / dismiss (false positive, reason required)
    resolved / dismissed --reopen--> open

Comments may be added in any state and keep it. Every event is a row in `case_events`
(append-only: nothing is updated or deleted), and also an audit event. Due dates follow
severity (DUE_HOURS) from when the alert was raised.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from chatwatch.console import clock
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.privacy import audit
from chatwatch.sinks.clickhouse.queries import quote
from chatwatch.sinks.clickhouse.rows import utc

STATUSES = ("open", "assigned", "escalated", "resolved", "dismissed")
CLOSED = ("resolved", "dismissed")
DUE_HOURS = {"critical": 24, "high": 72, "medium": 7 * 24, "low": 14 * 24, "info": 30 * 24}
DISMISS_REASONS = ("benign_context", "wrong_match", "test_or_training", "duplicate", "customer_consented", "other")

# action -> (states it may be taken from, resulting status; None keeps the status)
ACTIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "assign": (("open", "assigned", "escalated"), "assigned"),
    "acknowledge": (("open", "assigned", "escalated"), "assigned"),  # from a notification: assigned to the manager
    "escalate": (("open", "assigned"), "escalated"),
    "resolve": (("open", "assigned", "escalated"), "resolved"),
    "dismiss": (("open", "assigned", "escalated"), "dismissed"),
    "reopen": (CLOSED, "open"),
    "comment": (STATUSES, None),
}


class CaseError(ValueError):
    """The action is not possible (wrong state, missing reason…); the message says why."""


@dataclass(frozen=True)
class CaseState:
    status: str = "open"
    assignee: str = ""
    reason: str = ""

    @classmethod
    def of(cls, row: dict) -> CaseState:
        """The state a queue row (alert_queue) already carries: no second query."""
        return cls(row["status"], row["assignee"], row["reason"])


def state_sql(database: str) -> str:
    """alert_id -> its latest status, assignee and reason (cases with no event are open)."""
    latest = "(at, event_id)"
    return (f"SELECT alert_id, argMax(status, {latest}) AS status, argMax(assignee, {latest}) AS assignee, "
            f"argMax(reason, {latest}) AS reason FROM {database}.case_events GROUP BY alert_id")


def due_sql(prefix: str = "") -> str:
    cases = ", ".join(f"{prefix}severity = '{s}', {h}" for s, h in DUE_HOURS.items() if s != "info")
    return f"{prefix}created_at + toIntervalHour(multiIf({cases}, {DUE_HOURS['info']}))"


def due_at(severity: str, created_at: datetime) -> datetime:
    return created_at + timedelta(hours=DUE_HOURS.get(severity, DUE_HOURS["info"]))


def state(client: Client, alert_id: str) -> CaseState:
    rows = client.query(f"SELECT * FROM ({state_sql(client.database)}) WHERE alert_id = '{quote(alert_id)}'")
    return CaseState(rows[0]["status"], rows[0]["assignee"], rows[0]["reason"]) if rows else CaseState()


def events(client: Client, alert_id: str) -> list[dict]:
    return client.query(f"SELECT at, actor, action, status, assignee, reason, note, source "
                        f"FROM {client.database}.case_events WHERE alert_id = '{quote(alert_id)}' "
                        "ORDER BY at, event_id")


def act(client: Client, alert: dict, action: str, actor: str, *, assignee: str = "", reason: str = "",
        note: str = "", source: str = "", current: CaseState | None = None) -> CaseState:
    """Take one workflow action on the case of `alert` (a row of the alerts table); returns the new state."""
    if action not in ACTIONS:
        raise CaseError(f"unknown action {action!r}")
    current = current or state(client, alert["alert_id"])
    allowed_from, to = ACTIONS[action]
    if current.status not in allowed_from:
        raise CaseError(f"a {current.status} case cannot be {action}ed" if action != "reopen"
                        else "only resolved or dismissed cases can be reopened")
    note = note.strip()
    if action == "dismiss":
        if reason not in DISMISS_REASONS:
            raise CaseError("dismissing needs a reason")
        if reason == "other" and not note:
            raise CaseError("reason 'other' needs a note")
    elif action == "comment" and not note:
        raise CaseError("a comment needs text")
    elif action == "reopen" and not note:
        raise CaseError("reopening needs a note saying why")
    if action == "assign" and not assignee:
        raise CaseError("assign to whom?")
    if action == "acknowledge":
        assignee = actor
    new = CaseState(to or current.status, assignee or (current.assignee if action != "reopen" else ""),
                    reason if action == "dismiss" else (current.reason if to is None else ""))
    now = clock.now()
    client.insert_json("case_events", [{
        "event_id": uuid.uuid4().hex, "alert_id": alert["alert_id"], "conversation_key": alert["conversation_key"],
        "at": utc(now), "actor": actor, "action": action, "status": new.status, "assignee": new.assignee,
        "reason": reason if action == "dismiss" else "", "note": note[:4000], "source": source}])
    audit(client, actor, f"case_{action}", f"alert:{alert['alert_id']}",
          {"status": new.status, "assignee": new.assignee, "reason": reason, "rule_id": alert.get("rule_id", "")},
          source or "console")
    return new
