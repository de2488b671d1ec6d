"""Alerts: the message text they carry, and alerts on past messages."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from chatwatch.records import SnippetMode
from chatwatch.settings.base import SettingsPart


class AlertSettings(SettingsPart):
    """Alerts: the message text they carry (`detectors/redaction.py`) and what happens to alerts on past messages."""

    FILE_SECRETS = ("redaction_key",)

    alert_snippet: SnippetMode = Field(
        SnippetMode.replace, description="Message text on alerts: `replace` (PII replaced by its type, e.g. [CPF]), `mask`, "
                               "`hash` (HMAC; needs `REDACTION_KEY`), `keep` (raw: only if policy allows) or `none`.")
    redaction_key: SecretStr | None = Field(None, description="HMAC key for `ALERT_SNIPPET=hash`.")
    redaction_key_file: Path | None = Field(None, description="File holding the redaction key (wins).")
    history_alerts: Literal["report", "notify"] = Field(
        "report", description="Alerts on past messages (history sync, chat imports): `report` keeps them in the "
                              "alerts topic, archive and reports only; `notify` sends them like live ones.")

    @model_validator(mode="after")
    def _hash_needs_key(self) -> AlertSettings:
        if self.alert_snippet == SnippetMode.hash and self.redaction_key is None:
            raise ValueError("alert_snippet=hash needs CHATWATCH_REDACTION_KEY")
        return self
