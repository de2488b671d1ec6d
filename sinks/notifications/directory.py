"""The people directory: which team an alert belongs to (by employee or business number) and who
manages it. YAML (teams + employees) or CSV (employee_id,name,team) for the employee list.

    teams:
      sales-mx: {numbers: ["106540352242922"], managers: [ana-email, ana-slack]}   # receiver names
    employees:
      emp-17: {name: Carlos Ruiz, team: sales-mx}
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Directory:
    teams: dict[str, dict] = field(default_factory=dict)
    employees: dict[str, dict] = field(default_factory=dict)

    def team_of(self, employee_id: str | None, business_number: str | None) -> str | None:
        if employee_id and employee_id in self.employees:
            return self.employees[employee_id].get("team")
        for team, spec in self.teams.items():
            if business_number and business_number in [str(n) for n in spec.get("numbers", [])]:
                return team
        return None

    def managers(self, team: str | None) -> list[str]:
        return list(self.teams.get(team or "", {}).get("managers", []))

    def name_of(self, employee_id: str | None) -> str | None:
        return self.employees.get(employee_id or "", {}).get("name")


def load_directory(path: Path | None) -> Directory:
    if path is None or not path.exists():
        return Directory()
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            employees = {row["employee_id"]: {"name": row.get("name", ""), "team": row.get("team", "")}
                         for row in csv.DictReader(f)}
        teams_file = path.with_suffix(".teams.yaml")
        teams = (yaml.safe_load(teams_file.read_text()) or {}).get("teams", {}) if teams_file.exists() else {}
        return Directory(teams, employees)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Directory(data.get("teams", {}) or {}, {str(k): v for k, v in (data.get("employees", {}) or {}).items()})
