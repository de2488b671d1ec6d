"""Rule packs: where they are and how often they are reloaded."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from chatwatch.settings.base import SettingsPart


class RuleSettings(SettingsPart):
    """Rule packs: which packs the worker, the console and the CLI load, and how often they are reloaded."""

    rules_dir: Path | None = Field(None, description="Folder of YAML rule packs (worker, console, CLI); "
                                                     "unset: the packs shipped with chatwatch (`rules/packs`).")
    rules_reload_interval_s: float = Field(5.0, ge=0, description="How often workers look for changed "
                                                                     "packs; 0: only on SIGHUP.")
