"""Rule quality for pack authors: per rule, alerts, violations, dismissals and the dismissal rate
over 7, 30 and 90 days, with the most frequent dismissal reasons. A rule most of whose decided
alerts are dismissed as false positives needs its terms, exceptions or scope tuned.

Windows count alerts by when they were raised; a decision counts in the window of its alert.
Dismissal rate = dismissed / (resolved as violation + dismissed): undecided alerts do not count.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from chatwatch.console import cases
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.rows import utc

WINDOWS = (7, 30, 90)
TOP_REASONS = 3


def rule_quality(client: Client, now: datetime, scope: str = "1") -> list[dict]:
    db = client.database
    since = {d: f"toDateTime64('{utc(now)}', 3, 'UTC') - INTERVAL {d} DAY" for d in WINDOWS}
    columns = ", ".join(
        f"countIf(a.created_at >= {since[d]}) AS alerts_{d}d, "
        f"countIf(a.created_at >= {since[d]} AND c.status = 'resolved') AS violations_{d}d, "
        f"countIf(a.created_at >= {since[d]} AND c.status = 'dismissed') AS dismissals_{d}d" for d in WINDOWS)
    rows = client.query(f"""
        SELECT a.rule_id AS rule_id, any(a.rule_title) AS rule_title, any(a.pack_id) AS pack_id, {columns},
               groupArrayIf(c.reason, c.status = 'dismissed' AND c.reason != '') AS reasons
        FROM {db}.alerts AS a FINAL
        GLOBAL LEFT JOIN ({cases.state_sql(db)}) AS c ON a.alert_id = c.alert_id
        WHERE a.created_at >= {since[max(WINDOWS)]} AND {scope}
        GROUP BY rule_id ORDER BY alerts_{max(WINDOWS)}d DESC, rule_id""")
    out = []
    for r in rows:
        item = {"rule_id": r["rule_id"], "rule_title": r["rule_title"], "pack_id": r["pack_id"]}
        for d in WINDOWS:
            alerts, violations, dismissals = (int(r[f"{k}_{d}d"]) for k in ("alerts", "violations", "dismissals"))
            decided = violations + dismissals
            item |= {f"alerts_{d}d": alerts, f"violations_{d}d": violations, f"dismissals_{d}d": dismissals,
                     f"dismissal_rate_{d}d": round(dismissals / decided, 3) if decided else None}
        item["top_reasons"] = Counter(r["reasons"]).most_common(TOP_REASONS)
        out.append(item)
    return out
