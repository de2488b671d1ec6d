"""A real console on a real embedded ClickHouse, with alerts made by the real scanner.

Messages in two teams' business numbers go through the scan step with the shipped packs and the
PII detector (patterns), and their alerts and scan records are written with the archive's row
functions, raw text archived (so reveal has something to show). Users of each role exist.
The console is served by waitress from a thread, as the worker serves it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatwatch.console.server import ConsoleServer
from chatwatch.console.users import Users
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.scanner import Scanner
from chatwatch.records import Alert, Direction, Message, MessageType, Origin, ScanRecord, conversation_key
from chatwatch.rules import SHIPPED_PACKS, load_rules_dir
from chatwatch.settings import Settings
from chatwatch.sinks.clickhouse.ddl import Renderer
from chatwatch.sinks.clickhouse.migrate import migrate
from chatwatch.sinks.clickhouse.rows import alert_rows, scan_rows
from chatwatch.streams.agents.scan import Record, ScanOptions, process_batch
from chatwatch.streams.demo.stack import free_port
from tests.streams.test_agents import TOPICS

MX, BR = "106540352242922", "277321005464405"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
PEOPLE = """teams:
  sales-mx: {numbers: ["106540352242922"], managers: []}
  cobranza-br: {numbers: ["277321005464405"], managers: []}
employees:
  emp-17: {name: Carlos Ruiz, team: sales-mx}
"""
# (business number, customer, employee, from, text): two conversations per team
CHATS = [
    (MX, "5215512345678", "emp-17", "customer", "Hola, ¿ya salió mi pedido 4411?"),
    (MX, "5215512345678", "emp-17", "employee", "Sí, salió esta mañana por paquetería."),
    (MX, "5215512345678", "emp-17", "employee", "Mejor escríbeme a mi número personal y te mando la guía"),
    (MX, "5215512345678", "emp-17", "customer", "Va, mi CURP es GODE561231HDFRRN09 por si la piden"),
    (MX, "5215599887766", "emp-17", "employee", "La contraseña del portal es Cliente#2025"),
    (BR, "5511987654321", "", "customer", "Oi, queria renegociar a parcela"),
    (BR, "5511987654321", "", "employee", "Me chama no privado que te passo uma condição melhor"),
    (BR, "5511987654321", "", "customer", "Meu CPF é 390.533.447-05"),
    (BR, "5511911112222", "", "employee", "Pra acessar o portal, a senha é Banco#7788"),
]


@dataclass
class Site:
    url: str
    client: object
    passwords: dict[str, str]
    alerts: list[Alert]
    settings: Settings

    def alert(self, rule_prefix: str, number: str) -> Alert:
        return next(a for a in self.alerts if a.rule_id.startswith(rule_prefix) and a.business_phone_number_id == number)


def seed(client) -> list[Alert]:
    scanner = Scanner(load_rules_dir(SHIPPED_PACKS))
    options = ScanOptions(pii=PiiDetector(PiiConfig(ner=False)), archive_text="raw")
    records = []
    for i, (biz, customer, employee, sender, text) in enumerate(CHATS):
        m = Message(message_id=f"wamid.console.{uuid.uuid4().hex[:12]}", business_phone_number_id=biz,
                    business_display_number="5215550001111" if biz == MX else "551140040000", customer_wa_id=customer,
                    conversation_key=conversation_key(biz, customer), employee_id=employee or None,
                    direction=Direction.inbound if sender == "customer" else Direction.outbound,
                    timestamp=T0 + timedelta(minutes=i), type=MessageType.text, source_type="text", text=text,
                    origin=Origin(field="messages"))
        records.append(Record(m.to_bytes()))
    outputs = process_batch(records, scanner, TOPICS, options)
    alerts = [Alert.model_validate_json(o.value) for o in outputs if o.topic == TOPICS.alerts]
    scans = [ScanRecord.model_validate_json(o.value) for o in outputs if o.topic == TOPICS.scans]
    now = datetime.now(UTC)
    for s in scans:
        for table, rows in scan_rows(s, now).items():
            client.insert_json(table, rows)
    for a in alerts:
        client.insert_json("alerts", alert_rows(a)["alerts"])
    return alerts


def serve(client, tmp: Path, **overrides) -> tuple[ConsoleServer, Settings]:
    people = tmp / "people.yaml"
    people.write_text(PEOPLE)
    settings = Settings(console_port=free_port(), data_dir=tmp / "data", people_file=people, archive_text="raw",
                        pii_ner=False, notify_ack_key="test-ack-key", **overrides)
    return ConsoleServer(settings, client).start(), settings


@pytest.fixture(scope="module")
def site(chdb_session, tmp_path_factory) -> Site:
    client = chdb_session.with_database(f"console_{uuid.uuid4().hex[:8]}")
    migrate(client, Renderer(client.database))
    alerts = seed(client)
    users = Users(client)
    passwords = {name: users.add(name, role, "test", teams=teams) for name, role, teams in (
        ("ana", "analyst", []), ("mario", "manager", ["sales-mx"]), ("aud", "auditor", []), ("root", "admin", []))}
    server, settings = serve(client, tmp_path_factory.mktemp("console"))
    yield Site(server.url, client, passwords, alerts, settings)
    server.stop()


def audit_rows(client, **where: str) -> list[dict]:
    cond = " AND ".join(f"{k} = '{v}'" for k, v in where.items()) or "1"
    rows = client.query(f"SELECT actor, action, target, source, details FROM {client.database}.audit_log WHERE {cond}")
    return [{**r, "details": json.loads(r["details"])} for r in rows]
