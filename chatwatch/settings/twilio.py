"""Twilio, as a webhook source: its auth token, its path, the URL Twilio signs."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr

from chatwatch.settings.base import SettingsPart, _secret


class TwilioSettings(SettingsPart):
    """Twilio source: WhatsApp through Programmable Messaging and Conversations, whose events name the agent (`streams/ingest/sources/twilio.py`)."""

    FILE_SECRETS = ("twilio_auth_token",)

    twilio_webhook_path: str = Field("/webhooks/twilio", description="Path of the webhook URL configured in Twilio "
                                     "(the WhatsApp sender's or the Conversations service's), when `WEBHOOK_SOURCES` "
                                     "names `twilio`.")
    twilio_webhook_url: str | None = Field(None, description="The full public URL configured in Twilio, which its "
                                           "signature covers; unset: the URL the receiver was called at (right only "
                                           "without a proxy or ingress in front).")
    twilio_auth_token: SecretStr | None = Field(None, description="The account's auth token, which signs "
                                                "`X-Twilio-Signature`; the receiver refuses to start with the twilio "
                                                "source and no token.")
    twilio_auth_token_file: Path | None = Field(None, description="File holding the auth token (wins).")

    @cached_property
    def twilio_auth_token_bytes(self) -> bytes | None:
        return _secret(self.twilio_auth_token, self.twilio_auth_token_file)
