"""Pipeline -> ClickHouse with the real worker: rows land, replays do not double-count, the text
is stored redacted, and the CLI reads the archive (chdb: once the worker released the folder)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack

WED = 1_763_560_800


@pytest.fixture(scope="module")
def archive_stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    stack = LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=tmp_path_factory.mktemp("archive"),
                       extra_env={"CHATWATCH_RECORD_BATCH_WAIT_S": "0.2"})
    with stack:
        yield stack


def metric(stack: LocalStack, series: str) -> float:
    with urllib.request.urlopen(f"{stack.worker_url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    m = re.search(rf"^{re.escape(series)} (\S+)", text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def rows_written(stack: LocalStack, table: str) -> float:
    return metric(stack, f'chatwatch_clickhouse_rows_written_total{{table="{table}"}}')


def chatwatch(stack: LocalStack, *args: str) -> str:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CHATWATCH_")},
           "CHATWATCH_CLICKHOUSE_PATH": str(stack.clickhouse_path)}
    out = subprocess.run([sys.executable, "-m", "chatwatch.cli", *args], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_pipeline_archive_replay_and_report(archive_stack: LocalStack):
    run = uuid.uuid4().hex[:6]
    conv = [
        envelopes.message(phone_number_id="277321005464405", display="551140040000", customer="5511987654321",
                          wamid=f"wamid.{run}.1", timestamp=WED, text="Oi, meu CPF é 529.982.247-25"),
        envelopes.message(phone_number_id="277321005464405", display="551140040000", customer="5511987654321",
                          wamid=f"wamid.{run}.2", timestamp=WED + 90, text="Me chama no privado", outbound=True),
        envelopes.message(phone_number_id="277321005464405", display="551140040000", customer="5511987654321",
                          wamid=f"wamid.{run}.3", timestamp=WED + 120, text="Beleza"),
    ]
    for doc in conv * 2:  # every payload twice: Meta retries, or a replay
        assert archive_stack.post(envelopes.dumps(doc))[0] == 200
    deadline = time.monotonic() + 90
    while rows_written(archive_stack, "messages") < 6 or rows_written(archive_stack, "alerts") < 2:
        assert time.monotonic() < deadline, "rows not written in time"
        time.sleep(0.5)
    archive_stack.stop()  # releases the embedded ClickHouse folder

    rows = json.loads(chatwatch(archive_stack, "db", "query", "--format", "json",
                                "SELECT message_id, direction, text, pii_types, length(alert_ids) AS alerts "
                                "FROM chatwatch.messages FINAL ORDER BY message_id"))["result"]
    assert [r["message_id"] for r in rows] == [f"wamid.{run}.{i}" for i in (1, 2, 3)]  # six posts, three rows
    assert rows[0]["text"] == "Oi, meu CPF é [CPF]" and rows[0]["pii_types"] == ["br_cpf"]
    assert rows[1]["alerts"] == 1
    report = json.loads(chatwatch(archive_stack, "report", "--since", "2025-11-01", "--now", "2025-11-19T18:00:00+00:00",
                                  "--format", "json"))
    assert {r["rule"]: r["alerts"] for r in report["alerts_by_rule"]} == {"off_channel.personal_contact": 1}
    assert report["response_times"][0]["p50_seconds"] == 90
    assert report["pii_types"][0]["pii_type"] == "br_cpf"
    erased = chatwatch(archive_stack, "erase", "--customer", "5511987654321", "--yes", "--actor", "test")
    assert "1 conversation(s) erased" in erased and "messages: 3 row(s) deleted" in erased

    # a replay after the erasure and after a hold (Meta retries, or records still on Kafka): the worker
    # writes neither the erased customer back nor the held conversation with held = 0
    held = envelopes.message(phone_number_id="277321005464405", display="551140040000", customer="5511900001111",
                             wamid=f"wamid.{run}.h", timestamp=WED + 200, text="Quero falar do contrato")
    archive_stack.start()
    assert archive_stack.post(envelopes.dumps(held))[0] == 200
    wait_rows(archive_stack, 1)
    archive_stack.stop()
    chatwatch(archive_stack, "hold", "--customer", "5511900001111", "--reason", "case 12", "--actor", "legal")
    archive_stack.start()
    for doc in [*conv, held]:
        assert archive_stack.post(envelopes.dumps(doc))[0] == 200
    wait_rows(archive_stack, 1)  # the held message again
    deadline = time.monotonic() + 60
    while metric(archive_stack, "chatwatch_archive_erased_skipped_total") < 3:  # the erased ones: skipped
        assert time.monotonic() < deadline, "the erased customer's replayed messages were not seen"
        time.sleep(0.3)
    archive_stack.stop()
    rows = json.loads(chatwatch(archive_stack, "db", "query", "--format", "json",
                                f"SELECT message_id, held FROM chatwatch.messages FINAL "
                                f"WHERE message_id LIKE 'wamid.{run}.%' ORDER BY message_id"))["result"]
    assert rows == [{"message_id": f"wamid.{run}.h", "held": 1}]


def wait_rows(stack: LocalStack, n: int) -> None:
    deadline = time.monotonic() + 90
    while rows_written(stack, "messages") < n:
        assert time.monotonic() < deadline, "rows not written in time"
        time.sleep(0.3)
