"""Logs: their format (`chatwatch/logs.py`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chatwatch.settings.base import SettingsPart


class LogSettings(SettingsPart):
    """Logs: how every chatwatch process writes its log lines (`chatwatch/logs.py`)."""

    log_format: Literal["text", "json"] = Field("text", description="`text`, or `json`: one object per line "
                                                "with stable fields (`ts`, `level`, `logger`, `message`, `stage`, `topic`, "
                                                "`partition`, `offset`, `reason`, `error_class`); never message text.")
