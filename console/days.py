"""Date filters as the queue and the audit page take them: whole UTC days, from and to inclusive."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta


def checked(value: str) -> str:
    """A YYYY-MM-DD date, or "" when it is not one (the filter is then dropped, not an error page)."""
    try:
        return date.fromisoformat(value).isoformat() if value else ""
    except ValueError:
        return ""


def between(column: str, since: str, until: str) -> list[str]:
    """WHERE parts for `column` from the start of `since` to the end of `until` (each optional)."""
    out = []
    if since:
        out.append(f"{column} >= toDateTime64('{since} 00:00:00', 3, 'UTC')")
    if until:
        end = datetime.combine(date.fromisoformat(until) + timedelta(days=1), time())
        out.append(f"{column} < toDateTime64('{end:%Y-%m-%d %H:%M:%S}', 3, 'UTC')")
    return out
