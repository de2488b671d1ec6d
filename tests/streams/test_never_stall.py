"""Never stall, never lose, on the real broker: poison bodies, Meta-sized bodies, refused dead letters.

The attack these tests replay: one signed body under the size cap holding many good messages and
one malformed one. Before, its dead letter (the whole body in base64) was larger than Kafka takes,
the agent retried it for ever and every later message of the partition went unscanned.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack, free_port, http_status
from tests.conftest import REPO
from tests.streams.test_pipeline import MX, alerts_for, original, text

FILLER = "Hola, quería saber el estado de mi pedido y si el envío llega esta semana a la sucursal. " * 12


def body_of(messages: list[dict]) -> bytes:
    doc = envelopes.message(**MX, customer="5215512345678", wamid="wamid.unused", timestamp=1_763_560_800, text="x")
    doc["entry"][0]["changes"][0]["value"]["messages"] = messages
    return envelopes.dumps(doc)


def item(wamid: str, body: str) -> dict:
    return {"from": "5215512345678", "id": wamid, "timestamp": "1763560800", "type": "text", "text": {"body": body}}


def poison_body(run: str, good: int, violations: list[str]) -> tuple[bytes, dict]:
    """`good` long clean messages, the violating ones among them, and one item whose sender is an object."""
    bad = item(f"wamid.{run}.bad", "x") | {"from": {"phone": "5215512345678"}}
    items = [item(f"wamid.{run}.{i}", FILLER) for i in range(good)]
    items[good // 3:good // 3] = [bad]
    items += [item(w, "Escríbeme a mi número personal, por favor") for w in violations]
    return body_of(items), bad


def test_a_poison_body_dead_letters_its_bad_item_and_nothing_stalls(stack: LocalStack):
    run = uuid.uuid4().hex[:8]
    inside = [f"wamid.{run}.v1", f"wamid.{run}.v2"]
    body, bad = poison_body(run, good=760, violations=inside)
    assert 850_000 < len(body) < 1_000_000  # the size of the body that used to stop a partition
    assert stack.post(body)[0] == 200
    later = f"wamid.{run}.later"
    assert stack.post(text(later, "Escríbeme a mi número personal"))[0] == 200

    assert {a["message_id"] for a in alerts_for(stack, {*inside, later}, want=3)} == {*inside, later}
    (dead,) = stack.read("deadletter", 1, 60, where=lambda d: f"wamid.{run}.bad".encode() in original(d))
    assert (dead["stage"], dead["reason"]) == ("normalize", "invalid_message")
    assert dead["item_index"] == f"entry[0].changes[0].value.messages[{760 // 3}]"
    assert json.loads(original(dead)) == bad and "expected a string" in dead["error"]


def test_an_unreadable_body_over_the_payload_cap_is_dead_lettered_by_its_coordinates(stack: LocalStack):
    run = uuid.uuid4().hex[:8]
    body = (b'{"object":"whatsapp_business_account","run":"%s","entry":[' % run.encode()) + b"9," * 400_000
    assert stack.post(body)[0] == 200
    later = f"wamid.{run}.later"
    assert stack.post(text(later, "Escríbeme a mi número personal"))[0] == 200
    digest = hashlib.sha256(body).hexdigest()
    (dead,) = stack.read("deadletter", 1, 60, where=lambda d: d.get("original_sha256") == digest)
    assert dead["reason"] == "invalid_json" and "original_b64" not in dead  # over the cap: not carried
    assert dead["original_size"] == len(body)
    assert dead["source_topic"] == stack.topic("raw") and dead["source_offset"] is not None
    assert len(alerts_for(stack, {later}, want=1)) == 1


def test_a_body_of_meta_size_is_accepted_and_normalized(stack: LocalStack):
    run = uuid.uuid4().hex[:8]
    inside = f"wamid.{run}.v"
    items = [item(f"wamid.{run}.{i}", FILLER) for i in range(2230)] + [item(inside, "mi número personal es este")]
    body = body_of(items)
    assert 2_800_000 < len(body) < 3_000_000
    assert stack.post(body, timeout=60)[0] == 200
    assert len(alerts_for(stack, {inside}, want=1, timeout_s=90)) == 1


def test_signatures_that_are_not_ascii_get_401_not_500(stack: LocalStack):
    body = text(f"wamid.{uuid.uuid4().hex}", "hola")
    request = (b"POST /webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"X-Hub-Signature-256: sha256=\xff\xfe\xc3\x28\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
               % len(body)) + body
    with socket.create_connection(("127.0.0.1", stack.webhook_port), timeout=10) as conn:
        conn.sendall(request)
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] == b"401", status_line


@pytest.mark.parametrize("path", ["/router", "/table/notify-state/", "/graph/", "/stats/", "/performance/"])
def test_faust_pages_are_not_served(stack: LocalStack, path: str):
    assert http_status(stack.worker_url + path) == 404


def test_a_dead_letter_kafka_refuses_is_counted_and_the_partition_moves_on(kafka_bootstrap: str,
                                                                           tmp_path_factory: pytest.TempPathFactory):
    """With dead letters allowed to carry 64 MB, a 2 MB unreadable body makes one Kafka refuses
    (larger than the producer's request limit): it is dropped and counted, later messages alert."""
    with LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=tmp_path_factory.mktemp("refused-logs"),
                    extra_env={"CHATWATCH_DEADLETTER_MAX_PAYLOAD_BYTES": str(64 * 1024 * 1024)}) as running:
        run = uuid.uuid4().hex[:8]
        body = (b'{"object":"whatsapp_business_account","run":"%s","entry":[' % run.encode()) + b"7," * 1_000_000
        assert running.post(body)[0] == 200
        later = f"wamid.{run}.later"
        assert running.post(text(later, "Escríbeme a mi número personal"))[0] == 200
        assert len(alerts_for(running, {later}, want=1)) == 1
        with urllib.request.urlopen(running.worker_url + "/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
        assert 'chatwatch_dead_letters_unwritable_total{stage="normalize"} 1.0' in metrics
        assert 'chatwatch_outputs_rejected_total{error="MessageSizeTooLargeError",stage="normalize"}' in metrics


def unique_ids(stack: LocalStack, suffix: str, key, wanted: set[str], timeout_s: float = 180) -> set[str]:
    """The ids of `wanted` seen on a topic, each once (a restart replays some records twice)."""
    seen: set[str] = set()

    def first_time(record: dict) -> bool:
        new = key(record) in wanted and key(record) not in seen
        seen.add(key(record))
        return new

    stack.read(suffix, len(wanted), timeout_s, where=first_time)
    return seen & wanted


def test_processes_started_before_kafka_wait_for_it_and_survive_a_broker_restart(
        tmp_path_factory: pytest.TempPathFactory):
    """Receiver and worker start while no broker listens: the receiver answers 503 (/ready and POSTs)
    and neither exits; once a broker comes up on that port, both become ready and messages alert.
    Then the broker stops mid-stream and comes back: nothing posted before, during (retried after a
    503, as Meta does) or after is lost, and the worker resumes by itself."""
    port = free_port()
    broker_env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(free_port()),
                  "KAFKA_STATE_DIR": str(tmp_path_factory.mktemp("late-kafka"))}
    kafka_local = [str(REPO / "scripts" / "kafka-local")]
    stack = LocalStack(kafka_bootstrap=f"127.0.0.1:{port}", log_dir=tmp_path_factory.mktemp("late-logs"))
    try:
        stack.start(wait_ready=False)
        stack.wait_until(f"http://127.0.0.1:{stack.webhook_port}/healthz", 60)
        assert http_status(f"http://127.0.0.1:{stack.webhook_port}/ready") == 503
        assert stack.post(text(f"wamid.{uuid.uuid4().hex}", "hola"))[0] == 503  # Meta retries a 503
        time.sleep(3)
        assert all(p.poll() is None for p in stack.processes.values()), "a process gave up without Kafka"
        subprocess.run([*kafka_local, "start"], env=broker_env, check=True, capture_output=True, timeout=180)
        stack.wait_until(f"http://127.0.0.1:{stack.webhook_port}/ready", 120)
        stack.wait_until(f"{stack.worker_url}/ready", 120)
        later = f"wamid.{uuid.uuid4().hex}"
        assert stack.post(text(later, "Escríbeme a mi número personal"))[0] == 200
        assert len(alerts_for(stack, {later}, want=1)) == 1

        run = uuid.uuid4().hex[:8]
        ids = [f"wamid.{run}.{i}" for i in range(300)]
        bodies = [text(w, "Escríbeme a mi número personal" if i % 10 == 0 else "ok, gracias") for i, w in enumerate(ids)]
        for body in bodies[:100]:
            assert stack.post(body)[0] == 200
        subprocess.run([*kafka_local, "stop"], env=broker_env, check=True, capture_output=True, timeout=120)
        during = [stack.post(body, timeout=30)[0] for body in bodies[100:103]]  # 503: Meta would retry
        assert set(during) == {503}
        subprocess.run([*kafka_local, "start"], env=broker_env, check=True, capture_output=True, timeout=180)
        for body in bodies[100:]:
            deadline = time.monotonic() + 120
            while (status := stack.post(body, timeout=30)[0]) != 200:  # retried like Meta does
                assert time.monotonic() < deadline, f"receiver still answers {status} after the broker returned"
                time.sleep(1)
        risky = {w for i, w in enumerate(ids) if i % 10 == 0}
        assert unique_ids(stack, "scans", lambda r: r["message"]["message_id"], set(ids)) == set(ids)
        assert unique_ids(stack, "alerts", lambda a: a["message_id"], risky) == risky
        assert all(p.poll() is None for p in stack.processes.values())
    finally:
        stack.stop()
        subprocess.run([*kafka_local, "stop"], env=broker_env, capture_output=True, timeout=120)
