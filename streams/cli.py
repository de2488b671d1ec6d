"""The `chatwatch` command: run the worker and the webhook receiver, the demo, and rule tools."""

from __future__ import annotations

import asyncio
import logging

import typer
from rich.console import Console

from rules import RulePackError
from streams.cli_db import db_cli, erase_cmd, hold_cmd, report_cmd
from streams.cli_notify import notify_cli
from streams.cli_pii import pii_cli
from streams.cli_rules import rules_cli
from streams.settings import Settings

cli = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
cli.add_typer(rules_cli, name="rules")
cli.add_typer(pii_cli, name="pii")
cli.add_typer(db_cli, name="db")
cli.add_typer(notify_cli, name="notify")
cli.command("report")(report_cmd)
cli.command("hold")(hold_cmd)
cli.command("erase")(erase_cmd)
console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    unknown = Settings.unknown_environment()
    if unknown:
        err.print(f"[red]unknown configuration variable(s):[/] {', '.join(unknown)} (see README, Configuration)")
        raise typer.Exit(2)
    try:
        return Settings()
    except Exception as exc:  # pydantic ValidationError: show it, not a traceback
        err.print(f"[red]invalid configuration:[/] {exc}")
        raise typer.Exit(2) from None


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")


@cli.command()
def worker(loglevel: str = typer.Option("info", help="debug, info, warning, error")) -> None:
    """Run the Faust worker: normalize and scan agents, /metrics, /healthz, /ready."""
    import faust  # only the worker needs Faust

    from streams.active_rules import ActiveRules
    from streams.app import create_app
    from streams.topics import ensure_topics

    settings = _settings()
    try:
        rules = ActiveRules(settings.rules_dir)
    except RulePackError as exc:
        err.print(f"[red]rule packs in {settings.rules_dir} are invalid:[/]\n{exc}")
        raise typer.Exit(2) from None
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(settings))
    app = create_app(settings, rules)
    faust.Worker(app, loglevel=loglevel, loop=loop).execute_from_commandline()


@cli.command()
def webhook(loglevel: str = typer.Option("info")) -> None:
    """Run the WhatsApp Cloud API webhook receiver (verification, signed POSTs -> raw topic)."""
    from aiohttp import web

    from streams.ingest.web import create_webhook_app
    from streams.topics import ensure_topics

    _logging(loglevel)
    settings = _settings()
    try:
        app = create_webhook_app(settings)
    except ValueError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    asyncio.run(ensure_topics(settings))
    web.run_app(app, host=settings.webhook_host, port=settings.webhook_port, print=None, access_log=None)


@cli.command()
def topics() -> None:
    """Create the topics (idempotent) and print their names."""
    from streams.topics import TopicNames, ensure_topics

    settings = _settings()
    created = asyncio.run(ensure_topics(settings))
    for name in TopicNames.from_settings(settings).all():
        console.print(f"{name}{'  (created)' if name in created else ''}")


@cli.command()
def demo(kafka: str = typer.Option("127.0.0.1:9092", envvar="CHATWATCH_KAFKA_BOOTSTRAP",
                                    help="Kafka bootstrap (scripts/kafka-local starts one).")) -> None:
    """Post the bundled signed conversations through webhook -> Kafka -> worker; print the alerts."""
    from streams.demo.run import run_demo

    raise typer.Exit(run_demo(kafka, Console(width=max(console.width, 120))))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
