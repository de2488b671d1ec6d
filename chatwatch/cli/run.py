"""`chatwatch worker | webhook | topics | demo`: the long-running processes and the local demo."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from chatwatch.cli.root import cli, console, err, load_settings, setup_logging
from chatwatch.rules import SHIPPED_PACKS, RulePackError
from chatwatch.streams.active_rules import ActiveRules
from chatwatch.streams.app import run_worker
from chatwatch.streams.demo.run import run_demo
from chatwatch.streams.ingest.web import run_webhook
from chatwatch.streams.topics import TopicNames, ensure_topics


@cli.command()
def worker(loglevel: str = typer.Option("info", help="debug, info, warning, error"),
           roles: str = typer.Option(None, help="Comma list of normalize, scan, conversation, archive, notify "
                                                "(default: CHATWATCH_WORKER_ROLES, i.e. all in one process).")) -> None:
    """Run the Faust worker: normalize, scan, archive and notify agents; /metrics, /healthz, /ready, /rules."""
    settings = load_settings(worker_roles=roles) if roles else load_settings()
    rules = None  # only the scan and conversation roles run rule packs
    if settings.roles & {"scan", "conversation"}:
        rules_dir = settings.rules_dir or SHIPPED_PACKS
        try:
            rules = ActiveRules(rules_dir)
        except RulePackError as exc:
            err.print(f"[red]rule packs in {rules_dir} are invalid:[/]\n{exc}")
            raise typer.Exit(2) from None
    run_worker(settings, rules, loglevel)


webhook_cli = typer.Typer(invoke_without_command=True, help="Run the WhatsApp Cloud API webhook receiver "
                          "(verification, signed POSTs -> raw topic); `webhook parse FILE…` shows what bodies become.")
cli.add_typer(webhook_cli, name="webhook")


@webhook_cli.callback()
def webhook(ctx: typer.Context, loglevel: str = typer.Option("info")) -> None:
    """Run the WhatsApp Cloud API webhook receiver (verification, signed POSTs -> raw topic)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings()
    setup_logging(loglevel, settings.log_format)
    try:
        run_webhook(settings)
    except ValueError as exc:  # configuration the receiver cannot run with (no app secret…)
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


@cli.command()
def topics() -> None:
    """Create the topics (idempotent) and print their names."""
    settings = load_settings()
    created = asyncio.run(ensure_topics(settings))
    for name in TopicNames.from_settings(settings).all():
        console.print(f"{name}{'  (created)' if name in created else ''}")


@cli.command()
def demo(kafka: str = typer.Option("127.0.0.1:9092", envvar="CHATWATCH_KAFKA_BOOTSTRAP",
                                    help="Kafka bootstrap (scripts/kafka-local starts one).")) -> None:
    """Post the bundled signed conversations through webhook -> Kafka -> worker; print the alerts."""
    raise typer.Exit(run_demo(kafka, Console(width=max(console.width, 120))))
