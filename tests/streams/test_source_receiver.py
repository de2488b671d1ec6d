"""Sources on the real broker: the receiver mounts one route per enabled source, each with its own
authentication, and normalize reads each raw record with its source's parser. A Chatwoot inbox where
agent A shares a password and agent B invites the customer to a personal number raises two alerts,
each naming its agent — on the same company number, which the Cloud API alone cannot tell apart."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import urlencode

import pytest
from aiokafka import AIOKafkaConsumer

from chatwatch.rules import SHIPPED_PACKS
from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack
from chatwatch.streams.ingest.sources import chatwoot, twilio
from tests.streams.test_source_chatwoot import PHONE_ID, whatsapp_event

SECRET = "chatwoot-e2e-secret"
TWILIO_TOKEN = "twilio-e2e-token"
EVOLUTION_TOKEN = "evolution-e2e-token"


def post(stack: LocalStack, path: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{stack.webhook_port}{path}", data=body, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


class Managers(BaseHTTPRequestHandler):
    """Two managers' webhook receivers on one loopback server: what each path received."""

    received: ClassVar[dict[str, list[dict]]] = {}

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Managers.received.setdefault(self.path, []).append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


PEOPLE = {"teams": {"vendas-sp": {"numbers": ["999"], "managers": ["sp-hook"]},
                    "vendas-rj": {"numbers": [PHONE_ID], "managers": ["rj-hook"]}},
          "employees": {"emp-ana": {"name": "Ana Souza", "team": "vendas-sp", "ids": ["chatwoot:7"]},
                        "emp-bruno": {"name": "Bruno Lima", "team": "vendas-rj", "ids": ["chatwoot:9"]},
                        "emp-duda": {"name": "Duda Alves", "team": "vendas-rj", "ids": ["evolution:celular-duda"]}}}
TEAM_PACK = """
pack: {id: sp, version: "1", title: São Paulo team rules}
rules:
  - id: sp.discount
    title: Discount promised by the São Paulo team
    severity: medium
    category: sales
    match: {any: [desconto]}
    scope: {sender: employee, teams: [vendas-sp]}
"""


@pytest.fixture(scope="module")
def two_sources(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("sources")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Managers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}"
    (folder / "people.yaml").write_text(json.dumps(PEOPLE))
    (folder / "notify.yaml").write_text(json.dumps({
        "receivers": [{"name": "sp-hook", "channel": "webhook", "url": f"{hook}/sp"},
                      {"name": "rj-hook", "channel": "webhook", "url": f"{hook}/rj"}],
        "route": {"receivers": ["team_managers"], "group_by": ["rule_id", "employee"], "group_wait_s": 0.2,
                  "group_interval_s": 0.2, "repeat_interval_s": 3600}}))
    shutil.copytree(SHIPPED_PACKS, folder / "packs")
    (folder / "packs" / "sp.yaml").write_text(TEAM_PACK)
    env = {"CHATWATCH_WEBHOOK_SOURCES": "whatsapp_cloud_api,chatwoot,twilio,evolution",
           "CHATWATCH_CHATWOOT_WEBHOOK_SECRET": SECRET, "CHATWATCH_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
           "CHATWATCH_EVOLUTION_TOKEN": EVOLUTION_TOKEN, "CHATWATCH_PEOPLE_FILE": str(folder / "people.yaml"),
           "CHATWATCH_NOTIFY_CONFIG": str(folder / "notify.yaml"), "CHATWATCH_NOTIFY_TICK_S": "0.2",
           "CHATWATCH_CHATWOOT_INBOX_NUMBERS": json.dumps({"3": PHONE_ID}), "CHATWATCH_PII_NER": "false"}
    try:
        with LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=folder / "logs", rules_dir=folder / "packs",
                        extra_env=env) as stack:
            yield stack
    finally:
        server.shutdown()
        server.server_close()


def chatwoot_body(run: str, n: int, agent: dict, text: str) -> bytes:
    return json.dumps(whatsapp_event(sender=agent, content=text, id=n, source_id=f"wamid.{run}.{n}",
                                     created_at=1_763_560_800 + n)).encode()


def test_two_agents_on_one_number_are_told_apart_and_their_managers_told(two_sources: LocalStack):
    stack, run = two_sources, uuid.uuid4().hex[:8]
    ana = {"id": 7, "name": "Ana Souza", "email": "ana@empresa.com.br", "type": "user"}
    bruno = {"id": 9, "name": "Bruno Lima", "email": "bruno@empresa.com.br", "type": "user"}
    bodies = [chatwoot_body(run, 1, ana, "Claro! Sua senha provisória é Tigre99#, troque depois"),
              chatwoot_body(run, 2, bruno, "Me chama no meu número pessoal que resolvo mais rápido"),
              chatwoot_body(run, 3, ana, "Fechamos hoje e te dou 20% de desconto"),
              chatwoot_body(run, 4, bruno, "Fechamos hoje e te dou 20% de desconto")]
    for body in bodies:
        now = int(time.time())
        assert post(stack, "/webhooks/chatwoot", body, {
            chatwoot.SIGNATURE_HEADER: chatwoot.sign(body, SECRET.encode(), now),
            chatwoot.TIMESTAMP_HEADER: str(now)}) == 200
    alerts = stack.read("alerts", 3, 90, where=lambda a: a["message_id"].startswith(f"wamid.{run}."), settle_s=3)
    fired = sorted((a["message_id"].rsplit(".", 1)[1], a["employee_id"], a["rule_id"].split(".")[0]) for a in alerts)
    # A's password and B's personal number, each named; the São Paulo rule for A's discount only
    assert fired == [("1", "emp-ana", "credentials"), ("2", "emp-bruno", "off_channel"), ("3", "emp-ana", "sp")]
    assert all(a["business_phone_number_id"] == PHONE_ID for a in alerts)
    ids = {a["alert_id"]: a["employee_id"] for a in alerts}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(told(ids)) < len(ids):
        time.sleep(0.5)
    assert told(ids) == {i: ("/sp" if who == "emp-ana" else "/rj") for i, who in ids.items()}  # each to their team
    names = {a["employee"] for n in Managers.received["/sp"] for a in n["alerts"] if a["alert_id"] in ids}
    assert names == {"Ana Souza"}


def told(ids: dict[str, str]) -> dict[str, str]:
    """alert id -> the manager path its notification reached."""
    return {a["alert_id"]: path for path, notes in list(Managers.received.items()) for n in notes
            for a in n["alerts"] if a["alert_id"] in ids}


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
    assert alert["employee_id"] == "twilio:agent.carla" and alert["rule_id"].startswith("off_channel.")  # not listed


def test_a_message_from_an_employees_own_phone_through_evolution_names_them(two_sources: LocalStack):
    stack, run = two_sources, uuid.uuid4().hex[:8]
    body = json.dumps({"event": "messages.upsert", "instance": "celular-duda", "sender": "5511955550000@s.whatsapp.net",
                       "data": {"key": {"remoteJid": "5511987654321@s.whatsapp.net", "fromMe": True, "id": f"3EB{run}"},
                                "message": {"conversation": "Me chama no meu número pessoal que resolvo"},
                                "messageType": "conversation", "messageTimestamp": 1_763_560_900}}).encode()
    assert post(stack, "/webhooks/evolution", body, {"Authorization": "Bearer wrong"}) == 401
    assert post(stack, "/webhooks/evolution", body, {}) == 401
    assert post(stack, "/webhooks/evolution", body, {"Authorization": f"Bearer {EVOLUTION_TOKEN}"}) == 200
    (alert,) = stack.read("alerts", 1, 90, where=lambda a: a["message_id"] == f"evolution:celular-duda:3EB{run}")
    assert alert["employee_id"] == "emp-duda" and alert["rule_id"].startswith("off_channel.")


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
