"""The people directory as SQL: which alerts belong to which team, and the team of a row.

An alert belongs to the team of its employee when the directory lists that employee, otherwise to
the team whose business numbers include the number it came through (as notifications route).
The directory file is re-read when it changes.
"""

from __future__ import annotations

import time
from pathlib import Path

from chatwatch.sinks.clickhouse.guard import in_list
from chatwatch.sinks.notifications.directory import Directory, load_directory


def condition(directory: Directory, teams: list[str], prefix: str = "") -> str:
    """A WHERE condition true for alerts (or messages) of any of `teams`."""
    employees = [e for e, spec in directory.employees.items() if spec.get("team") in teams]
    numbers = [str(n) for t in teams for n in directory.teams.get(t, {}).get("numbers", [])]
    parts = []
    if employees:
        parts.append(f"{prefix}employee_id IN {in_list(employees)}")
    if numbers:
        unlisted = f"{prefix}employee_id NOT IN {in_list(directory.employees)}" if directory.employees else "1"
        parts.append(f"({unlisted} AND {prefix}business_phone_number_id IN {in_list(numbers)})")
    return "(" + " OR ".join(parts) + ")" if parts else "0"


class PeopleFile:
    """The directory, reloaded when its file's modification time changes (looked at most every
    CHECK_EVERY_S: a page asks for it once per row)."""

    CHECK_EVERY_S = 2.0

    def __init__(self, path: Path | None):
        self.path = path
        self._stamp: float | None = None
        self._checked = float("-inf")
        self._directory = Directory()

    @property
    def directory(self) -> Directory:
        now = time.monotonic()
        if now - self._checked < self.CHECK_EVERY_S:
            return self._directory
        self._checked = now
        try:
            stamp = self.path.stat().st_mtime if self.path else None
        except OSError:
            stamp = None
        if stamp != self._stamp:
            self._directory = load_directory(self.path) if stamp is not None else Directory()
            self._stamp = stamp
        return self._directory

    def team_of(self, row: dict) -> str:
        return self.directory.team_of(row.get("employee_id"), row.get("business_phone_number_id")) or ""

    def employee_name(self, row: dict) -> str:
        employee = row.get("employee_id") or ""
        return self.directory.name_of(employee) or employee or row.get("business_phone_number_id", "")

    def teams(self) -> list[str]:
        return sorted(self.directory.teams)
