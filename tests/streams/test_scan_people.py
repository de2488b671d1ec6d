"""The people directory in the scan: a source's agent id becomes the directory's employee, a
team-scoped rule fires for that team only, and an id the directory does not know is kept and counted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from chatwatch.detectors.scanner import Scanner
from chatwatch.people import PeopleFile, PeopleFileError, load_directory
from chatwatch.records import Direction, Message, MessageType, Origin, conversation_key
from chatwatch.rules import load_rules_dir
from chatwatch.streams.agents.scan import ScanOptions, process_message
from chatwatch.streams.topics import TopicNames

TOPICS = TopicNames.with_prefix("t")
PHONE = "106540352242922"
PEOPLE = """
teams:
  vendas-sp: {numbers: ["999"], managers: [sp-hook]}
  vendas-rj: {numbers: ["106540352242922"], managers: [rj-hook]}
employees:
  emp-ana: {name: Ana Souza, team: vendas-sp, ids: ["chatwoot:7", "twilio:agent.ana"]}
  emp-bruno: {name: Bruno Lima, team: vendas-rj, ids: ["chatwoot:9"]}
"""
PACK = """
pack: {id: t, version: "1", title: t}
rules:
  - id: t.sp_discount
    title: discount promised by the São Paulo team
    severity: medium
    category: sales
    match: {any: [desconto]}
    scope: {sender: employee, teams: [vendas-sp]}
"""


def message(employee: str | None, n: int) -> bytes:
    return Message(message_id=f"wamid.p{n}", business_phone_number_id=PHONE, customer_wa_id="5511987654321",
                   conversation_key=conversation_key(PHONE, "5511987654321"), employee_id=employee,
                   direction=Direction.outbound, timestamp="2026-11-18T12:00:00Z", type=MessageType.text,
                   source_type="text", text="te dou 20% de desconto", origin=Origin(channel="chatwoot",
                                                                                    field="message_created")).to_bytes()


def alerts_of(outputs) -> list[dict]:
    return [json.loads(o.value) for o in outputs if o.topic == TOPICS.alerts]


@pytest.fixture
def setup(tmp_path: Path):
    (tmp_path / "people.yaml").write_text(PEOPLE)
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "t.yaml").write_text(PACK)
    return Scanner(load_rules_dir(tmp_path / "packs")), ScanOptions(people=PeopleFile(tmp_path / "people.yaml"))


def unknown(source: str) -> float:
    return REGISTRY.get_sample_value("chatwatch_people_unknown_employees_total", {"source": source}) or 0.0


def test_the_agent_becomes_the_employee_and_the_team_rule_fires_for_their_team_only(setup):
    scanner, options = setup
    (alert,) = alerts_of(process_message(message("chatwoot:7", 1), scanner, TOPICS, options=options))
    assert alert["employee_id"] == "emp-ana" and alert["rule_id"] == "t.sp_discount"
    assert alerts_of(process_message(message("chatwoot:9", 2), scanner, TOPICS, options=options)) == []  # Rio
    scans = [json.loads(o.value) for o in process_message(message("chatwoot:7", 3), scanner, TOPICS, options=options)
             if o.topic == TOPICS.scans]
    assert scans[0]["message"]["employee_id"] == "emp-ana"
    assert scans[0]["message"]["details"]["source_employee_id"] == "chatwoot:7"


def test_no_employee_means_the_business_numbers_team(setup):
    scanner, options = setup
    assert alerts_of(process_message(message(None, 4), scanner, TOPICS, options=options)) == []  # the number is Rio's


def test_an_id_the_directory_does_not_know_is_kept_and_counted(setup):
    scanner, options = setup
    before = unknown("chatwoot")
    outputs = process_message(message("chatwoot:11", 5), scanner, TOPICS, options=options)
    assert alerts_of(outputs) == []  # no team known for them: the team rule cannot claim them
    scans = [json.loads(o.value) for o in outputs if o.topic == TOPICS.scans]
    assert scans[0]["message"]["employee_id"] == "chatwoot:11"
    assert unknown("chatwoot") == before + 1


def test_the_directory_is_reread_when_it_changes_and_a_bad_edit_keeps_the_last_good_one(tmp_path: Path):
    path = tmp_path / "people.yaml"
    path.write_text(PEOPLE)
    people = PeopleFile(path)
    people.CHECK_EVERY_S = 0
    assert people.directory.team_of("twilio:agent.ana", None) == "vendas-sp"
    time.sleep(0.01)
    path.write_text(PEOPLE.replace("team: vendas-sp, ids", "team: vendas-rj, ids"))
    assert people.directory.team_of("twilio:agent.ana", None) == "vendas-rj"
    time.sleep(0.01)
    path.write_text(PEOPLE.replace("ids: [", "idz: ["))
    assert people.directory.team_of("twilio:agent.ana", None) == "vendas-rj" and "idz" in people.error
    with pytest.raises(PeopleFileError, match=r"people\.yaml"):
        load_directory(path)


def test_names_and_managers_follow_the_source_ids(tmp_path: Path):
    (tmp_path / "people.yaml").write_text(PEOPLE)
    directory = load_directory(tmp_path / "people.yaml")
    assert directory.name_of("chatwoot:9") == "Bruno Lima" and directory.resolve("emp-ana") == "emp-ana"
    assert directory.managers(directory.team_of("chatwoot:9", None)) == ["rj-hook"]
    assert directory.resolve("chatwoot:404") is None and directory.team_of("chatwoot:404", "999") == "vendas-sp"
