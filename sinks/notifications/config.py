"""The notifications configuration (a YAML file): receivers, a routing tree, silences, digests,
escalation. Secrets never live in it: receivers name the environment variables that hold them.

    receivers:
      - {name: compliance, channel: email, to: [compliance@example.com], language: es,
         timezone: America/Mexico_City, email: {host: smtp.example.com, port: 587, starttls: true,
         username: alerts, password_env: SMTP_PASSWORD, sender: chatwatch@example.com}}
      - {name: sales-slack, channel: slack, url_env: SLACK_WEBHOOK_SALES, min_severity: high}
    route:
      receivers: [compliance]
      group_by: [rule_id, employee]
      routes:
        - {match: {severity: [critical]}, receivers: [team_managers], continue: true}
"""

from __future__ import annotations

import os
from datetime import datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import ConfigDict, Field, field_validator, model_validator

from chatwatch.records import SEVERITIES, StrictModel
from chatwatch.settings import Settings

LABELS = ("severity", "category", "rule_id", "tags", "pack", "business_number", "team", "employee")
TEAM_MANAGERS = "team_managers"  # a receiver name that means: the managers of the alert's team


class Channel(StrEnum):
    email = "email"
    slack = "slack"
    teams = "teams"
    webhook = "webhook"


class QuietHours(StrictModel):
    start: time
    end: time
    except_severities: list[Literal[SEVERITIES]] = Field(default_factory=lambda: ["critical"])  # type: ignore[valid-type]

    def contains(self, moment: datetime, tz: str) -> bool:
        t = moment.astimezone(ZoneInfo(tz)).time()
        return (self.start <= t < self.end) if self.start < self.end else (t >= self.start or t < self.end)


class EmailSettings(StrictModel):
    host: str
    port: int = 587
    starttls: bool = True
    tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password_env: str | None = None
    sender: str = "chatwatch@localhost"
    timeout_s: float = 10.0


class Receiver(StrictModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    channel: Channel
    to: list[str] = Field(default_factory=list, description="E-mail recipients.")
    url: str | None = Field(None, description="Webhook URL when it is not a secret.")
    url_env: str | None = Field(None, description="Environment variable holding the webhook URL (Slack/Teams).")
    secret_env: str | None = Field(None, description="Environment variable with the generic webhook's HMAC key.")
    email: EmailSettings | None = None
    language: Literal["es", "pt", "en"] = "es"
    timezone: str = "UTC"
    min_severity: Literal[SEVERITIES] = "info"  # type: ignore[valid-type]
    quiet_hours: QuietHours | None = None
    rate_limit_per_hour: int = Field(60, ge=1)
    timeout_s: float = Field(10.0, gt=0)
    max_attempts: int = Field(5, ge=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        ZoneInfo(v)
        return v

    @model_validator(mode="after")
    def _channel_needs(self) -> Receiver:
        if self.channel is Channel.email and (not self.to or self.email is None):
            raise ValueError("an email receiver needs `to` and `email` settings")
        if self.channel is not Channel.email and not (self.url or self.url_env):
            raise ValueError(f"a {self.channel.value} receiver needs `url` or `url_env`")
        return self

    def webhook_url(self) -> str:
        return self.url or os.environ.get(self.url_env or "", "")

    def secret(self) -> bytes:
        return os.environ.get(self.secret_env or "", "").encode()


class Matchers(StrictModel):
    """Each given label must have one of the listed values (tags: any overlap)."""

    severity: list[str] = Field(default_factory=list)
    category: list[str] = Field(default_factory=list)
    rule_id: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    pack: list[str] = Field(default_factory=list)
    business_number: list[str] = Field(default_factory=list)
    team: list[str] = Field(default_factory=list)
    employee: list[str] = Field(default_factory=list)

    def matches(self, labels: dict[str, object]) -> bool:
        for name in LABELS:
            wanted = getattr(self, name)
            if not wanted:
                continue
            value = labels.get(name)
            if name == "tags":
                if not set(wanted) & set(value or ()):
                    return False
            elif value not in wanted:
                return False
        return True


class Route(StrictModel):
    match: Matchers = Field(default_factory=Matchers)
    receivers: list[str] = Field(default_factory=list)
    continue_: bool = Field(False, alias="continue")
    group_by: list[Literal[LABELS]] | None = None  # type: ignore[valid-type]
    group_wait_s: float | None = None
    group_interval_s: float | None = None
    repeat_interval_s: float | None = None
    routes: list[Route] = Field(default_factory=list)
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Silence(StrictModel):
    matchers: Matchers
    until: datetime
    reason: str
    created_by: str = ""


class Digest(StrictModel):
    severities: list[Literal[SEVERITIES]] = Field(default_factory=lambda: ["info", "low"])  # type: ignore[valid-type]
    every: Literal["hourly", "daily"] = "daily"
    at_hour: int = Field(8, ge=0, le=23, description="Local hour of the daily digest.")


class Escalation(StrictModel):
    after_s: float = Field(900, gt=0)
    receivers: list[str]
    severities: list[Literal[SEVERITIES]] = Field(default_factory=lambda: ["critical"])  # type: ignore[valid-type]


class NotifyConfig(StrictModel):
    receivers: list[Receiver]
    route: Route
    silences: list[Silence] = Field(default_factory=list)
    digest: Digest | None = None
    escalation: Escalation | None = None
    directory: Path | None = Field(None, description="People directory (YAML or CSV), relative to this file.")
    link_template: str = Field("", description="Where 'open' links go, e.g. https://wiki.example.com/{rule_id}; "
                               "unset: the case in the console (ack_base_url).")
    ack_base_url: str = Field("", description="Public URL of the compliance console: 'review' buttons open the "
                              "case there and acknowledge links land on its acknowledge page.")
    default_group_by: list[str] = Field(default_factory=lambda: ["rule_id", "employee"])
    default_group_wait_s: float = 30.0
    default_group_interval_s: float = 300.0
    default_repeat_interval_s: float = 4 * 3600.0

    @model_validator(mode="after")
    def _known_receivers(self) -> NotifyConfig:
        names = {r.name for r in self.receivers} | {TEAM_MANAGERS}
        if len(names) - 1 != len(self.receivers):
            raise ValueError("receiver names must be unique")

        def walk(route: Route) -> None:
            for name in route.receivers:
                if name not in names:
                    raise ValueError(f"route names unknown receiver {name!r}")
            for child in route.routes:
                walk(child)

        walk(self.route)
        for name in (self.escalation.receivers if self.escalation else []):
            if name not in names:
                raise ValueError(f"escalation names unknown receiver {name!r}")
        return self

    def receiver(self, name: str) -> Receiver:
        return next(r for r in self.receivers if r.name == name)


def load_config(path: Path) -> NotifyConfig:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    config = NotifyConfig.model_validate(data)
    if config.directory is not None and not config.directory.is_absolute():
        config = config.model_copy(update={"directory": path.parent / config.directory})
    return config


def people_path(settings: Settings) -> Path | None:
    """The people directory every part reads: PEOPLE_FILE, else the notifications file's `directory`."""
    if settings.people_file is not None:
        return settings.people_file
    return load_config(settings.notify_config).directory if settings.notify_config is not None else None
