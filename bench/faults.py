"""Fault suite: real processes on a real broker, one line of figures per fault, 0 lost in every row.

    .venv/bin/python bench/faults.py [--messages 10000] [--only kill9,broker,clickhouse,notify,fuzz,signatures]

Starts its own single-node Kafka (scripts/kafka-local on free ports, a throwaway state folder) so it
can stop it, and a fresh receiver + worker per fault (own topics, own embedded ClickHouse):

  kill9       ≥ 10,000 messages posted; the worker is killed with SIGKILL mid-stream and started again
  broker      messages keep coming; the broker is stopped for 30 s and started again
  clickhouse  the worker's chdb folder is a small tmpfs filled to the last byte for 60 s (disk full);
              needs root and mount(8), otherwise the row says why it was skipped
  notify      the managers' webhook answers 503 for 20 s, then recovers
  fuzz        ≥ 10,000 signed payloads: random bytes, truncated JSON, wrong types, huge strings, deep
              nesting, wrong encodings; then good messages must still alert
  signatures  forged and missing signatures must all get 401

Conversation rows (scripted conversations of bench/conversation_load.py; the alerts must be those of one
in-order pass over the same scan records: 0 missing, 0 wrong, 0 duplicate records):

  backlog_order    messages up to 45 s late, posted by 4 threads with no worker; the worker starts on it
  late_edits       every edit and delete posted before its original
  restart_backlog  SIGTERM mid-stream, 20 s of backlog, a new worker (also counts scan records made twice)
  kill9_rates      at night (after-hours rates per business number), kill -9 at 40%
  ner_deaths       NER on, its child killed twice in a row three times; names in clear, restarts per death

Columns: messages in, scanned (scan records out), archived (rows in ClickHouse), alerts expected /
present / duplicate records, dead letters, seconds from the end of the fault until everything was out,
peak worker memory. "Lost" is messages in minus scanned (or archived when the archive is on).
NER is off here (the suite is about faults, not detection; see bench_pipeline for throughput).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from conversation_load import CONVERSATION_RULES, bodies, conversation_load, deliver_order, in_order_alerts
from harness import Broker, TopicCounter, rss_mb

from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack
from chatwatch.streams.ingest.whatsapp_webhook import sign

MX = {"phone_number_id": "106540352242922", "display": "5215550001111"}
RISKY = "Escríbeme a mi número personal y lo vemos"
CALM = ["Hola, ¿en qué te ayudo?", "Obrigado pela compra!", "Your order ships tomorrow", "Ok, perfecto",
        "Tem em azul?", "Gracias, saludos"]
T0 = 1_763_560_800


# --- the broker and the load ------------------------------------------------------------------

@dataclass
class Load:
    run: str
    bodies: list[bytes]
    ids: set[str]
    risky: set[str]


def make_load(n: int, per_body: int = 50, risky_every: int = 20) -> Load:
    """n messages, `per_body` to a webhook body (Meta batches too), every `risky_every`-th an
    off-channel invitation from the employee (one alert each)."""
    run = os.urandom(4).hex()
    ids, risky, bodies, items = set(), set(), [], []
    for i in range(n):
        wamid = f"wamid.{run}.{i}"
        outbound = i % risky_every == 0
        doc = envelopes.message(**MX, customer=f"52155{i % 500:08d}", wamid=wamid, timestamp=T0 + i,
                                text=RISKY if outbound else random.choice(CALM), outbound=outbound)
        ids.add(wamid)
        if outbound:
            risky.add(wamid)
        items.append(doc)
        if len(items) == per_body or i == n - 1:
            entry = [e for d in items for e in d["entry"]]
            bodies.append(envelopes.dumps({"object": "whatsapp_business_account", "entry": entry}))
            items = []
    return Load(run, bodies, ids, risky)


def post(stack: LocalStack, body: bytes, signature: str | None = "auto", patience_s: float = 300) -> int:
    """POST like Meta does: on 5xx or no answer, retry with backoff (Meta retries for hours)."""
    deadline, backoff = time.monotonic() + patience_s, 0.5
    while True:
        try:
            status = stack.post(body, signature=signature, timeout=30)[0]
        except OSError:
            status = 0
        if (status < 500 and status != 0) or time.monotonic() > deadline:
            return status
        time.sleep(backoff)
        backoff = min(backoff * 2, 5)


def post_all(stack: LocalStack, bodies: list[bytes], threads: int = 4) -> list[int]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda b: post(stack, b), bodies))


# --- what came out ----------------------------------------------------------------------------

def scan_id(value: bytes) -> str | None:
    return json.loads(value)["message"]["message_id"]


def alert_key(value: bytes) -> tuple[str, str]:
    a = json.loads(value)
    return a["alert_id"], a["message_id"]


def wait_for(counter: TopicCounter, want: set[str], timeout_s: float) -> float | None:
    """Seconds until every id in `want` was seen (None: timed out)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if want <= set(counter.items):
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def archived(stack: LocalStack, run: str) -> int:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CHATWATCH_")},
           "CHATWATCH_CLICKHOUSE_PATH": str(stack.clickhouse_path)}
    out = subprocess.run([sys.executable, "-m", "chatwatch.cli", "db", "query", "--format", "json",
                          f"SELECT count() AS n FROM chatwatch.messages FINAL WHERE message_id LIKE 'wamid.{run}.%'"],
                         env=env, capture_output=True, text=True, timeout=300)
    return int(json.loads(out.stdout)["result"][0]["n"]) if out.returncode == 0 else -1


@dataclass
class Row:
    fault: str
    messages: int = 0
    scanned: int = 0
    archived: int | None = None
    alerts_expected: int = 0
    alerts_present: int = 0
    alert_duplicates: int = 0
    dead_letters: int = 0
    recover_s: float | None = None
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        kept = self.archived if self.archived is not None else self.scanned
        return self.messages - kept

    def line(self) -> str:
        rec = f"{self.recover_s:.1f}" if self.recover_s is not None else "—"
        arch = str(self.archived) if self.archived is not None else "off"
        return (f"| {self.fault} | {self.messages} | {self.scanned} | {arch} | {self.alerts_expected}/"
                f"{self.alerts_present}/{self.alert_duplicates} | {self.dead_letters} | {self.lost} | {rec} | "
                f"{self.peak_rss_mb:.0f} | {'; '.join(self.notes)} |")


HEADER = ("| fault | messages in | scanned | archived | alerts exp/present/dup records | dead letters | lost | "
          "recover s | peak worker MB | notes |\n|---|---|---|---|---|---|---|---|---|---|")


class Watch:
    """Scan records, alerts and dead letters of one stack, followed while a fault runs."""

    def __init__(self, stack: LocalStack, bootstrap: str):
        self.scans = TopicCounter(bootstrap, stack.topic("scans"), scan_id)
        self.alerts = TopicCounter(bootstrap, stack.topic("alerts"), alert_key)
        self.dead = TopicCounter(bootstrap, stack.topic("deadletter"), lambda v: json.loads(v).get("reason"))

    def fill(self, row: Row, load: Load) -> None:
        row.scanned = len(set(self.scans.items) & load.ids)
        mine = [a for a in self.alerts.items if a[1] in load.risky]
        row.alerts_expected, row.alerts_present = len(load.risky), len({m for _, m in mine})
        row.alert_duplicates = len(mine) - len({a for a, _ in mine})
        row.dead_letters = len(self.dead.items)

    def scanned(self, load: Load) -> int:
        return len(set(self.scans.items) & load.ids)

    def stop(self) -> None:
        for c in (self.scans, self.alerts, self.dead):
            c.stop()


def new_stack(broker: Broker, work: Path, name: str, **env: str) -> LocalStack:
    return LocalStack(kafka_bootstrap=broker.bootstrap, log_dir=work / name,
                      extra_env={"CHATWATCH_PII_NER": "false", "CHATWATCH_RECORD_BATCH_WAIT_S": "0.5", **env})


def peak_sampler(stack: LocalStack, row: Row, stop: threading.Event) -> threading.Thread:
    def sample() -> None:
        while not stop.is_set():
            proc = stack.processes.get("worker")
            if proc is not None:
                row.peak_rss_mb = max(row.peak_rss_mb, rss_mb(proc.pid))
            time.sleep(0.5)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    return thread


@contextmanager
def observed(stack: LocalStack, broker: Broker, row: Row, watch_type: type[Watch] | None = None,
             start: Callable[[], None] | None = None) -> Iterator[Watch]:
    """Start the stack (`start`, default: receiver and worker), follow its topics and sample the worker's
    memory; stop all of it afterwards."""
    stop, watch = threading.Event(), None
    try:
        (start or stack.start)()
        watch = (watch_type or Watch)(stack, broker.bootstrap)
        peak_sampler(stack, row, stop)
        yield watch
    finally:
        stop.set()
        if watch is not None:
            watch.stop()
        stack.stop()


# --- the faults -------------------------------------------------------------------------------

def fault_kill9(broker: Broker, work: Path, n: int) -> Row:
    row, load = Row("kill -9 worker mid-stream"), make_load(n)
    row.messages = n
    stack = new_stack(broker, work, "kill9")
    with observed(stack, broker, row) as watch:
        post_all(stack, load.bodies)
        while watch.scanned(load) < n * 0.3:
            time.sleep(0.1)
        stack.signal("worker", signal.SIGKILL)
        stack.processes["worker"].wait(30)
        row.notes.append(f"killed at {watch.scanned(load)} scanned")
        stack.spawn("worker")
        row.recover_s = wait_for(watch.scans, load.ids, 600)
        time.sleep(3)
        watch.fill(row, load)
    row.archived = archived(stack, load.run)
    return row


def fault_broker(broker: Broker, work: Path, n: int) -> Row:
    row, load = Row("broker stopped 30 s"), make_load(n)
    row.messages = n
    stack = new_stack(broker, work, "broker")
    with observed(stack, broker, row) as watch:
        poster = threading.Thread(target=post_all, args=(stack, load.bodies, 2), daemon=True)
        poster.start()
        while watch.scanned(load) < n * 0.2:
            time.sleep(0.1)
        broker.run("stop")
        row.notes.append(f"stopped at {watch.scanned(load)} scanned")
        time.sleep(30)
        broker.run("start")
        restarted = time.monotonic()
        poster.join(900)
        took = wait_for(watch.scans, load.ids, 900)
        row.recover_s = None if took is None else time.monotonic() - restarted
        time.sleep(3)
        watch.fill(row, load)
        row.notes.append("worker and receiver alive" if all(p.poll() is None for p in stack.processes.values())
                         else "a process exited")
    row.archived = archived(stack, load.run)
    return row


def fault_clickhouse(broker: Broker, work: Path, n: int) -> Row:
    row, load = Row("ClickHouse disk full 60 s"), make_load(n)
    row.messages = n
    stack = new_stack(broker, work, "clickhouse", CHATWATCH_RECORD_BATCH_SIZE="2000")
    folder = stack.clickhouse_path
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        row.notes.append("skipped: cannot mount a tmpfs here (needs root): " + mounted.stderr.decode().strip()[:80])
        return row
    filler = folder / "filler"
    with observed(stack, broker, row) as watch:
        subprocess.run(f"dd if=/dev/zero of={filler} bs=1M count=1024 2>/dev/null", shell=True)
        post_all(stack, load.bodies)
        time.sleep(60)
        filler.unlink()
        freed = time.monotonic()
        wait_for(watch.scans, load.ids, 600)
        deadline = time.monotonic() + 600
        while rows_written(stack) < n and time.monotonic() < deadline:
            time.sleep(0.5)
        row.recover_s = time.monotonic() - freed
        watch.fill(row, load)
        row.notes.append(f"{int(backoff_episodes(stack))} backoff episode(s) logged")
    row.archived = archived(stack, load.run)
    subprocess.run(["umount", str(folder)], capture_output=True)
    return row


def metric_sum(stack: LocalStack, name: str) -> float:
    with urllib.request.urlopen(f"{stack.worker_url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def rows_written(stack: LocalStack) -> float:
    return metric_sum(stack, 'chatwatch_clickhouse_rows_written_total{table="messages"}')


def backoff_episodes(stack: LocalStack) -> float:
    return metric_sum(stack, "chatwatch_clickhouse_backoff_episodes_total{")


class FailingHook(BaseHTTPRequestHandler):
    fail_until = 0.0
    received: ClassVar[list[dict]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if time.monotonic() < FailingHook.fail_until:
            self.send_response(503)
        else:
            FailingHook.received.append(json.loads(body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def fault_notify(broker: Broker, work: Path, n: int) -> Row:
    n = min(n, 2000)
    row, load = Row("notification endpoint 503 for 20 s"), make_load(n, risky_every=10)
    row.messages = n
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = work / "notify.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({
        "receivers": [{"name": "siem", "channel": "webhook", "url": f"http://127.0.0.1:{server.server_address[1]}/h",
                       "max_attempts": 8, "timeout_s": 5}],
        "route": {"receivers": ["siem"], "group_by": ["rule_id", "business_number"], "group_wait_s": 1,
                  "group_interval_s": 1, "repeat_interval_s": 600}}))
    stack = new_stack(broker, work, "notify", CHATWATCH_NOTIFY_CONFIG=str(config), CHATWATCH_NOTIFY_TICK_S="0.2",
                      CHATWATCH_CLICKHOUSE_ENABLED="false")
    notify_dead = TopicCounter(broker.bootstrap, stack.topic("notify.deadletter"), lambda v: 1)

    def notified() -> tuple[int, int]:
        """(alerts counted in distinct notifications, distinct notifications): resent ones share an id."""
        unique = {p["id"]: p for p in FailingHook.received}
        return sum(p["count"] for p in unique.values()), len(unique)

    try:
        with observed(stack, broker, row) as watch:
            FailingHook.fail_until = time.monotonic() + 20
            post_all(stack, load.bodies)
            wait_for(watch.scans, load.ids, 600)
            ended = max(FailingHook.fail_until, time.monotonic())
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and notified()[0] < len(load.risky) and not notify_dead.items:
                time.sleep(0.5)
            time.sleep(5)
            row.recover_s = max(0.0, time.monotonic() - ended - 5)
            watch.fill(row, load)
            alerts, notifications = notified()
            row.notes.append(f"alerts notified {alerts}/{len(load.risky)} in {notifications} notification(s), "
                             f"{len(FailingHook.received) - notifications} resent, {len(notify_dead.items)} dead-lettered")
    finally:
        notify_dead.stop()
        server.shutdown()
    return row


def fuzzed(i: int, run: str) -> bytes:
    """One malformed payload of a family chosen by i."""
    rnd = random.Random(i)
    good = envelopes.message(**MX, customer="5215512345678", wamid=f"wamid.{run}.fz{i}", timestamp=T0, text="hola")
    raw = envelopes.dumps(good)
    family = i % 9
    if family == 0:
        return os.urandom(rnd.randint(1, 2000))
    if family == 1:
        return raw[: rnd.randint(1, len(raw) - 1)]
    if family == 2:  # wrong type in a random field of the message
        msg = good["entry"][0]["changes"][0]["value"]["messages"][0]
        key = rnd.choice(list(msg))
        msg[key] = rnd.choice([None, 12, [], {}, True, -1.5, "x" * 10])
        return envelopes.dumps(good)
    if family == 3:  # wrong types higher up
        path = rnd.choice(["entry", "changes", "value", "metadata", "object"])
        if path == "entry":
            good["entry"] = rnd.choice([{}, "x", 3, [None]])
        elif path == "changes":
            good["entry"][0]["changes"] = rnd.choice([{}, "x", [1, 2]])
        elif path == "value":
            good["entry"][0]["changes"][0]["value"] = rnd.choice([[], "x", None])
        elif path == "metadata":
            good["entry"][0]["changes"][0]["value"]["metadata"] = rnd.choice([[], 5, {"phone_number_id": 7}])
        else:
            good["object"] = rnd.choice([None, 1, "instagram"])
        return envelopes.dumps(good)
    if family == 4:  # huge strings
        good["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "á" * rnd.randint(10_000, 400_000)
        return envelopes.dumps(good)
    if family == 5:  # deep nesting
        depth = rnd.randint(200, 5000)
        return b'{"object":"whatsapp_business_account","entry":' + b"[" * depth + b"]" * depth + b"}"
    if family == 6:  # wrong encodings
        return raw.decode().encode(rnd.choice(["utf-16", "utf-32", "latin-1"])) if rnd.random() < 0.7 \
            else b"\xff\xfe" + raw
    if family == 7:  # timestamps and ids out of range
        msg = good["entry"][0]["changes"][0]["value"]["messages"][0]
        msg["timestamp"] = rnd.choice(["1" * 30, "-5", "NaN", "1e400", str(10**20)])
        return envelopes.dumps(good)
    return json.dumps(rnd.choice([[], "", 0, None, {"entry": []}, {"object": "whatsapp_business_account"}])).encode()


def fault_fuzz(broker: Broker, work: Path, n: int) -> Row:
    count = max(n, 10_000)
    row = Row(f"{count} fuzzed payloads")
    stack = new_stack(broker, work, "fuzz", CHATWATCH_CLICKHOUSE_ENABLED="false")
    run = os.urandom(4).hex()

    def raw_coordinates(topic: str, where) -> TopicCounter:
        """(partition, offset) of the raw record each record of `topic` came from."""
        def pick(value: bytes):
            partition, offset = where(json.loads(value))
            return (partition, offset) if offset is not None else None
        return TopicCounter(broker.bootstrap, stack.topic(topic), pick)

    dead_at = raw_coordinates("deadletter", lambda d: (d.get("source_partition"), d.get("source_offset")))
    out_at = [raw_coordinates(t, lambda r: (r["origin"]["raw_partition"], r["origin"]["raw_offset"]))
              for t in ("messages", "statuses")]
    try:
        with observed(stack, broker, row) as watch:
            bodies = [fuzzed(i, run) for i in range(count)]
            with ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(lambda b: post(stack, b, patience_s=30), bodies))
            classes: dict[str, int] = {}
            for s in statuses:
                key = "no answer" if s == 0 else f"{s // 100}xx"
                classes[key] = classes.get(key, 0) + 1
            later = make_load(100, per_body=10, risky_every=10)
            started = time.monotonic()
            post_all(stack, later.bodies)
            if wait_for(watch.scans, later.ids, 300) is not None:
                row.recover_s = time.monotonic() - started
            time.sleep(5)
            watch.fill(row, later)
            row.messages = len(later.ids)
            alive = all(p.poll() is None for p in stack.processes.values())
            dead, normalized = set(dead_at.items), {c for counter in out_at for c in counter.items}
            accepted = classes.get("2xx", 0)
            row.notes.append(f"of {accepted} accepted: {len(dead)} dead-lettered (with a reason), "
                             f"{len(normalized - dead) - len(later.bodies)} normalized (valid in spite of the fuzz), "
                             f"{accepted - (len(dead | normalized) - len(later.bodies))} with nothing to keep")
            row.notes.append(f"answers {dict(sorted(classes.items()))}; 5xx/no answer: "
                             f"{classes.get('5xx', 0) + classes.get('no answer', 0)}; worker "
                             f"{'alive' if alive else 'DEAD'}; then 100 good messages")
    finally:
        for counter in (dead_at, *out_at):
            counter.stop()
    return row


def fault_signatures(broker: Broker, work: Path, n: int) -> Row:
    row = Row("forged / missing signatures")
    stack = new_stack(broker, work, "signatures", CHATWATCH_CLICKHOUSE_ENABLED="false")
    stack.start()
    try:
        load = make_load(1000, per_body=1)
        forged = [stack.post(b, signature=sign(b, b"not-the-secret"))[0] for b in load.bodies[:500]]
        missing = [stack.post(b, signature=None)[0] for b in load.bodies[500:]]
        bad_hex = stack.post(load.bodies[0], signature="sha256=" + base64.b16encode(os.urandom(32)).decode().lower())[0]
        refused = sum(s == 401 for s in forged + missing + [bad_hex])
        row.notes.append(f"{refused}/{len(forged) + len(missing) + 1} answered 401")
        raw = TopicCounter(broker.bootstrap, stack.topic("raw"), lambda v: 1)
        time.sleep(3)
        row.notes.append(f"{len(raw.items)} reached Kafka")
        raw.stop()
    finally:
        stack.stop()
    return row


# --- conversation rules under disorder ---------------------------------------------------------
# Each row compares the conversation alerts the faulted run raised with one in-order pass over the
# same scan records (bench/conversation_load.py): "missing" and "wrong" must be 0, and so must the
# duplicate alert records. Alerts exp/present count conversation alerts only.

NIGHT = 1_763_604_000  # 2025-11-20 02:00 UTC, 23:00 in São Paulo: every employee message is after hours


class ConversationWatch(Watch):
    """Whole scan records (the reference replays them) and conversation alerts only."""

    def __init__(self, stack: LocalStack, bootstrap: str):
        self.scans = TopicCounter(bootstrap, stack.topic("scans"), lambda v: v)
        self.alerts = TopicCounter(bootstrap, stack.topic("alerts"), conversation_alert)
        self.dead = TopicCounter(bootstrap, stack.topic("deadletter"), lambda v: json.loads(v).get("reason"))

    def scanned_ids(self) -> set[str]:
        return {json.loads(v)["message"]["message_id"] for v in list(self.scans.items)}


def conversation_alert(value: bytes) -> tuple[str, str] | None:
    alert = json.loads(value)
    return (alert["rule_id"], alert["alert_id"]) if alert["rule_id"] in CONVERSATION_RULES else None


def settle(watch: ConversationWatch, ids: set[str], row: Row, timeout_s: float = 600) -> None:
    """Wait until every message was scanned and the conversation alerts stopped changing (held alerts go
    out once the partitions are quiet and the stages upstream are proved caught up: 90 s without a new one),
    then compare with the in-order pass."""
    started = time.monotonic()
    while not ids <= watch.scanned_ids() and time.monotonic() - started < timeout_s:
        time.sleep(0.5)
    row.recover_s = time.monotonic() - started
    want = in_order_alerts([v for v in list(watch.scans.items) if json.loads(v)["message"]["message_id"] in ids])
    quiet_since, seen = time.monotonic(), 0
    while time.monotonic() - quiet_since < 90 and time.monotonic() - started < timeout_s:
        if len(watch.alerts.items) != seen:
            seen, quiet_since = len(watch.alerts.items), time.monotonic()
        time.sleep(1)
    got = list(watch.alerts.items)
    scanned = [json.loads(v)["message"]["message_id"] for v in list(watch.scans.items)]
    row.messages, row.scanned = len(ids), len(set(scanned) & ids)
    row.alerts_expected, row.alerts_present = len(want), len(want & set(got))
    row.alert_duplicates = len(got) - len(set(got))
    row.dead_letters = len(watch.dead.items)
    row.notes.append(f"missing {by_rule(want - set(got))}, wrong {by_rule(set(got) - want)}")
    row.notes.append(f"scan records twice: {len(scanned) - len(set(scanned))}")


def by_rule(alerts: set[tuple[str, str]]) -> str:
    """"3 (privacy.notice_missing 2, after_hours.frequent 1)": what a count is made of."""
    counts = Counter(rule for rule, _ in alerts)
    return f"{len(alerts)}" + (f" ({', '.join(f'{r} {c}' for r, c in counts.most_common())})" if counts else "")


@contextmanager
def conversation_stack(broker: Broker, work: Path, name: str, row: Row, worker: bool = True,
                       **env: str) -> Iterator[tuple[LocalStack, ConversationWatch]]:
    stack = new_stack(broker, work, name, **env)

    def start() -> None:  # the receiver, and the worker unless the row starts it on a backlog
        stack.spawn("webhook")
        stack.wait_until(f"http://127.0.0.1:{stack.webhook_port}/ready", 150)
        if worker:
            stack.spawn("worker")
            stack.wait_until(f"{stack.worker_url}/ready", 150)

    with observed(stack, broker, row, ConversationWatch, start) as watch:
        yield stack, watch


def fault_backlog_order(broker: Broker, work: Path, n: int) -> Row:
    """Messages up to 45 s late, posted by 4 threads while no worker runs; the worker starts on the backlog."""
    row, run = Row("conversations: backlog of late deliveries"), os.urandom(4).hex()
    said = conversation_load(run, max(60, n // 50), T0)
    with conversation_stack(broker, work, "backlog-order", row, worker=False) as (stack, watch):
        post_all(stack, bodies(deliver_order(said, late_s=45)))
        stack.spawn("worker")
        settle(watch, {s.wamid for s in said}, row)
    return row


def fault_late_edits(broker: Broker, work: Path, n: int) -> Row:
    """Every edit and delete posted just before the message it edits or deletes; others up to 20 s late."""
    row, run = Row("conversations: edits and deletes before their originals"), os.urandom(4).hex()
    said = conversation_load(run, max(60, n // 50), T0, seed=8)
    order = deliver_order(said, late_s=20, edits_first=True)
    row.notes.append(f"{sum(1 for s in said if s.edits or s.revokes)} edits/deletes")
    with conversation_stack(broker, work, "late-edits", row) as (stack, watch):
        for body in bodies(order):
            post(stack, body)
        settle(watch, {s.wamid for s in said}, row)
    return row


def fault_restart_backlog(broker: Broker, work: Path, n: int) -> Row:
    """SIGTERM mid-stream; messages keep coming for 20 s with no worker; a new worker starts on the backlog."""
    row, run = Row("conversations: SIGTERM, restart on a backlog"), os.urandom(4).hex()
    said = conversation_load(run, max(60, n // 30), T0, seed=9)
    ids = {s.wamid for s in said}
    with conversation_stack(broker, work, "restart-backlog", row) as (stack, watch):
        poster = threading.Thread(target=lambda: [post(stack, b) for b in bodies(deliver_order(said, late_s=10))],
                                  daemon=True)
        poster.start()
        while len(watch.scanned_ids() & ids) < len(ids) * 0.3:
            time.sleep(0.1)
        stack.signal("worker", signal.SIGTERM)
        stack.processes["worker"].wait(60)
        row.notes.append(f"stopped at {len(watch.scanned_ids() & ids)} scanned")
        time.sleep(20)
        stack.spawn("worker")
        poster.join()
        settle(watch, ids, row)
    return row


def fault_kill9_rates(broker: Broker, work: Path, n: int) -> Row:
    """At night (every employee message counts for the after-hours rate per business number); kill -9 at 40%."""
    row, run = Row("conversations: kill -9 with after-hours rates"), os.urandom(4).hex()
    said = conversation_load(run, max(60, n // 40), NIGHT, business_numbers=6, seed=10)
    ids = {s.wamid for s in said}
    with conversation_stack(broker, work, "kill9-rates", row) as (stack, watch):
        poster = threading.Thread(target=lambda: post_all(stack, bodies(deliver_order(said, late_s=10)), 2),
                                  daemon=True)
        poster.start()
        while len(watch.scanned_ids() & ids) < len(ids) * 0.4:
            time.sleep(0.1)
        stack.signal("worker", signal.SIGKILL)
        stack.processes["worker"].wait(30)
        row.notes.append(f"killed at {len(watch.scanned_ids() & ids)} scanned")
        stack.spawn("worker")
        poster.join()
        settle(watch, ids, row)
        rate_alerts = sum(1 for a in set(watch.alerts.items) if a[0] == "after_hours.frequent")
        row.notes.append(f"{rate_alerts} after-hours rate alerts")
    return row


NAMES = ["Juan Carlos Pérez", "María Fernanda López", "Ana Beatriz Souza", "José Antonio Martínez"]


def ner_children(worker_pid: int) -> list[int]:
    """The worker's NER processes (multiprocessing spawn children)."""
    out = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"PPid:\t{worker_pid}\n" in (proc / "status").read_text() \
                    and b"spawn_main" in (proc / "cmdline").read_bytes():
                out.append(int(proc.name))
        except OSError:
            continue
    return out


def fault_ner_deaths(broker: Broker, work: Path, n: int) -> Row:
    """NER on; its child process is killed twice in quick succession, three times during the load. No
    name may reach the redacted archive, and each death must cost exactly one new child."""
    row, run = Row("conversations: NER child deaths"), os.urandom(4).hex()
    said = conversation_load(run, max(60, n // 50), T0, seed=12)
    rng = random.Random(3)
    for s in said:
        if not s.outbound and not s.edits and not s.revokes and rng.random() < 0.3:
            s.text = f"Soy {rng.choice(NAMES)}, {s.text}"
    ids = {s.wamid for s in said}
    deaths = 0
    with conversation_stack(broker, work, "ner-deaths", row, CHATWATCH_PII_NER="true",
                            CHATWATCH_ARCHIVE_TEXT="redacted") as (stack, watch):
        poster = threading.Thread(target=lambda: [post(stack, b) for b in bodies(deliver_order(said))],
                                  daemon=True)
        poster.start()
        for share in (0.2, 0.45, 0.7):
            while len(watch.scanned_ids() & ids) < len(ids) * share and poster.is_alive():
                time.sleep(0.1)
            killed: set[int] = set()
            for _ in range(2):  # the child, then the one started in its place as soon as it appears
                until = time.monotonic() + 20
                while not (alive := [p for p in ner_children(stack.processes["worker"].pid) if p not in killed]) \
                        and time.monotonic() < until:
                    time.sleep(0.05)
                for pid in alive[:1]:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                    deaths += 1
        poster.join()
        settle(watch, ids, row)
        restarts = metric_sum(stack, "chatwatch_ner_child_restarts_total")
        unavailable = metric_sum(stack, "chatwatch_ner_unavailable_total")
        in_clear = sum(1 for v in list(watch.scans.items) for name in NAMES if name.split()[0] in
                       (json.loads(v)["message"].get("text") or "") and json.loads(v)["text_mode"] == "redacted")
        row.notes.append(f"{deaths} children killed, {restarts:.0f} restarts, {unavailable:.0f} batches without NER, "
                         f"{in_clear} redacted records with a name in clear")
    return row


FAULTS = {"kill9": fault_kill9, "broker": fault_broker, "clickhouse": fault_clickhouse, "notify": fault_notify,
          "fuzz": fault_fuzz, "signatures": fault_signatures, "backlog_order": fault_backlog_order,
          "late_edits": fault_late_edits, "restart_backlog": fault_restart_backlog, "kill9_rates": fault_kill9_rates,
          "ner_deaths": fault_ner_deaths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--only", default=",".join(FAULTS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatwatch-faults-") as tmp:
        work = Path(tmp)
        broker = Broker(work / "kafka")
        broker.run("start")
        try:
            print(HEADER, flush=True)
            for name in args.only.split(","):
                print(FAULTS[name](broker, work, args.messages).line(), flush=True)
        finally:
            broker.run("stop")


if __name__ == "__main__":
    main()
