"""The webhook receiver: where it listens, what it accepts, and the WhatsApp app's secrets."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr

from chatwatch.settings.base import SettingsPart, _secret


class WebhookSettings(SettingsPart):
    """Webhook receiver: where `chatwatch webhook` listens, what it accepts, the Meta app's secrets (`streams/ingest/web.py`)."""

    FILES = ("app_secret_file", "verify_token_file")

    webhook_sources: str = Field("whatsapp_cloud_api", description="The sources whose webhooks the receiver "
                                 "takes, one route each: a comma list of source names (docs/sources.md; "
                                 "`chatwatch webhook parse --help` lists them).")
    webhook_host: str = Field("127.0.0.1", description="Webhook receiver bind address.")
    webhook_port: int = Field(8080, description="Webhook receiver port.")
    webhook_path: str = Field("/webhooks/whatsapp", description="Callback path configured in the Meta App Dashboard.")
    webhook_max_body_bytes: int = Field(3 * 1024 * 1024, ge=1024, description="Larger POST bodies get 413 "
                                        "(Meta documents bodies up to 3 MB); the raw topic and the receiver's producer "
                                        "are sized from this.")
    webhook_produce_timeout_s: float = Field(10.0, gt=0, description="How long a POST waits for Kafka before "
                                                                 "answering 503.")

    app_secret: SecretStr | None = Field(None, description="Meta App Secret, which signs "
                                      "`X-Hub-Signature-256`; `chatwatch webhook` refuses to start without it when `WEBHOOK_SOURCES` names "
                                      "`whatsapp_cloud_api`.")
    app_secret_file: Path | None = Field(None, description="File holding the App Secret (wins over app_secret).")
    verify_token: SecretStr | None = Field(None, description="Token typed into the App Dashboard "
                                        "for Meta's GET verification.")
    verify_token_file: Path | None = Field(None, description="File holding the verify token.")

    @property
    def raw_record_max_bytes(self) -> int:
        """Largest raw-topic record: a whole body plus headers and batch overhead."""
        return self.webhook_max_body_bytes + 64 * 1024

    @cached_property
    def app_secret_bytes(self) -> bytes | None:
        return _secret(self.app_secret, self.app_secret_file)

    @cached_property
    def verify_token_bytes(self) -> bytes | None:
        return _secret(self.verify_token, self.verify_token_file)
