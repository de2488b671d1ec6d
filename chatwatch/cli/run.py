"""`chatwatch worker | webhook | topics | demo`: the long-running processes and the local demo."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import typer
from rich.console import Console

from chatwatch.cli.root import cli, console, err, load_settings, setup_logging
from chatwatch.rules import SHIPPED_PACKS, RulePackError
from chatwatch.streams import roles as roles_of
from chatwatch.streams.active_rules import ActiveRules
from chatwatch.streams.agents.role import WorkerContext
from chatwatch.streams.app import run_worker
from chatwatch.streams.demo.run import run_demo
from chatwatch.streams.ingest.web import run_webhook
from chatwatch.streams.topics import TopicNames, ensure_topics

log = logging.getLogger(__name__)


@cli.command(help="Run the Faust worker: the roles chosen (all by default), and /metrics, /healthz, /ready, /rules.\n\n"
             "Roles:\n\n" + "\n\n".join(f"{r.name}: {r.summary}" for r in roles_of.all_roles()))
def worker(loglevel: str = typer.Option("info", help="debug, info, warning, error"),
           roles: str = typer.Option(None, help=f"Comma list of {', '.join(roles_of.names())} "
                                                "(default: CHATWATCH_WORKER_ROLES, i.e. all in one process).")) -> None:
    settings = load_settings(worker_roles=roles) if roles else load_settings()
    try:
        selected = roles_of.select(settings.worker_roles)
    except ValueError as exc:
        err.print(f"[red]invalid configuration:[/] {exc}")
        raise typer.Exit(2) from None
    rules = None  # only roles that run rule packs load them
    if any(role.needs_rules for role in selected):
        rules_dir = settings.rules_dir or SHIPPED_PACKS
        try:
            rules = ActiveRules(rules_dir)
        except RulePackError as exc:
            err.print(f"[red]rule packs in {rules_dir} are invalid:[/]\n{exc}")
            raise typer.Exit(2) from None
    run_worker(settings, rules, loglevel, attach=console_beside_worker)


def console_beside_worker(app: Any, ctx: WorkerContext) -> None:
    """With CONSOLE_IN_WORKER, the console runs in the worker that opened the archive: embedded chdb serves
    its folder to one process, so the two share its client. (Imported here: other workers do not load Flask.)"""
    if not ctx.settings.console_in_worker or ctx.clickhouse is None:
        return
    from chatwatch.console.server import ConsoleServer

    server = ConsoleServer(ctx.settings, ctx.clickhouse).start()
    log.info("compliance console on %s (served by this worker)", server.url)

    async def stop_console() -> None:
        await asyncio.to_thread(server.stop)

    app.before_stop.append(stop_console)


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
