"""`chatwatch db migrate | query`, `report`, `hold`, `erase`, `scan` (retro-scan): the ClickHouse archive for
operators and compliance."""

from __future__ import annotations

import getpass
import json
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from chatwatch import csv_export
from chatwatch.cli.capture import load_exports
from chatwatch.cli.root import cli, console, err, load_settings
from chatwatch.console.quality import WINDOWS, rule_quality
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.rules import SHIPPED_PACKS, RulePackError
from chatwatch.rules.loader import load_rules_dir
from chatwatch.sinks.clickhouse import queries
from chatwatch.sinks.clickhouse.client import ClickHouseError, ClickHouseTarget, Client
from chatwatch.sinks.clickhouse.ddl import Renderer
from chatwatch.sinks.clickhouse.migrate import migrate
from chatwatch.sinks.clickhouse.privacy import erase_customer, set_hold
from chatwatch.sinks.clickhouse.retro import alert_rows_of, archived, retro_scan, rows_of_messages
from chatwatch.sinks.clickhouse.rows import utc
from chatwatch.streams.ingest.chat_export import ImportOptions

db_cli = typer.Typer(no_args_is_help=True, help="ClickHouse archive: migrations and ad-hoc queries.")
cli.add_typer(db_cli, name="db")
FORMAT = typer.Option("table", "--format", "-f", help="table, csv or json")


def _client() -> Client:
    try:
        return ClickHouseTarget.from_settings(load_settings()).connect()
    except ClickHouseError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


def _renderer() -> Renderer:
    s = load_settings()
    return Renderer(s.clickhouse_database, s.clickhouse_cluster, s.retention_days)


def rule_quality_rows(client: Client, now: datetime) -> list[dict]:
    """Rule quality flattened for a table: rates as percentages, top reasons as text."""
    rows = []
    for r in rule_quality(client, now):
        row = {k: v for k, v in r.items() if k != "top_reasons" and not k.startswith("dismissal_rate")}
        for d in WINDOWS:
            rate = r[f"dismissal_rate_{d}d"]
            row[f"dismissal_rate_{d}d"] = "" if rate is None else f"{rate * 100:.0f}%"
        row["top_reasons"] = ", ".join(f"{reason} ({n})" for reason, n in r["top_reasons"])
        rows.append(row)
    return rows


def parse_since(value: str, now: datetime) -> datetime:
    """'7d', '12h', '30m' or an ISO date/time."""
    m = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now - timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: n})
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def emit(sections: dict[str, list[dict]], fmt: str) -> None:
    if fmt == "json":
        console.print_json(json.dumps(sections, default=str))
        return
    for i, (title, rows) in enumerate(sections.items()):
        if fmt == "csv":  # one BOM for the whole output (`> report.csv`), spreadsheet-safe cells
            body = csv_export.dumps(rows, list(rows[0]), bom=False) if rows else ""
            typer.echo(f"{csv_export.BOM if i == 0 else ''}# {title}\n{body}")
            continue
        table = Table(title=title.replace("_", " "))
        for col in (rows[0] if rows else {"(no rows)": ""}):
            table.add_column(col)
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
        console.print(table)


@db_cli.command("migrate")
def migrate_cmd() -> None:
    """Apply pending migrations (idempotent; the worker also does it at start)."""
    client = _client()
    applied = migrate(client, _renderer())
    console.print(f"applied: {applied}" if applied else "up to date")
    client.close()


@db_cli.command("query")
def query_cmd(sql: str = typer.Argument(..., help="SQL; table names need the database prefix."), fmt: str = FORMAT) -> None:
    """Run one SQL statement and print its rows."""
    client = _client()
    try:
        emit({"result": client.query(sql)}, fmt)
    except ClickHouseError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    finally:
        client.close()


@cli.command("report")
def report_cmd(
    since: str = typer.Option("7d", help="7d, 24h, 90m or an ISO date."),
    until: str | None = typer.Option(None, help="End (ISO); default now."),
    team: str | None = typer.Option(None, help="Only this team."),
    unanswered_minutes: int = typer.Option(30, help="A customer message without a reply after this is unanswered."),
    now: str | None = typer.Option(None, help="Pretend it is this time (ISO) — for reproducible reports."),
    fmt: str = FORMAT,
) -> None:
    """Alerts by rule, severity, employee and day; response times; after-hours and unanswered; PII types; rule
    quality (alerts, violations, dismissals and dismissal rate per rule over 7/30/90 days, top dismissal reasons)."""
    current = datetime.fromisoformat(now) if now else datetime.now(UTC)
    current = current if current.tzinfo else current.replace(tzinfo=UTC)
    end = parse_since(until, current) if until else current
    client = _client()
    try:
        sections = queries.report(client, parse_since(since, current), end, current, team, unanswered_minutes)
        sections["rule_quality"] = rule_quality_rows(client, current)
        emit(sections, fmt)
    finally:
        client.close()


@cli.command("hold")
def hold_cmd(
    conversation: str | None = typer.Option(None, help="Conversation key (cv_…)."),
    customer: str | None = typer.Option(None, help="Customer WhatsApp number (digits)."),
    reason: str = typer.Option(..., help="Why (case number, litigation…)."),
    actor: str = typer.Option(getpass.getuser(), help="Who asks (recorded in the audit log)."),
    release: bool = typer.Option(False, "--release", help="Lift the hold instead."),
) -> None:
    """Place (or release) a legal hold: exempt from retention and erasure."""
    if (conversation is None) == (customer is None):
        raise typer.BadParameter("give exactly one of --conversation or --customer")
    client = _client()
    try:
        scope, key = ("conversation", conversation) if conversation else ("customer", customer)
        marked = set_hold(client, scope, key, reason, actor, held=not release)
        console.print(f"{'released' if release else 'held'} {scope}; rows marked: {marked or 'none yet'}")
    finally:
        client.close()


@cli.command("erase")
def erase_cmd(
    customer: str = typer.Option(..., help="Customer WhatsApp number (digits, as WhatsApp sends it)."),
    actor: str = typer.Option(getpass.getuser(), help="Who asks (recorded in the audit log)."),
    reason: str = typer.Option("data subject request", help="Ticket or legal basis."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Erase a data subject's rows from every table; refuses conversations under legal hold."""
    if not yes and not typer.confirm(f"Erase every stored row of customer {customer}?"):
        raise typer.Exit(1)
    client = _client()
    try:
        report = erase_customer(client, customer, actor, reason)
    finally:
        client.close()
    console.print(f"customer {report.customer_masked}: {len(report.conversations)} conversation(s) erased")
    for table, n in report.rows_deleted.items():
        console.print(f"  {table}: {n} row(s) deleted")
    if report.refused_held:
        console.print(f"[yellow]refused: {len(report.refused_held)} conversation(s) under legal hold:[/] "
                      + ", ".join(report.refused_held))
    if not report.conversations and not report.refused_held:
        console.print("nothing stored for this customer")


@cli.command("scan")
def retro_scan_cmd(
    packs: Path | None = typer.Option(None, "--packs", help="Rule pack folder to try (default: CHATWATCH_RULES_DIR, "
                                                             "else the shipped packs)."),
    since: str = typer.Option("90d", help="90d, 24h or an ISO date."),
    until: str | None = typer.Option(None, help="End (ISO or 7d ago); default now."),
    team: str | None = typer.Option(None, help="Only this team."),
    exports: list[Path] = typer.Option([], "--export", exists=True, dir_okay=False,
                                       help="Scan these chat exports instead of the archive (with --employee, --number)."),
    employee: str | None = typer.Option(None, help="For --export: the employee's name or number."),
    number: str | None = typer.Option(None, help="For --export: the business number."),
    tz: str | None = typer.Option(None, help="For --export: the phone's time zone (default: the business "
                                             "number's, else UTC)."),
    write_alerts: bool = typer.Option(False, "--write-alerts", help="Store the alerts in the archive, marked "
                                                                    "historical and tagged retro (never notified)."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Processes that run the rules (0: one per core from "
                                                     "200,000 messages on; starting them costs ~1 s)."),
    fmt: str = FORMAT,
) -> None:
    """Retro-scan: what these rule packs would have flagged over the archive (or chat exports) — hits and
    conversations per rule, a few redacted examples — before the packs go live. With embedded ClickHouse,
    run it where the archive's folder is and the worker is stopped (one process owns the folder)."""
    settings = load_settings()
    folder = packs or settings.rules_dir or SHIPPED_PACKS
    try:
        ruleset = load_rules_dir(folder)
    except RulePackError as exc:
        err.print(f"[red]rule packs are invalid:[/]\n{exc}")
        raise typer.Exit(2) from None
    detector = PiiDetector(PiiConfig(ner=False))
    now = datetime.now(UTC)
    start, end = parse_since(since, now), parse_since(until, now) if until else now
    client = None
    if exports:
        if not (employee and number):
            err.print("[red]--export needs --employee and --number[/]")
            raise typer.Exit(2)
        options = ImportOptions(employee=employee, number=number, tz=tz)
        messages = [m for _, batch in load_exports(exports, options) for m in batch]
        pages, total = rows_of_messages(messages, detector), len(messages)
    else:
        client = _client()
        total = int(client.query(f"SELECT count() AS n FROM {client.database}.messages WHERE timestamp >= "
                                 f"'{utc(start)}' AND timestamp < '{utc(end)}'")[0]["n"])
        pages = archived(client, start, end, team)
    jobs = jobs or (os.cpu_count() or 1 if total >= 200_000 else 1)
    began = time.perf_counter()
    try:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("scanning", total=total)
            report = retro_scan(pages, ruleset, detector, keep_hits=write_alerts,
                                progress=lambda n: bar.advance(task, n), jobs=jobs, packs=(folder,))
        seconds = time.perf_counter() - began
        if write_alerts and client is not None:
            written = client.insert_json("alerts", alert_rows_of(report, now))
            err.print(f"{written} alert(s) stored, marked historical and tagged retro")
    finally:
        if client is not None:
            client.close()
    err.print(f"scanned {report.scanned:,} messages in {seconds:.2f} s "
              f"({report.scanned / seconds if seconds else 0:,.0f} msg/s) with {len(ruleset.rules())} rules, "
              f"{jobs} process(es)")
    emit({"retro_scan_by_rule": report.table(), "examples": report.examples()}, fmt)
