"""The people directory: who an employee is (name, team, their ids in each source), which team a
business number belongs to, and who manages each team. Read by scan (an alert names the employee and
their team, and team-scoped rules fire), by notify (to route to the team's managers) and by the
console (team scopes, names on every row).

    teams:
      sales-mx: {numbers: ["106540352242922"], managers: [ana-email, ana-slack]}   # receiver names
    employees:
      emp-17: {name: Carlos Ruiz, team: sales-mx, ids: ["chatwoot:7", "twilio:agent.carlos"]}

`ids` are what the sources call the person (`chatwoot:<user id>`, `twilio:<identity>`, see
docs/sources.md): a message from one of them is the employee's. The employee list may also be a CSV
(employee_id,name,team[,ids separated by spaces]) with its teams in `<name>.teams.yaml`.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from chatwatch.records import StrictModel, validation_summary


class Team(StrictModel):
    numbers: list[str | int] = Field(default_factory=list, description="Business phone number ids or numbers.")
    managers: list[str] = Field(default_factory=list, description="Notification receivers (their names).")


class Person(StrictModel):
    name: str | None = None
    team: str | None = None
    ids: list[str] = Field(default_factory=list, description="What the sources call this person: chatwoot:7…")


class PeopleFileError(ValueError):
    """The directory file cannot be used; the message names the file and the fields, never values."""


@dataclass(frozen=True)
class Directory:
    teams: dict[str, dict] = field(default_factory=dict)
    employees: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        aliases = {str(alias): employee for employee, spec in self.employees.items()
                   for alias in (spec or {}).get("ids", []) or []}
        object.__setattr__(self, "_aliases", aliases)

    def resolve(self, employee_id: str | None) -> str | None:
        """The directory's id for what a source calls a person; None when the directory does not know them."""
        if not employee_id:
            return None
        if employee_id in self.employees:
            return employee_id
        return self._aliases.get(employee_id)  # type: ignore[attr-defined]

    def source_ids(self, employee_id: str) -> list[str]:
        return [str(i) for i in (self.employees.get(employee_id) or {}).get("ids", []) or []]

    def team_of(self, employee_id: str | None, business_number: str | None) -> str | None:
        known = self.resolve(employee_id)
        if known is not None:
            return self.employees[known].get("team")
        for team, spec in self.teams.items():
            if business_number and business_number in [str(n) for n in spec.get("numbers", [])]:
                return team
        return None

    def managers(self, team: str | None) -> list[str]:
        return list(self.teams.get(team or "", {}).get("managers", []))

    def name_of(self, employee_id: str | None) -> str | None:
        known = self.resolve(employee_id)
        return self.employees[known].get("name") if known is not None else None


def load_directory(path: Path | None) -> Directory:
    """The directory in `path` (YAML, or CSV with a `.teams.yaml` beside it); empty when there is none.
    PeopleFileError when the file is not a directory (unknown keys, wrong types)."""
    if path is None or not path.exists():
        return Directory()
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            employees = {row["employee_id"]: {"name": row.get("name", ""), "team": row.get("team", ""),
                                              "ids": (row.get("ids") or "").split()}
                         for row in csv.DictReader(f)}
        teams_file = path.with_suffix(".teams.yaml")
        teams = (yaml.safe_load(teams_file.read_text()) or {}).get("teams", {}) if teams_file.exists() else {}
        return _checked(path, teams or {}, employees)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise PeopleFileError(f"{path}: a directory is a mapping with teams and employees")
    return _checked(path, data.get("teams", {}) or {}, {str(k): v for k, v in (data.get("employees", {}) or {}).items()})


def _checked(path: Path, teams: dict, employees: dict) -> Directory:
    try:
        for spec in teams.values():
            Team.model_validate(spec or {})
        for spec in employees.values():
            Person.model_validate(spec or {})
    except ValidationError as exc:
        raise PeopleFileError(f"{path}: {validation_summary(exc, 300)}") from None
    return Directory({str(k): v or {} for k, v in teams.items()}, {k: v or {} for k, v in employees.items()})


class PeopleFile:
    """The directory, reloaded when its file's modification time changes (looked at most every
    CHECK_EVERY_S: a page or a batch asks for it often). A file that became invalid keeps the last
    good directory (`error` says why), so a typo does not unassign every team."""

    CHECK_EVERY_S = 2.0

    def __init__(self, path: Path | None):
        self.path = path
        self._stamp: float | None = None
        self._checked = float("-inf")
        self._directory = Directory()
        self.error: str | None = None

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
            self._stamp = stamp
            try:
                self._directory = load_directory(self.path) if stamp is not None else Directory()
                self.error = None
            except (PeopleFileError, OSError, yaml.YAMLError) as exc:
                self.error = str(exc) if isinstance(exc, PeopleFileError) else f"{self.path}: {type(exc).__name__}"
        return self._directory
