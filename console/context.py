"""What every page needs: the store, the signed-in user, their language and what they may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, g, request

from chatwatch.console import access, i18n, teams
from chatwatch.console.casefile import Redactor
from chatwatch.console.users import User, Users
from chatwatch.rules import RuleSet
from chatwatch.settings import Settings
from chatwatch.sinks.clickhouse.client import Client


@dataclass
class Context:
    settings: Settings
    client: Client
    users: Users
    people: teams.PeopleRows
    rules: RuleSet | None
    redactor: Redactor
    ack_key: bytes


def ctx() -> Context:
    return current_app.extensions["chatwatch"]


def user() -> User:
    return g.user


def lang() -> str:
    return g.get("lang") or i18n.DEFAULT


def t(key: str, **values: Any) -> str:
    return i18n.translate(lang(), key, **values)


def require(permission: str) -> None:
    if not access.can(user().role, permission):
        abort(403)


def scope() -> str:
    """SQL condition limiting alerts to what the user may see: managers see their teams' alerts."""
    if access.can(user().role, "all_teams"):
        return "1"
    return teams.condition(ctx().people.directory, user().teams)


def client_address() -> str:
    """Where the request came from, for the audit trail (ProxyFix resolves trusted proxies first)."""
    agent = (request.user_agent.string or "")[:120]
    return f"{request.remote_addr or '?'} {agent}".strip()
