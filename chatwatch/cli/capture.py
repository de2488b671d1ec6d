"""`chatwatch import` (WhatsApp chat exports -> the scan path) and `chatwatch webhook parse` (what a
webhook payload becomes, for whoever debugs an integration)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer
from rich.progress import Progress

from chatwatch.cli.root import cli, console, err, load_settings
from chatwatch.cli.run import webhook_cli
from chatwatch.records import Origin
from chatwatch.streams.ingest.chat_export import (
    ImportOptions,
    authors,
    employee_key,
    read_export,
    time_zone,
    to_messages,
)
from chatwatch.streams.ingest.publish import publish_messages
from chatwatch.streams.ingest.sources import all_sources
from chatwatch.streams.ingest.whatsapp_webhook import PayloadError
from chatwatch.streams.topics import TopicNames, ensure_topics


def load_exports(paths: list[Path], options: ImportOptions) -> list[tuple[Path, list]]:
    """Each export's canonical messages; exits 2 naming the file when one is unreadable, holds no
    WhatsApp messages, or the employee writes nothing in it (every message would be the customer's)."""
    batches = []
    for path in paths:
        try:
            export = read_export(path)
            messages = to_messages(export, options)
        except (OSError, ValueError, UnicodeError) as exc:
            err.print(f"[red]{path}: {exc}[/]")
            raise typer.Exit(2) from None
        if not messages:
            err.print(f"[red]{path}: no WhatsApp messages found (is it a chat export?)[/]")
            raise typer.Exit(2)
        if employee_key(options) not in (who := authors(export, options)):
            err.print(f"[red]{path}: --employee {options.employee!r} writes nothing here; "
                      f"authors: {', '.join(sorted(who))}[/]")
            raise typer.Exit(2)
        batches.append((path, messages))
    return batches


@cli.command("import")
def import_exports(
    paths: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Chat exports: .txt or .zip."),
    employee: str = typer.Option(..., "--employee", help="The employee's name or number as the export shows it "
                                                          "(their messages are outbound)."),
    number: str = typer.Option(..., "--number", help="The business number the chats were held on."),
    tz: str | None = typer.Option(None, "--tz", help="The phone's time zone (exports carry local times); default: "
                                                   "the business number's, else UTC; "
                                              "e.g. America/Sao_Paulo."),
    day_first: bool | None = typer.Option(None, "--day-first/--month-first",
                                          help="Only for files that cannot tell (every day ≤ 12)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the canonical messages (JSON lines); send nothing."),
) -> None:
    """Send WhatsApp chat exports through the scan path as past messages (source chat_export).
    Importing a file twice adds nothing: message ids come from the chat, time, author and text."""
    options = ImportOptions(employee=employee, number=number, tz=tz, day_first=day_first)
    batches = load_exports(paths, options)
    if dry_run:
        for _, messages in batches:
            for msg in messages:
                sys.stdout.write(msg.model_dump_json(exclude_none=True) + "\n")
        return
    err.print(f"times read in {time_zone(options)}" + ("" if tz else " (the business number's zone; --tz to change)"))
    settings = load_settings()
    topic = TopicNames.from_settings(settings).messages
    asyncio.run(ensure_topics(settings))
    total = sum(len(m) for _, m in batches)
    with Progress(console=err) as bar:
        task = bar.add_task("importing", total=total)
        for path, messages in batches:
            sent = asyncio.run(publish_messages(settings, topic, messages, lambda n: bar.advance(task, n)))
            console.print(f"{path.name}: {sent} messages from {messages[0].timestamp:%Y-%m-%d} "
                          f"to {messages[-1].timestamp:%Y-%m-%d} sent to {topic}")


@webhook_cli.command("parse")
def webhook_parse(paths: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                                     help="Webhook POST bodies (JSON files)."),
                  source: str = typer.Option("whatsapp_cloud_api", help="The source that sent them: "
                                             + ", ".join(sorted(all_sources())) + " (docs/sources.md).")) -> None:
    """Print the canonical records each webhook body becomes (JSON lines: messages, history, statuses,
    calls, errors, ignored changes and problems) — nothing is sent anywhere."""
    parser = all_sources().get(source)
    if parser is None:
        err.print(f"[red]unknown source {source!r}; known: {', '.join(sorted(all_sources()))}[/]")
        raise typer.Exit(2)
    settings = load_settings()
    failed = False
    for path in paths:
        try:
            result = parser.parse(path.read_bytes(), Origin(field="messages"), settings, None)
        except PayloadError as exc:
            print(json.dumps({"file": path.name, "kind": "unreadable", "reason": exc.reason, "detail": str(exc)}))
            failed = True
            continue
        for kind, records in (("message", result.messages), ("history", result.history),
                              ("status", result.statuses), ("call", result.calls), ("error", result.errors)):
            for record in records:
                print(json.dumps({"file": path.name, "kind": kind,
                                  "record": json.loads(record.model_dump_json(exclude_none=True))}, ensure_ascii=False))
        for fld, reason in result.ignored:
            print(json.dumps({"file": path.name, "kind": "ignored", "field": fld, "reason": reason}))
        for problem in result.problems:
            failed = True
            print(json.dumps({"file": path.name, "kind": "problem", "reason": problem.reason, "where": problem.where,
                              "detail": problem.detail}))
    raise typer.Exit(1 if failed else 0)
