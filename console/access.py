"""Roles and what each may do: the permissions table the pages check and the README prints.

Managers see only the alerts of the teams they manage (teams.py turns that into SQL); everything
else is a yes/no per role.
"""

from __future__ import annotations

ROLES = ("analyst", "manager", "auditor", "admin")

PERMISSIONS: dict[str, frozenset[str]] = {
    "view_cases": frozenset(ROLES),  # queue and case pages (managers: own teams only)
    "all_teams": frozenset({"analyst", "auditor", "admin"}),
    "decide": frozenset({"analyst", "manager", "admin"}),  # assign, escalate, resolve, dismiss, reopen
    "comment": frozenset({"analyst", "manager", "admin"}),
    "bulk": frozenset({"analyst", "admin"}),  # assign or dismiss many from the queue
    "reveal": frozenset({"analyst", "admin"}),  # raw text, with a typed reason, audited
    "export_bundle": frozenset({"analyst", "auditor", "admin"}),
    "audit": frozenset({"auditor", "admin"}),  # read, filter and export the audit trail
    "quality": frozenset({"analyst", "auditor", "admin"}),
    "users": frozenset({"admin"}),
}


def can(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def table() -> list[tuple[str, list[bool]]]:
    """(permission, allowed per role in ROLES order): the permissions table as data."""
    return [(name, [r in roles for r in ROLES]) for name, roles in PERMISSIONS.items()]
