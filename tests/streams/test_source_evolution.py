"""The Evolution API source: its published-shape payloads, fromMe as the company's side, the instance
as the employee's phone, and bearer tokens / HS256 JWTs (accepted, expired, forged, missing)."""

from __future__ import annotations

import copy
import json
import time

import jwt
import pytest

from chatwatch.records import Direction, MessageType, Origin, conversation_key
from chatwatch.streams.ingest.sources import all_sources, evolution
from chatwatch.streams.ingest.whatsapp_webhook import PayloadError
from tests.conftest import SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "connectors" / "evolution-api"  # read in place, never copied
ORIGIN = Origin(field="raw")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def upsert(**data_changes) -> dict:
    """The SDK fixture as Evolution v2 itself sends it: lower-case event, the instance's own number as sender."""
    doc = copy.deepcopy(fixture("messages_upsert.laravel-evolution-api.json"))
    doc["event"] = "messages.upsert"
    doc["sender"] = "5511955550000@s.whatsapp.net"
    doc["data"].update(data_changes)
    return doc


def parse(doc: dict):
    return evolution.parse(json.dumps(doc).encode(), ORIGIN)


def test_the_published_upsert_is_a_customer_message():
    doc = fixture("messages_upsert.laravel-evolution-api.json")  # as the SDK fixture has it: MESSAGES_UPSERT
    (msg,) = parse(doc).messages
    assert msg.direction is Direction.inbound and msg.employee_id is None
    assert msg.customer_wa_id == "5511999999999" and msg.customer_name == "John Doe"
    assert msg.text == "Hello, this is a test message!" and msg.timestamp.timestamp() == 1704067200
    # the fixture's `sender` is the customer's own number: the business is then the instance
    assert msg.business_phone_number_id == "evolution:test-instance"
    assert msg.message_id == "evolution:test-instance:BAE5F2A7C4E99999" and msg.origin.channel == "evolution"


def test_from_me_is_the_instance_s_employee():
    doc = upsert(key={"remoteJid": "5511987654321@s.whatsapp.net", "fromMe": True, "id": "3EB0AA"},
                 message={"extendedTextMessage": {"text": "me chama no meu pessoal"}}, source="android")
    (msg,) = parse(doc).messages
    assert msg.direction is Direction.outbound and msg.employee_id == "evolution:test-instance"
    assert msg.business_phone_number_id == "5511955550000"
    assert msg.conversation_key == conversation_key("5511955550000", "5511987654321")
    assert msg.details["evolution"]["source"] == "android" and msg.customer_name is None


def test_media_groups_and_other_events():
    doc = upsert(message={"imageMessage": {"caption": "comprovante", "mimetype": "image/jpeg", "fileLength": "52340"}},
                 messageType="imageMessage")
    (msg,) = parse(doc).messages
    assert msg.type is MessageType.image and msg.attachments[0].size == 52340 and msg.text == "comprovante"
    group = upsert(key={"remoteJid": "120363025246125486@g.us", "fromMe": False, "id": "X1"})
    assert parse(group).messages == [] and parse(group).ignored
    for name in ("messages_update.laravel-evolution-api.json", "group_participants_update.laravel-evolution-api.json"):
        result = parse(fixture(name))
        assert result.messages == [] and result.problems == [] and result.ignored, name
    with pytest.raises(PayloadError):
        parse({"object": "whatsapp_business_account"})


def test_a_message_without_its_key_is_a_bad_item():
    doc = upsert()
    del doc["data"]["key"]
    result = parse(doc)
    assert result.messages == [] and [p.detail for p in result.problems] == ["missing field 'key'"]


TOKEN, KEY = b"static-token", b"jwt-signing-key-of-32-bytes-min!"


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_a_static_token_or_a_fresh_jwt_is_accepted_and_nothing_else():
    fresh = jwt.encode({"exp": int(time.time()) + 600, "app": "evolution"}, KEY, algorithm="HS256")
    expired = jwt.encode({"exp": int(time.time()) - 1}, KEY, algorithm="HS256")
    forged = jwt.encode({"exp": int(time.time()) + 600}, b"another-key-of-at-least-32-bytes", algorithm="HS256")
    no_expiry = jwt.encode({"app": "evolution"}, KEY, algorithm="HS256")
    assert evolution.authenticate(bearer("static-token"), TOKEN, KEY) is None
    assert evolution.authenticate(bearer(fresh), TOKEN, KEY) is None
    assert evolution.authenticate(bearer(fresh), None, KEY) is None
    assert evolution.authenticate(bearer(expired), TOKEN, KEY) == "expired token"
    assert evolution.authenticate(bearer(forged), TOKEN, KEY) == "wrong token"
    assert evolution.authenticate(bearer(no_expiry), TOKEN, KEY) == "wrong token"  # a JWT must expire
    assert evolution.authenticate(bearer("static-tokex"), TOKEN, None) == "wrong token"
    assert evolution.authenticate({}, TOKEN, KEY) == "no bearer token"


def test_registered_with_its_routing_key():
    source = all_sources()["evolution"]
    body = json.dumps(upsert()).encode()
    assert source.routing_key(body, None) == conversation_key("5511955550000", "5511999999999").encode()
