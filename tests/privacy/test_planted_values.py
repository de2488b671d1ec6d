"""Nothing raw leaves: sensitive values planted in real conversations are found in no output.

The catalogue (planted_values.yaml) holds secrets in free phrasing, cards, identifiers of every
supported country, phones as people write them, e-mails and credential URLs. Each line goes through
the real pipeline (signed webhook -> Kafka -> worker with every role, archive in embedded
ClickHouse, notifications to a real SMTP server and real HTTP receivers, the console served by the
worker). Then every output is searched for every value, as written and in its compact form
("4111111111111111" for "4111 1111 1111 1111"):

    every topic of the deployment but the two that carry the captured messages by design
    (`.raw`, `.messages`): alerts, scans (redacted mode), dead letters, notify, identities,
    table changelogs; the archive (every table); e-mails, Slack, Teams and webhook calls as the
    servers received them; console pages (queue, each case, audit, rule quality), each case
    bundle (every file in the zip), the audit CSV; the retro-scan report; the worker's and the
    receiver's logs; both /metrics pages.

As a control the same search must find every value where raw text belongs: the `.raw` topic, and
the archive when it is configured to keep raw text (ARCHIVE_TEXT=raw; then it and the scans topic
are the places the setting opens, and only they are left out of the search).
"""

from __future__ import annotations

import asyncio
import html
import http.cookiejar
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiosmtpd.controller import Controller

from chatwatch.streams.demo import console_check, envelopes
from chatwatch.streams.demo.stack import LocalStack, free_port

CATALOGUE = Path(__file__).with_name("planted_values.yaml")
NUMBERS = {
    "mx": {"phone_number_id": "106540352242922", "display": "5215550001111"},
    "br": {"phone_number_id": "277321005464405", "display": "551140040000"},
    "es": {"phone_number_id": "311009876543210", "display": "34910000000"},
}
RAW_BY_DESIGN = (".raw", ".messages")  # the captured messages themselves: the pipeline's input


@dataclass(frozen=True)
class Planted:
    value: str
    text: str
    lang: str
    sender: str
    number: str
    kind: str

    def forms(self) -> set[str]:
        """The value as written and compact (no spaces, dots, dashes, slashes, brackets)."""
        compact = re.sub(r"[\s.\-/()]", "", self.value)
        return {self.value} | ({compact} if len(compact) >= 6 else set())

    def found_in(self, text: str) -> bool:
        """A form standing on its own: "7391" inside a SHA-256 digest or a timestamp is not the PIN."""
        return any(re.search(rf"(?<![0-9A-Za-z]){re.escape(f)}(?![0-9A-Za-z])", text) for f in self.forms())


def catalogue() -> list[Planted]:
    rows = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    out = []
    for row in rows:
        assert "{value}" in row["text"], f"catalogue row without {{value}}: {row}"
        out.append(Planted(row["value"], row["text"].replace("{value}", row["value"]), row["lang"], row["from"],
                           row["number"], row["kind"]))
    return out


# --- real receivers -----------------------------------------------------------------------------

class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


class Capture(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Capture.received.append((self.path, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receivers():
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield smtp.port, inbox, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    smtp.stop()


@pytest.fixture(scope="module", params=["redacted", "raw"])
def planted_stack(request, kafka_bootstrap, tmp_path_factory, receivers):
    """The whole deployment, archiving text redacted (the default) or raw (then the archive and the
    scans topic may hold raw text, as configured; nothing else may)."""
    smtp_port, _, http_base = receivers
    folder = tmp_path_factory.mktemp("planted")
    route = {"group_by": ["rule_id"], "group_wait_s": 1, "group_interval_s": 2, "repeat_interval_s": 3600}
    (folder / "notify.yaml").write_text(json.dumps({
        "receivers": [
            {"name": "mail", "channel": "email", "to": ["compliance@example.com"], "language": "es",
             "rate_limit_per_hour": 1000,
             "email": {"host": "127.0.0.1", "port": smtp_port, "starttls": False, "sender": "cw@example.com"}},
            {"name": "slack", "channel": "slack", "url": f"{http_base}/slack", "rate_limit_per_hour": 1000},
            {"name": "teams", "channel": "teams", "url": f"{http_base}/teams", "language": "pt",
             "rate_limit_per_hour": 1000},
            {"name": "siem", "channel": "webhook", "url": f"{http_base}/hook", "secret_env": "CW_HOOK_SECRET",
             "rate_limit_per_hour": 1000}],
        "route": {"receivers": ["mail", "slack", "teams", "siem"], **route}}))
    console_port = free_port()
    stack = LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=folder / "logs", extra_env={
        "CHATWATCH_NOTIFY_CONFIG": str(folder / "notify.yaml"), "CW_HOOK_SECRET": "k3y",
        "CHATWATCH_NOTIFY_TICK_S": "0.2", "CHATWATCH_RECORD_BATCH_WAIT_S": "0.2",
        "CHATWATCH_CONSOLE_IN_WORKER": "true", "CHATWATCH_CONSOLE_PORT": str(console_port),
        "CHATWATCH_PEOPLE_FILE": str(console_check.PEOPLE), "CHATWATCH_ARCHIVE_TEXT": request.param})
    passwords = _first_users(stack)
    with stack:
        yield stack, f"http://127.0.0.1:{console_port}", passwords["admin"], request.param


# --- reading every output ---------------------------------------------------------------------------

async def _topic_dump(bootstrap: str, prefix: str) -> dict[str, bytes]:
    """Every record (key and value) of every topic of this deployment, by topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # topics() alone leaves partitions unknown
        names = sorted(t for t in cluster.topics() if t.startswith(prefix))
        out: dict[str, bytes] = {}
        for name in names:
            parts = [TopicPartition(name, p) for p in cluster.partitions_for_topic(name) or ()]
            if not parts:
                continue
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            chunks = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                positions = [await consumer.position(p) for p in parts]
                if all(at >= ends[p] for at, p in zip(positions, parts, strict=True)):
                    break
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    chunks += [(r.key or b"") + b"\n" + (r.value or b"") for r in records]
            out[name] = b"\n".join(chunks)
        return out
    finally:
        await consumer.stop()


def _texts(blob: bytes) -> str:
    """Bytes as text, with JSON string escapes undone (\\u00e9, \\/) so values written in JSON match."""
    text = blob.decode("utf-8", errors="replace")
    return text + "\n" + text.encode("latin-1", errors="ignore").decode("unicode_escape", errors="ignore")


def _email_text(raw: bytes) -> str:
    msg = message_from_bytes(raw, policy=default_policy)
    parts = [f"{k}: {v}" for k, v in msg.items()]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


class Browser:
    """A signed-in console session over HTTP (cookie + CSRF token), like a person's browser."""

    def __init__(self, url: str, username: str, password: str):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        form = self.get("/login")
        self.post("/login?next=/queue", {"username": username, "password": password}, token_from=form)

    def get(self, path: str) -> str:
        with self.opener.open(self.url + path, timeout=30) as resp:
            return resp.read().decode()

    def post(self, path: str, fields: dict, token_from: str) -> bytes:
        token = re.search(r'name="csrf_token" value="([^"]+)"', token_from).group(1)
        body = urllib.parse.urlencode({**fields, "csrf_token": token}).encode()
        with self.opener.open(urllib.request.Request(self.url + path, data=body), timeout=60) as resp:
            return resp.read()


def _archive_dump(stack: LocalStack) -> str:
    """Every row of every table of the embedded archive (read in a child: chdb owns one folder per process)."""
    script = ("import json,sys\nfrom pathlib import Path\nfrom chatwatch.sinks.clickhouse.client import ChdbClient\n"
              "c = ChdbClient(Path(sys.argv[1]), 'chatwatch')\n"
              "for t in c.query(\"SELECT name FROM system.tables WHERE database = 'chatwatch'\"):\n"
              "    for row in c.query(f\"SELECT * FROM chatwatch.`{t['name']}`\"):\n"
              "        print(t['name'], json.dumps(row, default=str, ensure_ascii=False))\n")
    out = subprocess.run([sys.executable, "-c", script, str(stack.clickhouse_path)], capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _first_users(stack: LocalStack) -> dict[str, str]:
    """The console's first users, made in a child: this test process may already hold another chdb folder."""
    script = ("import json,sys\nfrom pathlib import Path\nfrom chatwatch.streams.demo import console_check\n"
              "print(json.dumps(console_check.first_users(Path(sys.argv[1]))))\n")
    out = subprocess.run([sys.executable, "-c", script, str(stack.clickhouse_path)], capture_output=True, text=True,
                         timeout=180)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cli(stack: LocalStack, *args: str) -> str:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CHATWATCH_")},
           "CHATWATCH_CLICKHOUSE_PATH": str(stack.clickhouse_path), "CHATWATCH_DATA_DIR": str(stack.log_dir / "cli")}
    out = subprocess.run([sys.executable, "-m", "chatwatch.cli", *args], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


def _wait(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


# --- the suite ------------------------------------------------------------------------------------

def test_planted_values_reach_no_output(planted_stack, receivers, capsys):
    stack, console_url, admin_password, archive_text = planted_stack
    _, inbox, _ = receivers
    inbox.messages.clear()
    Capture.received.clear()
    planted = catalogue()
    run = uuid.uuid4().hex[:8]
    customers = {"mx": "5213312340000", "br": "5521912340000", "es": "34699000111"}
    start = int(time.time()) - 10 * len(planted)
    wamids = []
    for i, p in enumerate(planted):
        wamid = f"wamid.planted.{run}.{i}"
        wamids.append(wamid)
        body = envelopes.dumps(envelopes.message(**NUMBERS[p.number], customer=customers[p.number], wamid=wamid,
                                                 timestamp=start + 10 * i, text=p.text,
                                                 outbound=p.sender == "employee"))
        assert stack.post(body)[0] == 200

    # Everything has flowed: each message scanned, the alerts archived and in the console, notified.
    ids = set(wamids)
    scans = stack.read("scans", len(ids), 120, where=lambda r: r["message"]["message_id"] in ids)
    assert len({s["message"]["message_id"] for s in scans}) == len(ids)
    alerts = stack.read("alerts", 1, 60, where=lambda a: a["message_id"] in ids, settle_s=3)
    alert_ids = sorted({a["alert_id"] for a in alerts})
    assert len(alert_ids) >= 10, "the catalogue should fire rules on many lines"
    assert console_check.wait_for_alerts(console_url, "admin", admin_password, len(alert_ids), 90) >= len(alert_ids)
    channels = ("/slack", "/teams", "/hook")
    _wait(lambda: inbox.messages and all(any(p == c for p, _ in Capture.received) for c in channels), 90,
          "a notification on every channel")
    time.sleep(4)  # later groups (group_interval 2 s) land too

    outputs: dict[str, str] = {}
    outputs["notification e-mails"] = "\n".join(_email_text(e.content) for e in inbox.messages)
    for channel in channels:
        outputs[f"notifications {channel[1:]}"] = _texts(b"\n".join(b for p, b in Capture.received if p == channel))

    browser = Browser(console_url, "admin", admin_password)
    pages, bundles = [browser.get("/queue?per_page=100"), browser.get("/quality")], []
    for alert_id in alert_ids:
        page = browser.get(f"/cases/{alert_id}")
        pages.append(page)
        archive = zipfile.ZipFile(io.BytesIO(browser.post(f"/cases/{alert_id}/export", {}, token_from=page)))
        bundles += [f"{name}\n{archive.read(name).decode('utf-8', errors='replace')}" for name in archive.namelist()]
    audit_page = browser.get("/audit")
    pages.append(audit_page)
    outputs["console pages"] = "\n".join(html.unescape(p) for p in pages)
    outputs["case bundles"] = "\n".join(html.unescape(b) for b in bundles)
    outputs["audit CSV"] = browser.post("/audit/export", {}, token_from=audit_page).decode("utf-8-sig")
    outputs["metrics"] = "\n".join(urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
                                   for url in (stack.worker_url, f"http://127.0.0.1:{stack.webhook_port}"))

    stack.stop()  # releases the embedded archive; flushes the logs
    topics = asyncio.run(_topic_dump(stack.kafka_bootstrap, stack.topic_prefix))
    raw_topics = {name: blob for name, blob in topics.items() if name.endswith(RAW_BY_DESIGN)}
    for name, blob in topics.items():
        if name not in raw_topics:
            outputs[f"topic {name.removeprefix(stack.topic_prefix)}"] = _texts(blob)
    allowed_raw = {"archive": _archive_dump(stack), "topic .scans": outputs.pop("topic .scans")}
    if archive_text == "redacted":
        outputs.update(allowed_raw)
    outputs["retro-scan report"] = _cli(stack, "scan", "--since", "2d", "--jobs", "1")
    outputs["logs"] = "\n".join(p.read_text(errors="replace") for p in sorted(stack.log_dir.glob("*.log")))

    # The control: the search finds every value where raw text is kept by design.
    assert f"{stack.topic_prefix}.raw" in raw_topics, sorted(topics)
    raw = _texts(raw_topics[f"{stack.topic_prefix}.raw"])
    assert [p.value for p in planted if not p.found_in(raw)] == []
    if archive_text == "raw":  # the control for the places the setting opens
        assert [p.value for p in planted if not p.found_in(allowed_raw["archive"])] == []
    for name in ("notification e-mails", "notifications slack", "console pages", "case bundles", "topic .alerts"):
        assert outputs[name].strip(), f"{name}: nothing to search (the suite would pass vacuously)"

    found = [(p, name) for p in planted for name, text in outputs.items() if p.found_in(text)]
    with capsys.disabled():
        print(f"\nplanted values (ARCHIVE_TEXT={archive_text}): {len(planted)} values × {len(outputs)} outputs = {len(planted) * len(outputs)} "
              f"checks; found {len(found)} time(s)")
        print("  outputs searched: " + ", ".join(f"{name} ({len(text):,} chars)" for name, text in outputs.items()))
        for p, name in found:
            print(f"  {p.kind:16} {p.value!r:40} in {name}   ({p.lang}, {p.sender}: {p.text!r})")
    assert not found, f"{len(found)} planted value(s) found in outputs; see the list above"
