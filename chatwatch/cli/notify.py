"""`chatwatch notify test RECEIVER`: send a sample notification through one configured receiver."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import typer
from pydantic import ValidationError

from chatwatch.cli.root import cli, console, load_settings
from chatwatch.people import load_directory
from chatwatch.sinks.notifications.config import load_config
from chatwatch.sinks.notifications.notifier import Notifier

notify_cli = typer.Typer(no_args_is_help=True, help="Manager notifications.")
cli.add_typer(notify_cli, name="notify")


def sample(language: str) -> dict:
    words = {"es": ("Mover a un canal personal", "Escríbeme a mi número personal, soy [PERSON]", "mi numero personal"),
             "pt": ("Mover para um canal pessoal", "Me chama no meu zap pessoal, sou [PERSON]", "meu zap pessoal"),
             "en": ("Move to a personal channel", "Text me on my personal number, I'm [PERSON]", "my personal number")}
    title, snippet, term = words[language]
    alert = {"alert_id": "test-0000", "rule_id": "chatwatch.test", "rule_title": title, "severity": "medium",
             "category": "test", "employee": "test", "team": None, "customer_masked": "*********0000",
             "conversation_key": "cv_test", "message_timestamp": datetime.now(UTC).isoformat(), "snippet": snippet,
             "terms": [term]}
    return {"receiver": "", "group_key": "test", "labels": {}, "alerts": [alert], "count": 1, "total": 1}


@notify_cli.command("test")
def test_cmd(receiver: str = typer.Argument(..., help="Receiver name from the notifications YAML."),
             config: Path | None = typer.Option(None, help="Notifications YAML (default: CHATWATCH_NOTIFY_CONFIG).")) -> None:
    """Send one sample notification (retries included); exit 1 when it does not get through."""
    path = config or load_settings().notify_config
    if path is None:
        raise typer.BadParameter("no notifications file: pass --config or set CHATWATCH_NOTIFY_CONFIG")
    try:
        cfg = load_config(path)
    except (ValidationError, OSError) as exc:
        console.print(f"[red]{path}: invalid notifications configuration:[/]\n{exc}")
        raise typer.Exit(2) from None
    if receiver not in {r.name for r in cfg.receivers}:
        console.print(f"[red]no receiver {receiver!r}[/]; known: {', '.join(r.name for r in cfg.receivers)}")
        raise typer.Exit(2)

    async def send():
        notifier = Notifier(cfg, load_directory(cfg.directory), {}, lambda *a: asyncio.sleep(0))
        note = sample(cfg.receiver(receiver).language)
        note["receiver"] = receiver
        return await notifier.send(receiver, note)

    outcome = asyncio.run(send())
    if outcome.ok:
        console.print(f"[green]sent[/] to {receiver} ({cfg.receiver(receiver).channel.value}) in {outcome.attempts} attempt(s)")
    else:
        console.print(f"[red]failed[/] after {outcome.attempts} attempt(s): {outcome.reason}")
        raise typer.Exit(1)
