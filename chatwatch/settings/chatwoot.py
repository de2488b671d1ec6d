"""Chatwoot, as a webhook source: its secret, its path, which inbox is which WhatsApp number."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr

from chatwatch.settings.base import SettingsPart, _secret


class ChatwootSettings(SettingsPart):
    """Chatwoot source: webhooks from a Chatwoot inbox, which say which agent typed each reply (`streams/ingest/sources/chatwoot.py`)."""

    FILE_SECRETS = ("chatwoot_webhook_secret",)

    chatwoot_webhook_path: str = Field("/webhooks/chatwoot", description="Path of the webhook URL configured in "
                                       "Chatwoot (Settings → Integrations → Webhooks), when `WEBHOOK_SOURCES` names "
                                       "`chatwoot`.")
    chatwoot_webhook_secret: SecretStr | None = Field(None, description="The webhook's secret, which signs "
                                                      "`X-Chatwoot-Signature` (Chatwoot 4.11+); the receiver refuses "
                                                      "to start with the chatwoot source and no secret.")
    chatwoot_webhook_secret_file: Path | None = Field(None, description="File holding the webhook secret (wins).")
    chatwoot_max_skew_s: float = Field(300.0, gt=0, description="A request whose `X-Chatwoot-Timestamp` is further "
                                       "than this from now is refused (a captured request cannot be replayed).")
    chatwoot_inbox_numbers: dict[str, str] = Field(default_factory=dict, description="Chatwoot inbox id -> its "
                                                   "WhatsApp phone number id (JSON): conversations get the key the "
                                                   "Cloud API gives the same chat; unset: `chatwoot-inbox:<id>`.")

    @cached_property
    def chatwoot_secret_bytes(self) -> bytes | None:
        return _secret(self.chatwoot_webhook_secret, self.chatwoot_webhook_secret_file)
