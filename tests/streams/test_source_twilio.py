"""The Twilio source: signatures by Twilio's scheme (its SDK's own test vector), WhatsApp messages
from Programmable Messaging and Conversations, and the agent named by a Conversations `Author`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from chatwatch.records import Direction, MessageType, Origin, conversation_key
from chatwatch.streams.ingest.sources import all_sources, twilio
from chatwatch.streams.ingest.whatsapp_webhook import PayloadError
from tests.conftest import SHARED_FIXTURES

VECTORS = SHARED_FIXTURES / "connectors" / "twilio" / "request-validator-vectors.twilio-python.py.txt"
RECEIVED = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
ORIGIN = Origin(field="raw", received_at=RECEIVED)
TOKEN = b"twilio-auth-token"


def sdk_vector() -> tuple[bytes, str, dict[str, str], str]:
    """token, URL, parameters and expected signature, as twilio-python's own test states them."""
    text = VECTORS.read_text()
    token = re.search(r'token = "([^"]+)"', text).group(1).encode()
    uri = re.search(r'self\.uri = "([^"]+)"', text).group(1)
    params = dict(re.findall(r'"(\w+)": "([^"]*)"', text.split("self.params = {")[1].split("}")[0]))
    expected = re.search(r'self\.expected = "([^"]+)"', text).group(1)
    return token, uri, params, expected


def test_the_signature_is_twilios_on_its_sdks_vector():
    token, uri, params, expected = sdk_vector()
    body = urlencode(params).encode()
    assert twilio.signature(uri, list(params.items()), token) == expected
    assert twilio.authenticate({twilio.SIGNATURE_HEADER: expected}, body, uri, token) is None
    # Twilio's validator accepts the URL with the default port written out, or left out
    with_port = uri.replace("mycompany.com", "mycompany.com:443")
    assert twilio.authenticate({twilio.SIGNATURE_HEADER: expected}, body, with_port, token) is None


def test_anything_off_is_refused():
    token, uri, params, expected = sdk_vector()
    body = urlencode(params).encode()
    assert twilio.authenticate({}, body, uri, token) == "no signature"
    assert twilio.authenticate({twilio.SIGNATURE_HEADER: expected}, body, uri, b"other").startswith("wrong signature")
    tampered = urlencode({**params, "Digits": "9999"}).encode()
    assert twilio.authenticate({twilio.SIGNATURE_HEADER: expected}, tampered, uri, token).startswith("wrong")
    assert twilio.authenticate({twilio.SIGNATURE_HEADER: expected}, body, uri.replace("foo=1", "foo=2"),
                               token).startswith("wrong")


def messaging(**changes: str) -> bytes:
    params = {"SmsMessageSid": "SM1a2b", "NumMedia": "0", "ProfileName": "Cliente", "MessageType": "text",
              "SmsSid": "SM1a2b", "WaId": "5511987654321", "SmsStatus": "received",
              "Body": "Oi, quero abrir uma conta", "To": "whatsapp:+14155238886", "NumSegments": "1",
              "MessageSid": "SM1a2b", "AccountSid": "AC00", "From": "whatsapp:+5511987654321", "ApiVersion": "2010-04-01"}
    params.update(changes)
    return urlencode(params).encode()


def test_an_incoming_whatsapp_message():
    (msg,) = twilio.parse(messaging(), ORIGIN).messages
    assert (msg.direction, msg.customer_wa_id, msg.business_phone_number_id) == (Direction.inbound, "5511987654321",
                                                                                 "14155238886")
    assert msg.message_id == "twilio:SM1a2b" and msg.timestamp == RECEIVED and msg.text == "Oi, quero abrir uma conta"
    assert msg.conversation_key == conversation_key("14155238886", "5511987654321") and msg.origin.channel == "twilio"
    assert msg.employee_id is None and msg.customer_name == "Cliente"


def test_media_and_what_is_not_a_whatsapp_message():
    (msg,) = twilio.parse(messaging(NumMedia="1", MediaContentType0="image/jpeg", Body="",
                                    MediaUrl0="https://api.twilio.com/x/Media/ME1"), ORIGIN).messages
    assert msg.type is MessageType.image and msg.attachments[0].mime_type == "image/jpeg" and msg.text is None
    assert twilio.parse(messaging(From="+5511987654321", To="+14155238886"), ORIGIN).ignored == [
        ("messaging", "not WhatsApp (SMS)")]
    assert twilio.parse(messaging(MessageStatus="delivered"), ORIGIN).ignored == [("messaging", "status callback")]
    with pytest.raises(PayloadError):
        twilio.parse(b'{"json": "is not a form"}', ORIGIN)


def conversation_event(author: str, **changes: str) -> bytes:
    params = {"EventType": "onMessageAdded", "ConversationSid": "CH55", "ChatServiceSid": "IS77",
              "MessageSid": f"IM{abs(hash(author)) % 1000}", "Author": author, "Body": "Me chama no meu número pessoal",
              "DateCreated": "2026-11-18T12:01:02Z", "Source": "SDK", "ParticipantSid": "MB9", "AccountSid": "AC00",
              "Index": "3"}
    params.update(changes)
    return urlencode(params).encode()


def test_a_conversations_message_by_an_agent_names_the_agent():
    (msg,) = twilio.parse(conversation_event("agent.ana"), ORIGIN).messages
    assert msg.employee_id == "twilio:agent.ana" and msg.direction is Direction.outbound
    assert msg.details["agent"] == {"source": "twilio", "id": "agent.ana"}
    assert msg.timestamp == datetime(2026, 11, 18, 12, 1, 2, tzinfo=UTC)
    assert msg.conversation_key == conversation_key("twilio-service:IS77", "CH55")
    (customer,) = twilio.parse(conversation_event("whatsapp:+5511987654321", Source="WHATSAPP"), ORIGIN).messages
    assert customer.direction is Direction.inbound and customer.employee_id is None
    assert customer.conversation_key == msg.conversation_key  # one conversation, whoever wrote
    (system,) = twilio.parse(conversation_event("system", Source="API"), ORIGIN).messages
    assert system.employee_id is None
    assert twilio.parse(conversation_event("agent.ana", EventType="onConversationAdded"), ORIGIN).ignored


def test_an_unusable_event_is_a_bad_item_naming_the_parameter():
    body = conversation_event("agent.ana").replace(b"Author=agent.ana&", b"")
    result = twilio.parse(body, ORIGIN)
    assert result.messages == [] and [p.detail for p in result.problems] == ["missing parameter 'Author'"]


def test_registered_with_its_routing_key():
    source = all_sources()["twilio"]
    assert source.routing_key(conversation_event("agent.ana"), None) == conversation_key("twilio-service:IS77",
                                                                                      "CH55").encode()
    assert source.routing_key(messaging(), None) == conversation_key("14155238886", "5511987654321").encode()
