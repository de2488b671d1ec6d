"""Notifications for managers: the notifications file, acknowledge links, the outbox's pace."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from chatwatch.settings.base import SettingsPart


class NotifySettings(SettingsPart):
    """Notifications: what is sent to whom (the notifications file), acknowledge links, how often the outbox is looked at (`sinks/notifications/`)."""

    FILE_SECRETS = ("notify_ack_key",)

    notify_config: Path | None = Field(None, description="Notifications YAML (receivers, routes…); unset: none sent.")
    notify_ack_key: SecretStr | None = Field(None, description="HMAC key of acknowledge links (escalation).")
    notify_ack_key_file: Path | None = Field(None, description="File holding the acknowledge-link key (wins).")
    notify_ack_link_days: float = Field(7.0, gt=0, description="Acknowledge links in notifications expire after "
                                        "this many days.")
    notify_tick_s: float = Field(1.0, gt=0, description="How often due notifications are looked for.")
