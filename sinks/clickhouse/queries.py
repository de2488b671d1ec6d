"""Reporting queries shared by `chatwatch report` and the Grafana dashboard (same SQL).

"employee" is the employee id when known, else the business number the message went through
(small teams often have one WhatsApp number per agent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.rows import utc

EMPLOYEE = "if(employee_id = '', business_phone_number_id, employee_id)"


def _where(since: datetime, until: datetime, team: str | None, column: str) -> str:
    cond = f"{column} >= toDateTime64('{utc(since)}', 3, 'UTC') AND {column} < toDateTime64('{utc(until)}', 3, 'UTC')"
    if team:
        cond += f" AND team = '{quote(team)}'"
    return cond


def quote(value: str) -> str:
    """Escape a value for a single-quoted ClickHouse string literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def alerts_by(client: Client, dimension: str, since: datetime, until: datetime, team: str | None = None) -> list[dict]:
    column = {"rule": "rule_id", "severity": "severity", "employee": EMPLOYEE,
              "day": "toString(toDate(message_timestamp))", "category": "category"}[dimension]
    return client.query(f"""
        SELECT {column} AS {dimension}, count() AS alerts
        FROM {client.database}.alerts FINAL
        WHERE {_where(since, until, team, 'message_timestamp')}
        GROUP BY {dimension} ORDER BY alerts DESC, {dimension}""")


def response_times(client: Client, since: datetime, until: datetime) -> list[dict]:
    """First response per conversation and day: first inbound -> first outbound after it, by employee."""
    return client.query(f"""
        SELECT employee, count() AS conversations,
               round(quantileExactInclusive(0.5)(seconds)) AS p50_seconds, round(quantileExactInclusive(0.9)(seconds)) AS p90_seconds,
               round(avg(seconds)) AS avg_seconds
        FROM (
            SELECT arrayJoin(if(empty(emps), [business_phone_number_id], emps)) AS employee,
                   (toUnixTimestamp64Milli(arrayMin(replies)) - toUnixTimestamp64Milli(fi)) / 1000 AS seconds
            FROM (
                SELECT business_phone_number_id, conversation_key, day, minIfMerge(first_inbound) AS fi,
                       arrayFilter(x -> x >= fi, groupUniqArrayIfMerge(outbound_times)) AS replies,
                       groupUniqArrayIfMerge(employees) AS emps
                FROM {client.database}.conversation_daily
                WHERE day >= toDate('{utc(since)[:10]}') AND day <= toDate('{utc(until)[:10]}')
                GROUP BY business_phone_number_id, conversation_key, day)
            WHERE toUnixTimestamp64Milli(fi) > 0 AND notEmpty(replies))
        GROUP BY employee ORDER BY employee""")


def unanswered(client: Client, since: datetime, until: datetime, minutes: int, now: datetime) -> list[dict]:
    """Conversations whose last customer message got no reply within `minutes` (as of `now`)."""
    return client.query(f"""
        SELECT business_phone_number_id AS business_number, count() AS unanswered_conversations
        FROM (
            SELECT business_phone_number_id, conversation_key,
                   maxIfMerge(last_inbound) AS li, maxIfMerge(last_outbound) AS lo
            FROM {client.database}.conversation_daily
            WHERE day >= toDate('{utc(since)[:10]}') AND day <= toDate('{utc(until)[:10]}')
            GROUP BY business_phone_number_id, conversation_key)
        WHERE toUnixTimestamp64Milli(li) > 0 AND li > lo
          AND li < toDateTime64('{utc(now)}', 3, 'UTC') - INTERVAL {int(minutes)} MINUTE
        GROUP BY business_number ORDER BY business_number""")


def after_hours(client: Client, since: datetime, until: datetime, team: str | None = None) -> list[dict]:
    return client.query(f"""
        SELECT {EMPLOYEE} AS employee, count() AS after_hours_messages
        FROM {client.database}.alerts FINAL
        WHERE category = 'working_time' AND {_where(since, until, team, 'message_timestamp')}
        GROUP BY employee ORDER BY after_hours_messages DESC, employee""")


def pii_seen(client: Client, since: datetime, until: datetime, team: str | None = None) -> list[dict]:
    return client.query(f"""
        SELECT pii_type, sum(count) AS findings, uniqExact(message_id) AS messages
        FROM {client.database}.pii_findings FINAL
        WHERE {_where(since, until, team, 'timestamp')}
        GROUP BY pii_type ORDER BY findings DESC, pii_type""")


def volume(client: Client, since: datetime, until: datetime) -> list[dict]:
    return client.query(f"""
        SELECT direction, uniqExactMerge(messages) AS messages
        FROM {client.database}.volume_hourly
        WHERE hour >= toDateTime('{utc(since)[:19]}', 'UTC') AND hour < toDateTime('{utc(until)[:19]}', 'UTC')
        GROUP BY direction ORDER BY direction""")


def report(client: Client, since: datetime, until: datetime, now: datetime, team: str | None = None,
           unanswered_minutes: int = 30) -> dict[str, Any]:
    return {
        "alerts_by_rule": alerts_by(client, "rule", since, until, team),
        "alerts_by_severity": alerts_by(client, "severity", since, until, team),
        "alerts_by_employee": alerts_by(client, "employee", since, until, team),
        "alerts_by_day": alerts_by(client, "day", since, until, team),
        "response_times": response_times(client, since, until),
        "unanswered": unanswered(client, since, until, unanswered_minutes, now),
        "after_hours": after_hours(client, since, until, team),
        "pii_types": pii_seen(client, since, until, team),
        "volume": volume(client, since, until),
    }
