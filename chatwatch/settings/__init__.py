"""Runtime configuration, read once from CHATWATCH_* environment variables.

The bottom layer, beside the records: plain values only, so every layer can take a Settings
and build its own parts from it (ClickHouseTarget.from_settings, PiiConfig.from_settings…).

Each owner keeps its settings in its own module here (kafka.py, console.py…): the fields with
their descriptions, the secrets it reads from files, its cross-field rules. `Settings` composes
them, so every setting is a flat attribute (`settings.kafka_bootstrap`) and its environment
variable is `CHATWATCH_<FIELD>`; reference.py renders the README's settings tables from them.

Secrets (the WhatsApp app secret and verify token, the Kafka SASL password…) come from the
environment or from files (Kubernetes secrets mounted as files); they are `SecretStr`, so they
never print in logs.
"""

from __future__ import annotations

import os

from chatwatch.settings.alerts import AlertSettings
from chatwatch.settings.archive import ArchiveSettings
from chatwatch.settings.base import SettingsPart, _secret
from chatwatch.settings.batches import BatchSettings
from chatwatch.settings.chatwoot import ChatwootSettings
from chatwatch.settings.console import ConsoleSettings
from chatwatch.settings.conversation import ConversationSettings
from chatwatch.settings.evolution import EvolutionSettings
from chatwatch.settings.kafka import KafkaSettings
from chatwatch.settings.logs import LogSettings
from chatwatch.settings.notify import NotifySettings
from chatwatch.settings.people import PeopleSettings
from chatwatch.settings.pii import PiiSettings
from chatwatch.settings.rules import RuleSettings
from chatwatch.settings.topics import TopicSettings
from chatwatch.settings.twilio import TwilioSettings
from chatwatch.settings.webhook import WebhookSettings
from chatwatch.settings.worker import WorkerSettings

__all__ = ["FILE_SECRETS", "OWNERS", "Settings", "SettingsPart", "_secret"]


class Settings(KafkaSettings, TopicSettings, WorkerSettings, BatchSettings, WebhookSettings, ChatwootSettings,
               TwilioSettings, EvolutionSettings, RuleSettings,
               PeopleSettings, PiiSettings, AlertSettings, ConversationSettings, ArchiveSettings, NotifySettings, ConsoleSettings,
               LogSettings):
    """Everything a chatwatch process needs to know; unknown CHATWATCH_ variables are rejected."""

    @classmethod
    def unknown_environment(cls, environ: dict[str, str] | None = None) -> list[str]:
        """CHATWATCH_* variables that configure nothing: almost always a typo worth refusing."""
        prefix = cls.model_config["env_prefix"]
        known = {f"{prefix}{name}".upper() for name in cls.model_fields}
        return sorted(k for k in (environ if environ is not None else os.environ)
                      if k.upper().startswith(prefix) and k.upper() not in known)

    @property
    def base_group_id(self) -> str:
        return self.app_id or f"{self.topic_prefix}-worker"


OWNERS: tuple[type[SettingsPart], ...] = Settings.__bases__  # in the order the settings reference shows them
FILE_SECRETS = Settings.declared("FILE_SECRETS")  # also read from `<name>_file`
