"""Local console users, kept in ClickHouse beside the archive (the latest row per user name wins).

Passwords are hashed with argon2id (argon2-cffi's defaults: memory-hard, salted); a hash made with
older parameters is replaced at the next login. A reset or a disable bumps `session_version`, which
ends every session of that user at its next request.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chatwatch.console import clock
from chatwatch.console.access import ROLES
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.privacy import audit
from chatwatch.sinks.clickhouse.queries import quote
from chatwatch.sinks.clickhouse.rows import utc

NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD = 12
LANGUAGES = ("es", "pt", "en")
_hasher = PasswordHasher()
_DUMMY = _hasher.hash(secrets.token_hex(16))  # verified against for unknown names: same time either way


class UserError(ValueError):
    """A user cannot be created or changed as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    display_name: str = ""
    email: str = ""
    teams: list[str] = field(default_factory=list)
    active: bool = True
    language: str = ""
    session_version: int = 0
    password_hash: str = field(default="", repr=False)

    @property
    def name(self) -> str:
        return self.display_name or self.username


def new_password() -> str:
    return secrets.token_urlsafe(12)  # 16 characters, ~96 bits


class Users:
    def __init__(self, client: Client):
        self.client = client

    def get(self, username: str) -> User | None:
        rows = self.client.query(f"SELECT * FROM {self.client.database}.console_users FINAL "
                                 f"WHERE username = '{quote(username)}'")
        return _user(rows[0]) if rows else None

    def all(self) -> list[User]:
        rows = self.client.query(f"SELECT * FROM {self.client.database}.console_users FINAL ORDER BY username")
        return [_user(r) for r in rows]

    def add(self, username: str, role: str, actor: str, *, password: str | None = None, teams: list[str] | None = None,
            display_name: str = "", email: str = "", language: str = "", source: str = "") -> str:
        """Create a user; returns the password (a random one unless given)."""
        username = username.strip().lower()
        if not NAME.match(username):
            raise UserError("user names are 2-64 lower-case letters, digits and . _ @ -")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        if role == "manager" and not teams:
            raise UserError("a manager needs at least one team (--team)")
        if language and language not in LANGUAGES:
            raise UserError(f"language must be one of {', '.join(LANGUAGES)}")
        if self.get(username) is not None:
            raise UserError(f"user {username!r} exists (use reset or enable)")
        password = password or new_password()
        _check_password(password)
        user = User(username, role, display_name, email, list(teams or []), True, language, 0, _hasher.hash(password))
        self._write(user, actor)
        audit(self.client, actor, "user_add", f"user:{username}", {"role": role, "teams": user.teams}, source)
        return password

    def reset(self, username: str, actor: str, password: str | None = None, source: str = "") -> str:
        user = self._existing(username)
        password = password or new_password()
        _check_password(password)
        self._write(replace(user, password_hash=_hasher.hash(password), session_version=user.session_version + 1),
                    actor)
        audit(self.client, actor, "user_reset", f"user:{user.username}", {}, source)
        return password

    def set_active(self, username: str, active: bool, actor: str, source: str = "") -> None:
        user = self._existing(username)
        self._write(replace(user, active=active, session_version=user.session_version + 1), actor)
        audit(self.client, actor, "user_enable" if active else "user_disable", f"user:{user.username}", {}, source)

    def set_language(self, user: User, language: str) -> None:
        if language in LANGUAGES and language != user.language:
            self._write(replace(user, language=language), user.username)

    def verify(self, username: str, password: str) -> User | None:
        """The active user with this password, or None (unknown, disabled or wrong: the caller cannot tell)."""
        user = self.get(username.strip().lower())
        try:
            _hasher.verify(user.password_hash if user else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or not user.active:
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            self._write(replace(user, password_hash=_hasher.hash(password)), user.username)
        return user

    def _existing(self, username: str) -> User:
        user = self.get(username.strip().lower())
        if user is None:
            raise UserError(f"no user {username!r}")
        return user

    def _write(self, user: User, actor: str) -> None:
        self.client.insert_json("console_users", [{
            "username": user.username, "display_name": user.display_name, "email": user.email, "role": user.role,
            "teams": user.teams, "password_hash": user.password_hash, "active": int(user.active),
            "language": user.language, "session_version": user.session_version, "updated_at": utc(clock.now()),
            "updated_by": actor}])


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"passwords have at least {MIN_PASSWORD} characters")


def _user(row: dict) -> User:
    return User(username=row["username"], role=row["role"], display_name=row["display_name"], email=row["email"],
                teams=list(row["teams"]), active=bool(int(row["active"])), language=row["language"],
                session_version=int(row["session_version"]), password_hash=row["password_hash"])
