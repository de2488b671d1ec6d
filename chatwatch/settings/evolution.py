"""Evolution API, as a webhook source: its path and how its requests are recognised."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr

from chatwatch.settings.base import SettingsPart, _secret


class EvolutionSettings(SettingsPart):
    """Evolution API source: a WhatsApp Web gateway, one instance per company phone; it does not sign webhooks, so a bearer token or a JWT (`streams/ingest/sources/evolution.py`, docs/sources.md)."""

    FILE_SECRETS = ("evolution_token", "evolution_jwt_key")

    evolution_webhook_path: str = Field("/webhooks/evolution", description="Path of the webhook URL configured in "
                                        "Evolution API, when `WEBHOOK_SOURCES` names `evolution`.")
    evolution_token: SecretStr | None = Field(None, description="Static token Evolution sends as "
                                              "`Authorization: Bearer <token>` (a custom webhook header): anyone "
                                              "holding it can post, so HTTPS only; prefer the JWT key.")
    evolution_token_file: Path | None = Field(None, description="File holding the static token (wins).")
    evolution_jwt_key: SecretStr | None = Field(None, description="The webhook's `jwt_key`: Evolution then sends an "
                                                "HS256 JWT valid 10 minutes, checked with this key.")
    evolution_jwt_key_file: Path | None = Field(None, description="File holding the JWT key (wins).")

    @cached_property
    def evolution_token_bytes(self) -> bytes | None:
        return _secret(self.evolution_token, self.evolution_token_file)

    @cached_property
    def evolution_jwt_key_bytes(self) -> bytes | None:
        return _secret(self.evolution_jwt_key, self.evolution_jwt_key_file)
