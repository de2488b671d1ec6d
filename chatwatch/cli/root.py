"""The root of the `chatwatch` command and what every command group shares: consoles, settings."""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console

from chatwatch import logs
from chatwatch.settings import Settings

cli = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Streaming compliance monitoring for business WhatsApp: run the worker and the webhook "
                       "receiver, check rule packs, detect PII, query the archive, test notifications.")
console = Console()
err = Console(stderr=True)


def load_settings(**overrides: Any) -> Settings:
    """Settings from CHATWATCH_* variables (and command-line `overrides`); a typo or an invalid value exits
    2 with a readable message."""
    unknown = Settings.unknown_environment()
    if unknown:
        err.print(f"[red]unknown configuration variable(s):[/] {', '.join(unknown)} (see README, Configuration)")
        raise typer.Exit(2)
    try:
        return Settings(**overrides)
    except (ValidationError, SettingsError) as exc:  # show it, not a traceback
        err.print(f"[red]invalid configuration:[/] {exc}")
        raise typer.Exit(2) from None


def setup_logging(level: str, fmt: str = "text") -> None:
    logs.setup(level, fmt)
