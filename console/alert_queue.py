"""The alert queue: filters, sorting and paging over alerts with their case state.

Everything is one SQL query over `alerts` (FINAL) joined with the latest case event per alert;
the joins are GLOBAL so the same SQL works on a cluster's Distributed tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from chatwatch.console import cases, days
from chatwatch.records import SEVERITIES
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.guard import in_list
from chatwatch.sinks.clickhouse.queries import quote

SORTS = {
    "newest": "message_timestamp DESC", "oldest": "message_timestamp ASC",
    "severity": "severity_rank DESC, message_timestamp DESC", "due": "due_at ASC, severity_rank DESC",
    "rule": "rule_id ASC, message_timestamp DESC",
}
PAGE_SIZES = (25, 50, 100)


@dataclass
class Filters:
    status: str = ""  # one of cases.STATUSES, "active" (not closed) or "" (all)
    severity: str = ""
    rule: str = ""
    pack: str = ""
    team: str = ""
    employee: str = ""
    number: str = ""
    assignee: str = ""
    since: str = ""  # YYYY-MM-DD, message date
    until: str = ""
    q: str = ""  # free text over the redacted snippets and rule titles
    sort: str = "newest"
    page: int = 1
    per_page: int = 50
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        f = cls(**{k.name: str(args.get(k.name, "")).strip()[:200] for k in fields(cls)
                   if k.name not in ("page", "per_page", "errors") and args.get(k.name)})
        try:
            f.page = max(1, int(args.get("page", 1)))
            f.per_page = int(args.get("per_page", 50))
        except ValueError:
            f.errors.append("page")
        if f.per_page not in PAGE_SIZES:
            f.per_page = 50
        if f.sort not in SORTS:
            f.sort = "newest"
        if f.status and f.status not in (*cases.STATUSES, "active"):
            f.errors.append("status")
            f.status = ""
        if f.severity and f.severity not in SEVERITIES:
            f.errors.append("severity")
            f.severity = ""
        for name in ("since", "until"):
            value = getattr(f, name)
            setattr(f, name, days.checked(value))
            if value and not getattr(f, name):
                f.errors.append(name)
        return f

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """The filters as URL arguments (for links to other pages and sorts)."""
        out = {k.name: getattr(self, k.name) for k in fields(self) if k.name != "errors"}
        out.update(changes)
        return {k: v for k, v in out.items() if v not in ("", None)}


def base_sql(database: str) -> str:
    return f"""
        SELECT a.alert_id AS alert_id, a.rule_id AS rule_id, a.rule_title AS rule_title, a.pack_id AS pack_id,
               a.pack_version AS pack_version, a.severity AS severity, a.category AS category, a.tags AS tags,
               a.message_id AS message_id, a.conversation_key AS conversation_key,
               a.business_phone_number_id AS business_phone_number_id, a.customer_masked AS customer_masked,
               a.employee_id AS employee_id, a.direction AS direction, a.message_type AS message_type,
               a.message_timestamp AS message_timestamp, a.created_at AS created_at, a.snippet AS snippet,
               a.pii_types AS pii_types, a.historical AS historical, a.evidence AS evidence, a.held AS held,
               if(c.status = '', 'open', c.status) AS status, c.assignee AS assignee, c.reason AS reason,
               indexOf([{", ".join(f"'{s}'" for s in SEVERITIES)}], a.severity) AS severity_rank,
               {cases.due_sql('a.')} AS due_at
        FROM {database}.alerts AS a FINAL
        GLOBAL LEFT JOIN ({cases.state_sql(database)}) AS c ON a.alert_id = c.alert_id"""


def conditions(f: Filters, scope: str, with_status: bool = True) -> list[str]:
    """WHERE parts for the filters; `scope` limits to what the user may see ("1": everything)."""
    out = [scope]
    if with_status and f.status:
        out.append("status NOT IN ('resolved', 'dismissed')" if f.status == "active" else f"status = '{quote(f.status)}'")
    for name, column in (("severity", "severity"), ("rule", "rule_id"), ("pack", "pack_id"),
                         ("number", "business_phone_number_id"), ("assignee", "assignee")):
        if getattr(f, name):
            out.append(f"{column} = '{quote(getattr(f, name))}'")
    if f.employee:
        out.append(f"(employee_id = '{quote(f.employee)}' OR (employee_id = '' AND business_phone_number_id = "
                   f"'{quote(f.employee)}'))")
    out += days.between("message_timestamp", f.since, f.until)
    if f.q:
        text = quote(f.q)
        out.append(f"(positionCaseInsensitiveUTF8(snippet, '{text}') > 0 OR "
                   f"positionCaseInsensitiveUTF8(rule_title, '{text}') > 0 OR alert_id = '{text}')")
    return out


@dataclass
class Page:
    rows: list[dict]
    total: int
    counts: dict[str, int]
    pages: int


def search(client: Client, f: Filters, scope: str) -> Page:
    base = base_sql(client.database)
    where = " AND ".join(conditions(f, scope))
    total = int(client.query(f"SELECT count() AS n FROM ({base}) WHERE {where}")[0]["n"])
    rows = client.query(f"SELECT * FROM ({base}) WHERE {where} ORDER BY {SORTS[f.sort]}, alert_id "
                        f"LIMIT {f.per_page} OFFSET {(f.page - 1) * f.per_page}")
    by_status = client.query(f"SELECT status, count() AS n FROM ({base}) "
                             f"WHERE {' AND '.join(conditions(f, scope, with_status=False))} GROUP BY status")
    counts = {s: 0 for s in cases.STATUSES} | {r["status"]: int(r["n"]) for r in by_status}
    return Page(rows, total, counts, max(1, -(-total // f.per_page)))


def one(client: Client, alert_id: str, scope: str) -> dict | None:
    """One alert with its case state, if `scope` lets the user see it."""
    found = many(client, [alert_id], scope)
    return found[0] if found else None


def many(client: Client, alert_ids: list[str], scope: str) -> list[dict]:
    """The alerts among `alert_ids` that `scope` lets the user see, with their case state (one query)."""
    if not alert_ids:
        return []
    return client.query(f"SELECT * FROM ({base_sql(client.database)}) "
                        f"WHERE alert_id IN {in_list(alert_ids)} AND {scope}")


def facets(client: Client, scope: str) -> dict[str, list[str]]:
    """Values to choose from in the filter form."""
    rows = client.query(f"SELECT groupUniqArray(rule_id) AS rules, groupUniqArray(pack_id) AS packs, "
                        f"groupUniqArray(business_phone_number_id) AS numbers, groupUniqArray(assignee) AS assignees "
                        f"FROM ({base_sql(client.database)}) WHERE {scope}")
    row = rows[0] if rows else {}
    return {k: sorted(v for v in row.get(k, []) if v) for k in ("rules", "packs", "numbers", "assignees")}
