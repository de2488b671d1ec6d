"""The Chatwoot source: which agent typed a reply, on Chatwoot's published payloads and on WhatsApp-inbox
bodies shaped like them, signed with Chatwoot's scheme (and refused when anything is off)."""

from __future__ import annotations

import copy
import json
import re
import time

import pytest

from chatwatch.records import Direction, MessageType, Origin, conversation_key
from chatwatch.streams.ingest.sources import Incoming, all_sources, chatwoot
from chatwatch.streams.ingest.whatsapp_webhook import PayloadError
from tests.conftest import SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "connectors" / "chatwoot"  # read in place: never copied into the project
PHONE_ID = "106540352242922"
INBOXES = {"3": PHONE_ID}
ORIGIN = Origin(field="raw")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def whatsapp_event(message_type: str = "outgoing", sender: dict | None = None, **changes) -> dict:
    """Chatwoot's published `message_created` body, in a WhatsApp inbox: the shape of the docs' example with
    the fields a WhatsApp inbox fills (channel, the contact's number, the WhatsApp id as source_id)."""
    doc = copy.deepcopy(fixture("message_created-incoming-webwidget.docs.json"))
    doc["conversation"]["channel"] = "Channel::Whatsapp"
    doc["conversation"]["meta"]["sender"]["phone_number"] = "+55 11 98765-4321"
    doc["inbox"] = {"id": 3, "name": "Vendas BR"}
    doc.update(message_type=message_type, content="Me chama no privado: senha do portal é Tigre99#",
               source_id="wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjQ1", created_at=1_763_560_800, id=4242)
    doc["sender"] = sender if sender is not None else {"id": 7, "name": "Ana Souza", "email": "ana@empresa.com.br",
                                                       "type": "user"}
    doc.update(changes)
    return doc


def parse(doc: dict | bytes):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return chatwoot.parse(body, ORIGIN, INBOXES)


def test_an_agents_reply_names_the_agent_and_keeps_the_cloud_api_conversation_and_message_id():
    (msg,) = parse(whatsapp_event()).messages
    assert msg.employee_id == "chatwoot:7" and msg.direction is Direction.outbound
    assert msg.details["agent"] == {"source": "chatwoot", "id": "7", "name": "Ana Souza", "email": "ana@empresa.com.br"}
    assert msg.customer_wa_id == "5511987654321" and msg.business_phone_number_id == PHONE_ID
    assert msg.conversation_key == conversation_key(PHONE_ID, "5511987654321")  # what the Cloud API gives the chat
    assert msg.message_id == "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjQ1"  # one message, whichever source saw it
    assert msg.origin.channel == "chatwoot" and msg.origin.field == "message_created"
    assert msg.type is MessageType.text and msg.timestamp.timestamp() == 1_763_560_800
    assert msg.customer_name is None  # an outgoing message: the contact's name is not the sender's


def test_a_customer_message_is_inbound_with_no_employee():
    doc = whatsapp_event("incoming", sender={"id": 14, "name": "Cliente", "type": "contact"})
    (msg,) = parse(doc).messages
    assert msg.direction is Direction.inbound and msg.employee_id is None and "agent" not in msg.details
    assert msg.customer_name == "little-haze-776"  # the conversation's contact, as Chatwoot names it


def test_an_echo_typed_on_the_phone_is_outbound_by_someone_unknown():
    doc = whatsapp_event(sender={}, content_attributes={"external_echo": True})
    doc.pop("sender")
    (msg,) = parse(doc).messages
    assert msg.direction is Direction.outbound and msg.employee_id is None and msg.details["typed_on_phone"] is True


def test_a_bot_is_not_an_employee():
    (msg,) = parse(whatsapp_event(sender={"id": 2, "name": "Triagem", "type": "agent_bot"})).messages
    assert msg.employee_id is None and msg.details["bot"] == {"id": "2", "name": "Triagem"}


def test_without_the_inbox_mapping_the_inbox_stands_for_the_business():
    doc = whatsapp_event(inbox={"id": 9, "name": "Suporte MX"})
    (msg,) = parse(doc).messages
    assert msg.business_phone_number_id == "chatwoot-inbox:9"


def test_a_deleted_message_refers_to_the_original():
    doc = whatsapp_event(event="message_updated", content_attributes={"deleted": True}, content="This message was deleted")
    (msg,) = parse(doc).messages
    assert msg.type is MessageType.deleted and msg.text is None
    assert msg.target_message_id == "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjQ1" and msg.message_id.endswith(":deleted")


@pytest.mark.parametrize(("changes", "why"), [
    ({"private": True}, "private note"),
    ({"message_type": "activity"}, "activity"),
    ({"event": "message_updated"}, "status, not content"),
    ({"event": "conversation_status_changed"}, "not a message event"),
])
def test_what_is_not_a_whatsapp_message_is_ignored_with_a_reason(changes: dict, why: str):
    result = parse(whatsapp_event(**changes))
    assert result.messages == [] and why in result.ignored[0][1]


def test_the_published_examples_parse_without_error():
    for name in ("message_created-incoming-webwidget.docs.json", "message_updated-incoming-webwidget.docs.json",
                 "conversation_status_changed.docs.json"):
        result = parse(fixture(name))
        assert result.messages == [] and result.problems == [] and result.ignored, name  # a web widget, not WhatsApp
    text = (FIXTURES / "sample-payload-agent-sender.docs.jsonc").read_text()
    text = re.sub(r"(?<!:)//[^\n]*", "", text)  # as published: comments, a missing comma, a trailing comma
    doc = json.loads(re.sub(r",(\s*})", r"\1", re.sub(r"\{\}\s*\n(\s*\")", r"{},\n\1", text)))
    assert parse(doc).ignored == [("message_created", "not a WhatsApp inbox (no channel)")]


def test_a_body_that_is_not_chatwoot_is_a_payload_error():
    with pytest.raises(PayloadError):
        parse(b"not json")
    with pytest.raises(PayloadError):
        parse(b'{"object": "whatsapp_business_account"}')


def test_an_unusable_message_is_one_bad_item_naming_fields_not_values():
    doc = whatsapp_event(created_at=None)
    result = parse(doc)
    assert result.messages == [] and [p.detail for p in result.problems] == ["no created_at"]


def test_the_routing_key_is_the_messages_conversation():
    body = json.dumps(whatsapp_event()).encode()
    assert chatwoot.routing_key(body, INBOXES) == conversation_key(PHONE_ID, "5511987654321").encode()
    assert chatwoot.routing_key(b"[]", INBOXES) is None


SECRET = b"cw-webhook-secret"


def signed(body: bytes, at: int, secret: bytes = SECRET) -> dict[str, str]:
    return {chatwoot.SIGNATURE_HEADER: chatwoot.sign(body, secret, at), chatwoot.TIMESTAMP_HEADER: str(at)}


def test_a_signed_fresh_request_is_accepted_and_anything_off_is_refused():
    body = json.dumps(whatsapp_event()).encode()
    now = int(time.time())
    assert chatwoot.authenticate(signed(body, now), body, SECRET, 300) is None
    assert chatwoot.authenticate(signed(body, now, b"other"), body, SECRET, 300) == "wrong signature"
    assert chatwoot.authenticate(signed(body, now), body + b" ", SECRET, 300) == "wrong signature"
    assert "replay" in chatwoot.authenticate(signed(body, now - 301), body, SECRET, 300)
    assert "replay" in chatwoot.authenticate(signed(body, now + 301), body, SECRET, 300)
    assert chatwoot.authenticate({}, body, SECRET, 300) == "no signature or timestamp header"
    headers = signed(body, now)
    headers[chatwoot.TIMESTAMP_HEADER] = "yesterday"
    assert chatwoot.authenticate(headers, body, SECRET, 300) == "timestamp is not a number"


def test_the_scheme_is_chatwoots_hmac_of_timestamp_dot_body():
    import hashlib
    import hmac
    body, at = b'{"event":"message_created"}', 1_763_560_800
    expected = "sha256=" + hmac.new(SECRET, b"1763560800." + body, hashlib.sha256).hexdigest()
    assert chatwoot.sign(body, SECRET, at) == expected


def test_the_source_is_registered_under_its_name():
    assert {"whatsapp_cloud_api", "chatwoot"} <= set(all_sources())
    source = all_sources()["chatwoot"]
    assert source.authenticate(Incoming({}, b"{}", "http://x/webhooks/chatwoot"), _settings()) is not None


def _settings():
    from chatwatch.settings import Settings
    return Settings(chatwoot_webhook_secret="s")



def test_webhook_parse_shows_what_a_chatwoot_body_becomes(tmp_path):
    from typer.testing import CliRunner

    from chatwatch.cli import cli

    body = tmp_path / "reply.json"
    body.write_text(json.dumps(whatsapp_event()))
    result = CliRunner().invoke(cli, ["webhook", "parse", "--source", "chatwoot", str(body)],
                                env={"CHATWATCH_CHATWOOT_INBOX_NUMBERS": json.dumps(INBOXES)})
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(x) for x in result.output.splitlines()]
    assert line["kind"] == "message" and line["record"]["employee_id"] == "chatwoot:7"
    assert line["record"]["business_phone_number_id"] == PHONE_ID
    unknown = CliRunner().invoke(cli, ["webhook", "parse", "--source", "zapier", str(body)])
    assert unknown.exit_code == 2 and "unknown source 'zapier'" in unknown.output
