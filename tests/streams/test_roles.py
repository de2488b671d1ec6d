"""Roles on the real broker: scan workers, one archive and one notify process apart, a scan worker
killed with -9 mid-stream, and what a SIGTERM leaves behind (nothing: batches are flushed)."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaProducer

from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.rules import SHIPPED_PACKS
from chatwatch.settings import Settings
from chatwatch.streams.active_rules import ActiveRules
from chatwatch.streams.agents import normalize, scan
from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack, free_port
from chatwatch.streams.topics import TopicNames, ensure_topics
from tests.streams.test_archive import chatwatch, metric

WED = 1_763_560_800


def archived(stack: LocalStack, sql: str) -> list[dict]:
    """Rows from the stack's embedded ClickHouse (once the process that owns the folder stopped)."""
    return json.loads(chatwatch(stack, "db", "query", "--format", "json", sql))["result"]


def test_sigterm_writes_the_pending_archive_batch(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    """An archive batch that waits to fill (10 s here) is written when the worker is told to stop."""
    run = uuid.uuid4().hex[:6]
    stack = LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=tmp_path_factory.mktemp("sigterm"),
                       extra_env={"CHATWATCH_RECORD_BATCH_WAIT_S": "10", "CHATWATCH_PII_NER": "false"})
    with stack:
        for i in range(5):
            doc = envelopes.message(phone_number_id="277321005464405", display="551140040000",
                                    customer=f"55119876{i:05d}", wamid=f"wamid.{run}.{i}", timestamp=WED + i,
                                    text="Bom dia, tudo bem?")
            assert stack.post(envelopes.dumps(doc))[0] == 200
        deadline = time.monotonic() + 60
        while metric(stack, "chatwatch_archive_pending_records") < 5:  # taken by the archive agent, not written
            assert time.monotonic() < deadline, "the archive agent did not take the records"
            time.sleep(0.2)
        started = time.monotonic()
        stack.signal("worker", signal.SIGTERM)
        assert stack.processes["worker"].wait(60) == 0
        stopped_in = time.monotonic() - started
    rows = archived(stack, f"SELECT message_id FROM chatwatch.messages WHERE message_id LIKE 'wamid.{run}.%'")
    assert len(rows) == 5
    assert stopped_in < 10, f"the stop waited out the batch ({stopped_in:.1f}s) instead of flushing it"


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self):
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def expected_alerts(bodies: list[bytes], topics: TopicNames) -> set[str]:
    """What one process running the same code and packs makes of the bodies: the alert ids to find."""
    scanner = ActiveRules(SHIPPED_PACKS).scanner
    options = scan.ScanOptions(pii=PiiDetector(PiiConfig(ner=False)))
    ids = set()
    for body in bodies:
        for out in normalize.process_raw(body, topics):
            if out.topic == topics.messages:
                for alert in scan.process_message(out.value, scanner, topics, options=options):
                    if alert.topic == topics.alerts:
                        ids.add(json.loads(alert.value)["alert_id"])
    return ids


def produce(bootstrap: str, topic: str, bodies: list[bytes], rate: float) -> None:
    async def main() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            started = time.monotonic()
            for i, body in enumerate(bodies):
                await producer.send(topic, body, key=str(i).encode())
                await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(main())


def test_two_scan_workers_one_killed_one_archive_one_notify(kafka_bootstrap: str,
                                                            tmp_path_factory: pytest.TempPathFactory):
    """normalize+scan x2, archive, notify: four processes, three consumer groups. One scan worker is
    killed with -9 mid-stream: its partitions move to the other, every message is archived exactly once
    (FINAL), every expected alert is on the topic and in the archive, and no alert is notified twice."""
    folder = tmp_path_factory.mktemp("roles")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (folder / "notify.yaml").write_text(json.dumps({
        "receivers": [{"name": "siem", "channel": "webhook", "url": f"http://127.0.0.1:{server.server_address[1]}/"}],
        "route": {"receivers": ["siem"], "group_by": ["rule_id", "business_number"], "group_wait_s": 0.5,
                  "group_interval_s": 0.5, "repeat_interval_s": 3600}}))
    stack = LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=folder / "logs", partitions=4,
                       extra_env={"CHATWATCH_PII_NER": "false", "CHATWATCH_NOTIFY_CONFIG": str(folder / "notify.yaml"),
                                  "CHATWATCH_NOTIFY_TICK_S": "0.2", "CHATWATCH_RECORD_BATCH_WAIT_S": "0.5"})
    run = uuid.uuid4().hex[:6]
    rnd = random.Random(run)
    texts = ["Bom dia, tudo bem?", "Hola, ¿tienen envío a Monterrey?", "Gracias, quedo atento", "Obrigado!",
             "Me chama no privado, meu zap pessoal", "Escríbeme a mi número personal", "Meu CPF é 529.982.247-25"]
    bodies = [envelopes.dumps(envelopes.message(
        phone_number_id="277321005464405", display="551140040000", customer=f"5511{rnd.randint(0, 99_999):09d}",
        wamid=f"wamid.{run}.{i}", timestamp=WED + i, text=rnd.choice(texts), outbound=rnd.random() < 0.3))
        for i in range(1500)]
    topics = TopicNames.from_settings(Settings(topic_prefix=stack.topic_prefix))
    expected = expected_alerts(bodies, topics)
    assert len(expected) > 100
    # no process runs conversation rules here: the year-old timestamps would make them fire at once,
    # and this test follows the message rules' alerts (tests/streams/test_conversation_rules.py has those)
    roles = {"scan-a": "normalize,scan", "scan-b": "normalize,scan", "archive": "archive", "notify": "notify"}
    ports = {name: free_port() for name in roles}
    try:
        asyncio.run(ensure_topics(Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=stack.topic_prefix,
                                           topic_partitions=4)))
        for name, role in roles.items():
            stack.spawn(name, "worker", "--roles", role, env={"CHATWATCH_WORKER_PORT": str(ports[name])})
        for name in roles:
            stack.wait_until(f"http://127.0.0.1:{ports[name]}/ready", 150)
        producing = threading.Thread(target=produce, args=(kafka_bootstrap, topics.raw, bodies, 250))
        producing.start()
        time.sleep(2.5)
        stack.signal("scan-a", signal.SIGKILL)  # mid-stream: ~600 of 1,500 sent
        stack.processes["scan-a"].wait(10)
        producing.join()

        alert_ids: set[str] = set()

        def first_time(alert: dict) -> bool:  # the kill makes some alerts twice on the topic: count ids
            new = alert["alert_id"] not in alert_ids
            alert_ids.add(alert["alert_id"])
            return new

        stack.read("alerts", len(expected), 120, where=first_time, settle_s=2)
        assert alert_ids == expected
        deadline = time.monotonic() + 60
        while sum(n["count"] for n in Hook.received) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # a duplicate would come within the group interval
        stack.signal("archive", signal.SIGTERM)
        assert stack.processes["archive"].wait(60) == 0
    finally:
        stack.stop()
        server.shutdown()
        server.server_close()
    shown = [a["alert_id"] for n in Hook.received for a in n["alerts"]]
    assert sum(n["count"] for n in Hook.received) == len(expected), "an alert notified twice, or not at all"
    assert len(shown) == len(set(shown)) and set(shown) <= expected
    once = archived(stack, f"SELECT count() AS n, uniqExact(message_id) AS ids FROM chatwatch.messages FINAL "
                           f"WHERE message_id LIKE 'wamid.{run}.%'")
    assert once == [{"n": 1500, "ids": 1500}]
    stored = archived(stack, f"SELECT DISTINCT alert_id FROM chatwatch.alerts FINAL WHERE message_id LIKE 'wamid.{run}.%'")
    assert {r["alert_id"] for r in stored} == expected


def test_sigterm_on_a_backlog_reads_nothing_twice(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    """A worker stopped with SIGTERM in the middle of a raw backlog, then a new one: every message is
    normalized once. (On 2f415e9, 225-241 of 300 backlog records were normalized twice in 3 of 4 runs;
    since the stages hold their events until their outputs are acknowledged, 0 of 20,000 here.)"""
    run = uuid.uuid4().hex[:6]
    stack = LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=tmp_path_factory.mktemp("sigterm-backlog"),
                       extra_env={"CHATWATCH_PII_NER": "false", "CHATWATCH_CLICKHOUSE_ENABLED": "false"})
    topics = TopicNames.from_settings(Settings(topic_prefix=stack.topic_prefix))
    bodies = [envelopes.dumps(envelopes.message(
        phone_number_id="277321005464405", display="551140040000", customer=f"55119{i % 300:08d}",
        wamid=f"wamid.{run}.{i}", timestamp=WED + i, text="Bom dia, tudo bem?")) for i in range(20_000)]
    mine = lambda m: m["message_id"].startswith(f"wamid.{run}.")
    try:
        asyncio.run(ensure_topics(Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=stack.topic_prefix,
                                           topic_partitions=stack.partitions)))
        stack.spawn("webhook")  # meanwhile the new topics' leaders settle (producing at once met
        stack.wait_until(f"http://127.0.0.1:{stack.webhook_port}/ready", 150)  # NotLeader retries)
        produce(kafka_bootstrap, topics.raw, bodies, rate=1_000_000)  # the backlog, before any worker
        stack.spawn("worker")
        stack.wait_until(f"{stack.worker_url}/ready", 150)
        stack.read("messages", 600, 120, where=mine)
        stack.signal("worker", signal.SIGTERM)
        assert stack.processes["worker"].wait(60) == 0
        before = len(stack.read("messages", 20_000, 5, where=mine))
        assert before < 20_000, "the backlog was through before the stop: nothing was in flight"
        stack.spawn("worker")
        stack.wait_until(f"{stack.worker_url}/ready", 150)
        normalized = stack.read("messages", 20_000, 300, where=mine, settle_s=3)
    finally:
        stack.stop()
    ids = [m["message_id"] for m in normalized]
    assert len(set(ids)) == 20_000
    assert len(ids) - len(set(ids)) == 0, f"{len(ids) - len(set(ids))} messages normalized twice"
