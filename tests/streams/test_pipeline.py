"""End to end on the real broker: signed webhook -> raw -> normalize -> messages -> scan -> alerts/DLQ."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from chatwatch.detectors.alerts import alert_id
from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack
from tests.conftest import REPO

RULE = "off_channel.personal_contact"
MX = {"phone_number_id": "106540352242922", "display": "5215550001111"}
BR = {"phone_number_id": "277321005464405", "display": "551140040000"}


def text(wamid: str, body: str, biz=MX, customer="5215512345678", outbound=False) -> bytes:
    return envelopes.dumps(envelopes.message(**biz, customer=customer, wamid=wamid, timestamp=1_763_560_800,
                                             text=body, outbound=outbound))


def alerts_for(stack: LocalStack, ids: set[str], want: int, timeout_s: float = 60, rule: str = RULE) -> list[dict]:
    return stack.read("alerts", want, timeout_s, where=lambda a: a["message_id"] in ids and a["rule_id"] == rule)


def test_violations_in_three_languages_raise_alerts_and_clean_messages_do_not(stack: LocalStack):
    run = uuid.uuid4().hex[:8]
    cases = {
        f"wamid.{run}.es": (text(f"wamid.{run}.es", "Mejor escríbeme a mi número personal", outbound=True), True),
        f"wamid.{run}.pt": (text(f"wamid.{run}.pt", "Me chama no privado que resolvo", biz=BR,
                                 customer="5511987654321", outbound=True), True),
        f"wamid.{run}.en": (text(f"wamid.{run}.en", "Could you TEXT ME PRIVATELY?"), True),
        f"wamid.{run}.ok": (text(f"wamid.{run}.ok", "Gracias, su pedido llega mañana"), False),
        f"wamid.{run}.ex": (text(f"wamid.{run}.ex", "Escríbenos al canal oficial, no a mi número personal"), False),
    }
    for body, _ in cases.values():
        assert stack.post(body)[0] == 200
    expected = {w for w, (_, hit) in cases.items() if hit}
    got = alerts_for(stack, set(cases), want=len(expected))
    assert {a["message_id"] for a in got} == expected
    for a in got:
        assert a["alert_id"] == alert_id(a["message_id"], RULE)
        assert a["rule_id"] == RULE and a["severity"] == "medium" and a["pack_version"] == "3"
        assert a["evidence"] and all(e["end"] > e["start"] for e in a["evidence"])
        assert re.fullmatch(r"\*+\d{4}", a["customer_masked"])
    directions = {a["message_id"].rsplit(".", 1)[1]: a["direction"] for a in got}
    assert directions == {"es": "outbound", "pt": "outbound", "en": "inbound"}
    # nothing for the clean ones, even after the violating ones arrived
    assert alerts_for(stack, {f"wamid.{run}.ok", f"wamid.{run}.ex"}, want=1, timeout_s=3) == []


def test_alerts_carry_no_message_text(stack: LocalStack, wamid: str):
    body = "Te paso mi número personal: mi DNI es 12345678Z"
    assert stack.post(text(wamid, body, outbound=True))[0] == 200
    (alert,) = alerts_for(stack, {wamid}, want=1)
    raw = repr(alert)
    assert "12345678Z" not in raw and "5215512345678" not in raw


def test_malformed_payloads_go_to_the_dead_letter_topic_and_the_worker_carries_on(stack: LocalStack, wamid: str):
    marker = uuid.uuid4().hex
    broken_json = ('{"object":"whatsapp_business_account","marker":"%s","entry":[' % marker).encode()
    wrong_shape = ('{"object":"whatsapp_business_account","marker":"%s","entry":{"id":"1"}}' % marker).encode()
    bad_message = envelopes.message(**MX, customer="5215512345678", wamid=f"{wamid}.bad", timestamp=1, text="x")
    bad_message["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = [f"{wamid}.bad"]  # an id that is a list
    bad_message["marker"] = marker
    bad_message_body = envelopes.dumps(bad_message)
    for body in (broken_json, wrong_shape, bad_message_body):
        assert stack.post(body)[0] == 200  # accepted: Meta must not retry what will never parse
    assert stack.post(text(wamid, "mi whatsapp personal es este"))[0] == 200

    bad_id = f"{wamid}.bad".encode()
    dead = stack.read("deadletter", 3, 60, where=lambda d: marker.encode() in original(d) or bad_id in original(d))
    bad_item = bad_message["entry"][0]["changes"][0]["value"]["messages"][0]
    by_reason = {d["reason"]: d for d in dead}
    assert set(by_reason) == {"invalid_json", "invalid_shape", "invalid_message"}
    assert original(by_reason["invalid_json"]) == broken_json and original(by_reason["invalid_shape"]) == wrong_shape
    # one bad item of a body is dead-lettered alone, as its JSON, with its index
    assert json.loads(original(by_reason["invalid_message"])) == bad_item
    assert by_reason["invalid_message"]["item_index"] == "entry[0].changes[0].value.messages[0]"
    assert "expected a string" in by_reason["invalid_message"]["error"]
    assert all(d["stage"] == "normalize" and d["source_topic"] == stack.topic("raw") for d in dead)
    assert all(d["source_offset"] is not None for d in dead)
    # the next good message is still processed
    assert len(alerts_for(stack, {wamid}, want=1)) == 1


def original(dead_letter: dict) -> bytes:
    return base64.b64decode(dead_letter.get("original_b64") or "")


def test_a_bad_record_on_the_messages_topic_is_dead_lettered_by_scan(stack: LocalStack, wamid: str):
    import asyncio

    from aiokafka import AIOKafkaProducer

    garbage = ('{"schema_version": 1, "message_id": "%s"}' % wamid).encode()

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(stack.topic("messages"), garbage, key=b"k")
        finally:
            await producer.stop()

    asyncio.run(produce())
    (dead,) = stack.read("deadletter", 1, 60, where=lambda d: original(d) == garbage)
    assert (dead["stage"], dead["reason"]) == ("scan", "invalid_record")
    assert "conversation_key" in dead["error"]


def test_replaying_a_payload_gives_the_same_alert_id(stack: LocalStack, wamid: str):
    body = text(wamid, "Anota meu número pessoal", biz=BR, customer="5511912345678", outbound=True)
    assert stack.post(body)[0] == 200
    assert stack.post(body)[0] == 200
    got = alerts_for(stack, {wamid}, want=2)
    assert len(got) == 2
    assert got[0]["alert_id"] == got[1]["alert_id"] == alert_id(wamid, RULE)


def test_worker_exposes_prometheus_metrics(stack: LocalStack, wamid: str):
    assert stack.post(text(wamid, "my personal number is below"))[0] == 200
    assert alerts_for(stack, {wamid}, want=1)
    with urllib.request.urlopen(f"{stack.worker_url}/metrics", timeout=5) as resp:
        exposition = resp.read().decode()
    for name in ("chatwatch_messages_received_total", "chatwatch_messages_normalized_total",
                 "chatwatch_messages_scanned_total", "chatwatch_alerts_produced_total",
                 "chatwatch_batch_seconds_bucket", "chatwatch_rule_pack_info"):
        assert name in exposition, name
    produced = re.search(r'chatwatch_alerts_produced_total\{rule_id="off_channel.personal_contact",severity="medium"\} (\S+)',
                         exposition)
    assert produced and float(produced.group(1)) >= 1
    assert 'agent="scan"' in exposition and 'agent="normalize"' in exposition
    with urllib.request.urlopen(stack.webhook_url.rsplit("/", 2)[0] + "/metrics", timeout=5) as resp:
        assert "chatwatch_payloads_received_total" in resp.read().decode()


@pytest.mark.parametrize("path", ["/healthz", "/ready"])
def test_worker_health_pages(stack: LocalStack, path: str):
    with urllib.request.urlopen(f"{stack.worker_url}{path}", timeout=5) as resp:
        assert resp.status == 200
        if path == "/healthz":  # after the earlier tests' traffic: no partition judged stuck
            assert json.loads(resp.read()) == {"status": "ok", "stuck_partitions": [], "ner": "ok"}


def test_pii_rule_fires_and_the_alert_carries_only_redacted_text(stack: LocalStack, wamid: str):
    body = text(wamid, "Listo Ana, tu tarjeta registrada es 4111 1111 1111 1111 y tu CPF 529.982.247-25",
                outbound=True)
    assert stack.post(body)[0] == 200
    (alert,) = alerts_for(stack, {wamid}, want=1, rule="pii.card_sent_by_employee")
    assert alert["severity"] == "critical"
    assert alert["pii"] == {"payment_card": 1, "br_cpf": 1} or alert["pii"].get("payment_card") == 1
    assert "[CARD]" in alert["snippet"] and "[CPF]" in alert["snippet"]
    assert {"kind": "pii", "term": "payment_card"} in alert["evidence"]
    raw = json.dumps(alert)
    assert "4111" not in raw and "529.982" not in raw


def test_dashboards_and_alert_rules_use_metrics_a_live_worker_exposes(stack: LocalStack):
    """Every chatwatch_* name in the SRE dashboard and the PrometheusRule is served by the running
    worker or webhook receiver (families are listed even before their first sample)."""
    served = set()
    promtool = os.environ.get("PROMTOOL_BIN") or shutil.which("promtool")
    for port in (stack.worker_port, stack.webhook_port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        served |= set(re.findall(r"^# TYPE (\S+)", text, re.M))
        if promtool and Path(promtool).exists():  # names, help texts and units as Prometheus wants them
            lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
            assert lint.returncode == 0, lint.stdout + lint.stderr
    dashboard = (REPO / "docs/grafana/chatwatch-sre.json").read_text()
    rules = yaml.safe_load((REPO / "helm/chatwatch/files/prometheus-rules.yaml").read_text())
    exprs = [dashboard] + [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = {m for e in exprs for m in re.findall(r"\b(chatwatch_[a-z_]+)", e)}
    family = lambda name: re.sub(r"_(total|bucket|sum|count)$", "", name)
    missing = sorted(m for m in used if m not in served and family(m) not in served)
    assert len(used) >= 20 and not missing, missing


def test_a_restarted_worker_still_knows_which_number_a_user_id_was_seen_with(stack: LocalStack, wamid: str):
    """The link (user id -> number) travels through the compacted identities topic: a worker started
    afterwards keys the customer's user-id-only message to the conversation of their number."""
    user = f"BR.{uuid.uuid4().hex[:12]}"

    def body(mid: str, number: str) -> bytes:
        return envelopes.dumps(envelopes.message(**BR, customer=number, wamid=mid, timestamp=1_763_560_800, text="oi",
                                                 user_id=user))

    assert stack.post(body(f"{wamid}.both", "5511987651234"))[0] == 200
    stack.read("identities", 1, 60, where=lambda r: r["user_id"] == user)
    stack.stop()
    stack.start()
    assert stack.post(body(f"{wamid}.only", ""))[0] == 200
    both, only = sorted(stack.read("scans", 2, 90, where=lambda r: r["message"]["message_id"].startswith(wamid)),
                        key=lambda r: r["message"]["message_id"])
    assert only["message"]["message_id"].endswith(".only") and both["message"]["message_id"].endswith(".both")
    assert only["message"]["conversation_key"] == both["message"]["conversation_key"]
    assert only["message"]["customer_wa_id"] == "5511987651234"
