"""Sources on the real broker: the receiver mounts one route per enabled source, each with its own
authentication, and normalize reads each raw record with its source's parser. A Chatwoot inbox where
agent A shares a password and agent B invites the customer to a personal number raises two alerts,
each naming its agent — on the same company number, which the Cloud API alone cannot tell apart."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlencode

import pytest
from aiokafka import AIOKafkaConsumer

from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack
from chatwatch.streams.ingest.sources import chatwoot, twilio
from tests.streams.test_source_chatwoot import PHONE_ID, whatsapp_event

SECRET = "chatwoot-e2e-secret"
TWILIO_TOKEN = "twilio-e2e-token"


def post(stack: LocalStack, path: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{stack.webhook_port}{path}", data=body, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def two_sources(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    env = {"CHATWATCH_WEBHOOK_SOURCES": "whatsapp_cloud_api,chatwoot,twilio", "CHATWATCH_CHATWOOT_WEBHOOK_SECRET": SECRET,
           "CHATWATCH_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
           "CHATWATCH_CHATWOOT_INBOX_NUMBERS": json.dumps({"3": PHONE_ID}), "CHATWATCH_PII_NER": "false"}
    with LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=tmp_path_factory.mktemp("sources"),
                    extra_env=env) as stack:
        yield stack


def chatwoot_body(run: str, n: int, agent: dict, text: str) -> bytes:
    return json.dumps(whatsapp_event(sender=agent, content=text, id=n, source_id=f"wamid.{run}.{n}",
                                     created_at=1_763_560_800 + n)).encode()


def test_two_agents_on_one_number_are_told_apart(two_sources: LocalStack):
    stack, run = two_sources, uuid.uuid4().hex[:8]
    ana = {"id": 7, "name": "Ana Souza", "email": "ana@empresa.com.br", "type": "user"}
    bruno = {"id": 9, "name": "Bruno Lima", "email": "bruno@empresa.com.br", "type": "user"}
    bodies = [chatwoot_body(run, 1, ana, "Claro! Sua senha provisória é Tigre99#, troque depois"),
              chatwoot_body(run, 2, bruno, "Me chama no meu número pessoal que resolvo mais rápido")]
    for body in bodies:
        now = int(time.time())
        assert post(stack, "/webhooks/chatwoot", body, {
            chatwoot.SIGNATURE_HEADER: chatwoot.sign(body, SECRET.encode(), now),
            chatwoot.TIMESTAMP_HEADER: str(now)}) == 200
    alerts = stack.read("alerts", 2, 90, where=lambda a: a["message_id"].startswith(f"wamid.{run}."), settle_s=3)
    by_agent = {a["employee_id"]: a["rule_id"].split(".")[0] for a in alerts}
    assert by_agent == {"chatwoot:7": "credentials", "chatwoot:9": "off_channel"}
    assert all(a["business_phone_number_id"] == PHONE_ID for a in alerts)


def test_an_agent_in_a_twilio_conversation_is_named(two_sources: LocalStack):
    stack, run = two_sources, uuid.uuid4().hex[:8]
    params = {"EventType": "onMessageAdded", "ConversationSid": f"CH{run}", "ChatServiceSid": "IS77",
              "MessageSid": f"IM{run}", "Author": "agent.carla", "Source": "SDK", "DateCreated": "2026-11-18T12:01:02Z",
              "Body": "Me chama no meu número pessoal que resolvo mais rápido"}
    body = urlencode(params).encode()
    url = f"http://127.0.0.1:{stack.webhook_port}/webhooks/twilio"
    sign = twilio.signature(url, list(params.items()), TWILIO_TOKEN.encode())
    assert post(stack, "/webhooks/twilio", body, {twilio.SIGNATURE_HEADER: "AAAA"}) == 401
    assert post(stack, "/webhooks/twilio", body, {twilio.SIGNATURE_HEADER: sign,
                                                  "Content-Type": "application/x-www-form-urlencoded"}) == 200
    (alert,) = stack.read("alerts", 1, 90, where=lambda a: a["message_id"] == f"twilio:IM{run}")
    assert alert["employee_id"] == "twilio:agent.carla" and alert["rule_id"].startswith("off_channel.")


def test_each_route_takes_only_its_own_sources_signature(two_sources: LocalStack):
    stack = two_sources
    body = chatwoot_body("x", 3, {"id": 7, "type": "user"}, "hola")
    now = int(time.time())
    good = {chatwoot.SIGNATURE_HEADER: chatwoot.sign(body, SECRET.encode(), now), chatwoot.TIMESTAMP_HEADER: str(now)}
    assert post(stack, "/webhooks/chatwoot", body, {**good, chatwoot.TIMESTAMP_HEADER: str(now - 3600)}) == 401
    assert post(stack, "/webhooks/chatwoot", body, {chatwoot.SIGNATURE_HEADER: "sha256=00",
                                                    chatwoot.TIMESTAMP_HEADER: str(now)}) == 401
    assert post(stack, "/webhooks/whatsapp", body, good) == 401  # Meta's route wants Meta's signature
    cloud = envelopes.dumps(envelopes.message(phone_number_id=PHONE_ID, display="551140040000",
                                              customer="5511987654321", wamid=f"wamid.{uuid.uuid4().hex}",
                                              timestamp=1_763_560_800, text="Bom dia"))
    assert stack.post(cloud)[0] == 200  # and still takes it


def test_the_source_is_written_on_each_raw_record(two_sources: LocalStack):
    stack, run = two_sources, uuid.uuid4().hex[:8]
    body = chatwoot_body(run, 4, {"id": 7, "type": "user"}, "ok")
    now = int(time.time())
    assert post(stack, "/webhooks/chatwoot", body, {chatwoot.SIGNATURE_HEADER: chatwoot.sign(body, SECRET.encode(), now),
                                                    chatwoot.TIMESTAMP_HEADER: str(now)}) == 200
    assert asyncio.run(raw_headers(stack, run.encode())) == {"source": b"chatwoot"}


async def raw_headers(stack: LocalStack, marker: bytes, timeout_s: float = 30) -> dict[str, bytes]:
    consumer = AIOKafkaConsumer(stack.topic("raw"), bootstrap_servers=stack.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if marker in record.value:
                        return dict(record.headers)
        return {}
    finally:
        await consumer.stop()
