"""`chatwatch demo`: the whole pipeline on the local broker, with what came out printed."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from chatwatch.sinks.clickhouse.client import ChdbClient, ClickHouseError
from chatwatch.streams.demo import console_check
from chatwatch.streams.demo.scenario import BROKEN_PAYLOADS, demo_payloads
from chatwatch.streams.demo.stack import LocalStack, free_port


def run_demo(kafka_bootstrap: str, console: Console) -> int:
    payloads = demo_payloads(run_id=f"demo{int(time.time())}")
    expected = {(p.wamid, rule) for p in payloads for rule in p.expect_rules}
    log_dir = Path(tempfile.mkdtemp(prefix="chatwatch-demo-"))
    # The demo's messages carry a fixed, past clock. Deadlines follow message time while messages flow and
    # the wall clock only after a quiet spell: kept longer than the demo, the alerts are the same every run.
    # The worker serves the compliance console (it owns the embedded ClickHouse folder); the demo's
    # messages are synthetic, so the archive keeps raw text and the console can show a reveal.
    console_port = free_port()
    stack = LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=log_dir,
                       extra_env={"CHATWATCH_CONVERSATION_IDLE_GRACE_S": "600", "CHATWATCH_CONSOLE_IN_WORKER": "true",
                                  "CHATWATCH_CONSOLE_PORT": str(console_port), "CHATWATCH_ARCHIVE_TEXT": "raw",
                                  "CHATWATCH_PEOPLE_FILE": str(console_check.PEOPLE)})
    console_url = f"http://127.0.0.1:{console_port}"
    passwords = console_check.first_users(stack.clickhouse_path)
    console.print(f"[bold]chatwatch demo[/] — topics [cyan]{stack.topic_prefix}.*[/] on {kafka_bootstrap}; logs in {log_dir}")
    with console.status("starting worker and webhook receiver (waiting for readiness)…"):
        started = time.monotonic()
        stack.start()
    console.print(f"worker and webhook ready after {time.monotonic() - started:.1f}s")
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("posting signed webhook payloads", total=len(payloads) + len(BROKEN_PAYLOADS))
            for p in payloads:
                stack.post(p.body)
                progress.advance(task)
            for body, _ in BROKEN_PAYLOADS:
                stack.post(body)
                progress.advance(task)
        alerts = stack.read("alerts", len(expected), timeout_s=60, settle_s=3)
        dead = stack.read("deadletter", len(BROKEN_PAYLOADS), timeout_s=30, settle_s=1)
        in_console = console_check.wait_for_alerts(console_url, "admin", passwords["admin"], len(alerts))
        console.print(f"compliance console: [bold]{console_url}[/] — user [bold]admin[/] password "
                      f"[bold]{passwords['admin']}[/] (manager of sales-mx: gerente.mx / {passwords['gerente.mx']}); "
                      f"its queue lists {in_console} alerts")
        if sys.stdin.isatty():
            console.input("[bold]open the console now; press Enter to stop the demo[/] ")
    finally:
        with console.status("stopping worker and webhook receiver…"):
            stack.stop()

    table = Table(title=f"Alerts on {stack.topic_prefix}.alerts")
    for col in ("severity", "rule", "direction", "customer", "evidence", "alert id"):
        table.add_column(col, no_wrap=col != "evidence")
    for a in alerts:
        evidence = ", ".join(dict.fromkeys(e["term"] for e in a["evidence"]))
        table.add_row(a["severity"], a["rule_id"], a["direction"], a["customer_masked"], evidence, a["alert_id"][:8])
    console.print(table)
    reasons = ", ".join(sorted(d["reason"] for d in dead))
    console.print(f"messages posted: {sum(p.wamid is not None for p in payloads)}; status updates: "
                  f"{sum(p.wamid is None for p in payloads)}; malformed payloads: {len(BROKEN_PAYLOADS)}")
    got = {(a["message_id"], a["rule_id"]) for a in alerts}
    console.print(f"alerts: {len(alerts)} (expected {len(expected)}); dead letters: {len(dead)} ({reasons})")
    for wamid, rule in sorted(expected - got):
        console.print(f"[red]missing[/] {rule} on {wamid}")
    for wamid, rule in sorted(got - expected):
        console.print(f"[red]unexpected[/] {rule} on {wamid}")
    archived = archive_counts(stack)
    if archived:
        console.print("archived in ClickHouse (chdb, " + str(stack.clickhouse_path) + "): "
                      + ", ".join(f"{table} {n}" for table, n in archived.items()))
    console.print(f"to open the console again: CHATWATCH_CLICKHOUSE_PATH={stack.clickhouse_path} "
                  f"CHATWATCH_PEOPLE_FILE={console_check.PEOPLE} CHATWATCH_DATA_DIR={log_dir / 'worker-data'} "
                  f"CHATWATCH_ARCHIVE_TEXT=raw .venv/bin/chatwatch console")
    ok = (got == expected and len(alerts) == len(expected) and len(dead) == len(BROKEN_PAYLOADS)
          and in_console == len(alerts))
    console.print("[green]demo OK[/]" if ok else "[red]demo finished with unexpected counts[/]")
    return 0 if ok else 1


def archive_counts(stack: LocalStack) -> dict[str, int]:
    """Rows the worker stored (readable now that it released the embedded ClickHouse folder)."""
    if not stack.clickhouse_path.exists():
        return {}
    try:
        client = ChdbClient(stack.clickhouse_path, "chatwatch")
    except ClickHouseError:
        return {}
    try:
        return {t: int(client.query(f"SELECT count() AS n FROM chatwatch.{t} FINAL")[0]["n"])
                for t in ("messages", "alerts", "pii_findings")}
    except ClickHouseError:
        return {}
    finally:
        client.close()
