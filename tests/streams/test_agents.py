"""The agents' step functions, without Kafka: outputs per input record, and no exception ever escapes."""

from __future__ import annotations

import json

import pytest

from chatwatch.detectors.scanner import Scanner
from chatwatch.records import Message
from chatwatch.rules import SHIPPED_PACKS, load_rules_dir
from chatwatch.streams.agents.normalize import process_raw
from chatwatch.streams.agents.scan import process_message
from chatwatch.streams.demo import envelopes
from chatwatch.streams.topics import TopicNames

TOPICS = TopicNames("t.raw", "t.messages", "t.statuses", "t.events", "t.ids", "t.alerts", "t.scans", "t.rates", "t.dlq", "t.notify",
                    "t.notify.dlq")
BIZ = {"phone_number_id": "1", "display": "5215550001111"}
WEDNESDAY_11H_BRT = 1_763_560_800  # 2025-11-19 14:00 UTC: business hours for the after-hours pack


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(load_rules_dir(SHIPPED_PACKS))


def test_normalize_routes_messages_and_statuses_by_conversation():
    msg = envelopes.message(**BIZ, customer="52155", wamid="wamid.1", timestamp=1, text="hola")
    st = envelopes.status(**BIZ, customer="52155", wamid="wamid.0", timestamp=2)
    msg["entry"][0]["changes"] += st["entry"][0]["changes"]
    outputs = process_raw(envelopes.dumps(msg), TOPICS, partition=0, offset=7)
    assert [o.topic for o in outputs] == ["t.messages", "t.statuses"]
    assert outputs[0].key == outputs[1].key  # same conversation -> same partition
    decoded = Message.model_validate_json(outputs[0].value)
    assert (decoded.origin.raw_topic, decoded.origin.raw_offset) == ("t.raw", 7)


def test_normalize_never_raises_and_keeps_the_bytes():
    garbage = b"\x00\x01 not json"
    (out,) = process_raw(garbage, TOPICS, partition=1, offset=3)
    dead = json.loads(out.value)
    assert out.topic == "t.dlq" and dead["reason"] == "invalid_json" and dead["source_offset"] == 3


def test_scan_produces_alerts_only_for_violations(scanner: Scanner):
    def scan(text: str) -> list:
        doc = envelopes.message(**BIZ, customer="52155", wamid="wamid.2", timestamp=WEDNESDAY_11H_BRT, text=text,
                                outbound=True)
        (out,) = process_raw(envelopes.dumps(doc), TOPICS)
        return [o for o in process_message(out.value, scanner, TOPICS) if o.topic == "t.alerts"]

    alerts = scan("escríbeme a mi número")
    assert [o.topic for o in alerts] == ["t.alerts"]
    assert json.loads(alerts[0].value)["rule_id"] == "off_channel.personal_contact"
    assert scan("buenos días") == []


def test_scan_dead_letters_records_it_cannot_read(scanner: Scanner):
    for value in (b"{}", b"not json", json.dumps({"schema_version": 99}).encode()):
        (out,) = process_message(value, scanner, TOPICS, partition=0, offset=1)
        assert out.topic == "t.dlq" and json.loads(out.value)["reason"] == "invalid_record"


def test_after_hours_alert_for_an_employee_message_at_night(scanner: Scanner):
    night = envelopes.message(**BIZ, customer="52155", wamid="wamid.3", timestamp=WEDNESDAY_11H_BRT + 12 * 3600,
                              text="ok, te aviso", outbound=True)
    (out,) = process_raw(envelopes.dumps(night), TOPICS)
    (alert, record) = process_message(out.value, scanner, TOPICS)
    assert record.topic == "t.scans"
    body = json.loads(alert.value)
    assert body["rule_id"] == "after_hours.employee_message"
    assert body["evidence"] == [{"kind": "scope", "term": "outside_hours"}]


def test_every_scanned_message_gets_a_scan_record_with_redacted_text(scanner: Scanner):
    from chatwatch.detectors.pii import PiiConfig, PiiDetector
    from chatwatch.streams.agents.scan import ScanOptions

    doc = envelopes.message(**BIZ, customer="52155", wamid="wamid.4", timestamp=WEDNESDAY_11H_BRT,
                            text="mi CURP es BOXW310820HNERXN09", customer_name="Ana")
    (out,) = process_raw(envelopes.dumps(doc), TOPICS)
    outputs = process_message(out.value, scanner, TOPICS, options=ScanOptions(pii=PiiDetector(PiiConfig(ner=False))))
    (record,) = [o for o in outputs if o.topic == "t.scans"]
    body = json.loads(record.value)
    assert body["message"]["text"] == "mi CURP es [CURP]" and body["text_mode"] == "redacted"
    assert body["pii"] == {"mx_curp": 1} and "customer_name" not in body["message"]


def test_alerts_carry_the_last_redacted_lines_of_the_conversation(scanner: Scanner):
    from chatwatch.detectors.pii import PiiConfig, PiiDetector
    from chatwatch.records import ContextLine
    from chatwatch.streams.agents.scan import RecentLines, ScanOptions

    options = ScanOptions(pii=PiiDetector(PiiConfig(ner=False)), recent=RecentLines(lines=2))
    texts = [("Hola, mi CPF es 529.982.247-25", False), ("Gracias, lo reviso", True), ("¿Algo más?", True),
             ("Escríbeme a mi número personal", True)]
    alerts = []
    for i, (text, outbound) in enumerate(texts):
        doc = envelopes.message(**BIZ, customer="52155", wamid=f"wamid.c{i}", timestamp=WEDNESDAY_11H_BRT + i,
                                text=text, outbound=outbound)
        (out,) = process_raw(envelopes.dumps(doc), TOPICS)
        alerts += [json.loads(o.value) for o in process_message(out.value, scanner, TOPICS, options=options)
                   if o.topic == "t.alerts"]
    (alert,) = alerts
    assert [(c["direction"], c["text"]) for c in alert["context"]] == [("outbound", "Gracias, lo reviso"),
                                                                       ("outbound", "¿Algo más?")]
    bounded = RecentLines(lines=2, conversations=1)
    line = ContextLine(direction="inbound", timestamp="2026-11-18T12:00:00Z", text="x")
    bounded.add("a", line)
    bounded.add("b", line)
    assert bounded.before("a") == [] and bounded.before("b") == [line]  # oldest conversation forgotten


def test_a_customer_seen_with_number_and_user_id_keeps_the_conversation_when_only_the_user_id_comes():
    from chatwatch.records import Message
    from chatwatch.streams.identities import IdentityLinks

    def body(wamid: str, number: str) -> bytes:
        return envelopes.dumps(envelopes.message(**BIZ, customer=number, wamid=wamid, timestamp=1, text="hola",
                                                 user_id="MX.77"))

    first_worker, second_worker = IdentityLinks(), IdentityLinks()
    both = process_raw(body("wamid.b1", "5215512345678"), TOPICS, links=first_worker)
    shared = [o for o in both if o.topic == TOPICS.identities]
    assert len(shared) == 1
    for o in shared:  # what the second worker reads from the compacted topic
        second_worker.load(o.key, o.value)
    only_id = process_raw(body("wamid.b2", ""), TOPICS, links=second_worker)
    first, later = (Message.model_validate_json(o.value) for o in [*both, *only_id] if o.topic == TOPICS.messages)
    assert later.conversation_key == first.conversation_key and later.customer_wa_id == "5215512345678"
    assert later.customer_user_id == "MX.77"
    again = process_raw(body("wamid.b3", "5215512345678"), TOPICS, links=first_worker)
    assert not [o for o in again if o.topic == TOPICS.identities]  # a known link is not shared again
    stranger = process_raw(envelopes.dumps(envelopes.message(**BIZ, customer="", wamid="wamid.b4", timestamp=1,
                                                             text="hola", user_id="MX.99")), TOPICS, links=second_worker)
    (msg,) = (Message.model_validate_json(o.value) for o in stranger if o.topic == TOPICS.messages)
    assert msg.customer_wa_id == "MX.99"  # never seen with a number: known by the user id
