"""The people directory as SQL: which alerts belong to which team, and the team of a row.

An alert belongs to the team of its employee when the directory lists that employee, otherwise to
the team whose business numbers include the number it came through (as notifications route).
The directory file is re-read when it changes.
"""

from __future__ import annotations

from chatwatch.people import Directory, PeopleFile
from chatwatch.sinks.clickhouse.guard import in_list


def condition(directory: Directory, teams: list[str], prefix: str = "") -> str:
    """A WHERE condition true for alerts (or messages) of any of `teams`."""
    employees = [i for e, spec in directory.employees.items() if spec.get("team") in teams
                 for i in (e, *directory.source_ids(e))]  # rows written before the directory knew an id too
    numbers = [str(n) for t in teams for n in directory.teams.get(t, {}).get("numbers", [])]
    parts = []
    if employees:
        parts.append(f"{prefix}employee_id IN {in_list(employees)}")
    if numbers:
        listed = [i for e in directory.employees for i in (e, *directory.source_ids(e))]
        unlisted = f"{prefix}employee_id NOT IN {in_list(listed)}" if listed else "1"
        parts.append(f"({unlisted} AND {prefix}business_phone_number_id IN {in_list(numbers)})")
    return "(" + " OR ".join(parts) + ")" if parts else "0"


class PeopleRows(PeopleFile):
    """The directory (reloaded when its file changes) as the console's rows need it: a row's team and
    the person named on it."""

    def team_of(self, row: dict) -> str:
        return self.directory.team_of(row.get("employee_id"), row.get("business_phone_number_id")) or ""

    def employee_name(self, row: dict) -> str:
        employee = row.get("employee_id") or ""
        return self.directory.name_of(employee) or employee or row.get("business_phone_number_id", "")

    def teams(self) -> list[str]:
        return sorted(self.directory.teams)
