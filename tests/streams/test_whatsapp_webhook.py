"""The Cloud API parser and authenticity checks, on built payloads and on real public fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatwatch.records import Direction, MessageType
from chatwatch.streams.demo import envelopes
from chatwatch.streams.ingest.whatsapp_webhook import (
    PayloadError,
    parse_notification,
    sign,
    signature_is_valid,
    subscription_challenge,
)
from tests.conftest import shared_fixture_dir

BIZ = {"phone_number_id": "106540352242922", "display": "5215550001111"}
CUSTOMER = "5215512345678"


def one_message(type: str, body: dict | None, **kw):
    doc = envelopes.message(**BIZ, customer=CUSTOMER, wamid="wamid.X1", timestamp=1_700_000_000,
                            type=type, body=body, **kw)
    result = parse_notification(envelopes.dumps(doc))
    assert not result.problems, result.problems
    assert len(result.messages) == 1
    return result.messages[0]


@pytest.mark.parametrize(
    "type, body, expected_type, text, attachment_kind",
    [
        ("text", {"body": "Olá, tudo bem?"}, MessageType.text, "Olá, tudo bem?", None),
        ("image", {"caption": "la factura", "mime_type": "image/jpeg", "sha256": "ab", "id": "m1"},
         MessageType.image, "la factura", "image"),
        ("document", {"filename": "contrato.pdf", "mime_type": "application/pdf", "id": "m2"},
         MessageType.document, None, "document"),
        ("audio", {"mime_type": "audio/ogg; codecs=opus", "id": "m3", "voice": True}, MessageType.audio, None, "audio"),
        ("video", {"caption": "mira", "mime_type": "video/mp4", "id": "m4"}, MessageType.video, "mira", "video"),
        ("sticker", {"mime_type": "image/webp", "id": "m5", "animated": False}, MessageType.sticker, None, "sticker"),
        ("location", {"latitude": 19.43, "longitude": -99.13, "name": "Zócalo", "address": "CDMX"},
         MessageType.location, "Zócalo CDMX", None),
        ("contacts", [{"name": {"formatted_name": "Ana Gómez"}, "phones": [{"phone": "+52 55 1234 5678"}]}],
         MessageType.contacts, "Ana Gómez +52 55 1234 5678", None),
        ("interactive", {"type": "button_reply", "button_reply": {"id": "b1", "title": "Sí, acepto"}},
         MessageType.interactive, "Sí, acepto", None),
        ("interactive", {"type": "list_reply", "list_reply": {"id": "l1", "title": "Plan", "description": "Mensual"}},
         MessageType.interactive, "Plan Mensual", None),
        ("button", {"payload": "YES", "text": "Confirmar"}, MessageType.button, "Confirmar", None),
        ("reaction", {"message_id": "wamid.A", "emoji": "👍"}, MessageType.reaction, "👍", None),
        ("order", {"catalog_id": "c1", "text": "para hoy", "product_items": []}, MessageType.order, "para hoy", None),
        ("system", {"body": "User changed number", "type": "user_changed_number", "wa_id": "1"},
         MessageType.system, "User changed number", None),
        ("unsupported", {"type": "poll"}, MessageType.unsupported, None, None),
        ("revoke", {"original_message_id": "wamid.OLD"}, MessageType.deleted, None, None),
        ("edit", {"original_message_id": "wamid.OLD", "message": {"type": "text", "text": {"body": "corrigido"}}},
         MessageType.edited, "corrigido", None),
        ("poll_vote_2031", {"whatever": 1}, MessageType.unsupported, None, None),
    ],
)
def test_every_message_type_maps_to_the_canonical_model(type, body, expected_type, text, attachment_kind):
    msg = one_message(type, body)
    assert msg.type is expected_type
    assert msg.source_type == type
    assert msg.text == text
    assert [a.kind for a in msg.attachments] == ([attachment_kind] if attachment_kind else [])
    assert msg.direction is Direction.inbound
    assert msg.customer_wa_id == CUSTOMER
    assert msg.business_phone_number_id == BIZ["phone_number_id"]
    assert msg.timestamp.isoformat() == "2023-11-14T22:13:20+00:00"


def test_targets_of_reactions_edits_and_deletes():
    assert one_message("reaction", {"message_id": "wamid.A", "emoji": ""}).details["removed"] is True
    assert one_message("revoke", {"original_message_id": "wamid.OLD"}).target_message_id == "wamid.OLD"
    edited = one_message("edit", {"original_message_id": "wamid.O", "message": {
        "type": "image", "image": {"caption": "nueva", "id": "m9", "mime_type": "image/png"}}})
    assert (edited.target_message_id, edited.text, edited.attachments[0].kind) == ("wamid.O", "nueva", "image")


def test_reply_and_forward_context():
    reply = one_message("text", {"body": "sí"}, context={"from": BIZ["display"], "id": "wamid.Q"})
    assert reply.reply_to_id == "wamid.Q" and not reply.forwarded
    fwd = one_message("text", {"body": "mira esto"}, context={"frequently_forwarded": True})
    assert fwd.forwarded and fwd.frequently_forwarded and fwd.reply_to_id is None


def test_echo_is_an_outbound_message_to_the_customer():
    doc = envelopes.message(**BIZ, customer=CUSTOMER, wamid="wamid.E", timestamp=1, text="hola", outbound=True)
    (msg,) = parse_notification(envelopes.dumps(doc)).messages
    assert msg.direction is Direction.outbound
    assert msg.customer_wa_id == CUSTOMER
    assert msg.origin.field == "smb_message_echoes"


def test_same_conversation_same_key_without_the_phone_number_in_it():
    a = one_message("text", {"body": "1"})
    b = one_message("image", {"id": "m"})
    assert a.conversation_key == b.conversation_key
    assert CUSTOMER not in a.conversation_key


def test_statuses_are_parsed():
    doc = envelopes.status(**BIZ, customer=CUSTOMER, wamid="wamid.S", timestamp=5, state="read")
    result = parse_notification(envelopes.dumps(doc))
    assert [(s.message_id, s.status, s.recipient_id) for s in result.statuses] == [("wamid.S", "read", CUSTOMER)]
    assert result.messages == []


@pytest.mark.parametrize(
    "body, reason",
    [
        (b'{"object": "whatsapp_business_account", "entry": [', "invalid_json"),
        (b"\xff\xfe not utf-8", "invalid_json"),
        (b"[1, 2]", "invalid_shape"),
        (b'{"object": "page", "entry": []}', "unexpected_object"),
        (b'{"object": "whatsapp_business_account", "entry": {"id": 1}}', "invalid_shape"),
    ],
)
def test_unreadable_payloads_raise_with_a_reason_code(body, reason):
    with pytest.raises(PayloadError) as info:
        parse_notification(body)
    assert info.value.reason == reason


def test_one_bad_message_does_not_hide_its_good_neighbour():
    doc = envelopes.message(**BIZ, customer=CUSTOMER, wamid="wamid.G", timestamp=1, text="bien")
    good = doc["entry"][0]["changes"][0]["value"]["messages"][0]
    bad = {"from": CUSTOMER, "type": "text", "timestamp": "1", "id": "", "text": {"body": "5215512345678"}}
    doc["entry"][0]["changes"][0]["value"]["messages"] = [bad, good]
    result = parse_notification(envelopes.dumps(doc))
    assert [m.message_id for m in result.messages] == ["wamid.G"]
    assert [p.reason for p in result.problems] == ["invalid_message"]
    # the reason names the field, never the value (it may be personal data)
    assert "5215512345678" not in result.problems[0].detail


def test_non_message_fields_are_ignored_with_a_reason():
    doc = envelopes.envelope(BIZ["phone_number_id"], BIZ["display"], "account_update", {"event": "X"})
    result = parse_notification(envelopes.dumps(doc))
    assert result.messages == [] and result.problems == []
    assert result.ignored == [("account_update", "not a message field")]


# --- authenticity ---------------------------------------------------------------------------

def test_signature_round_trip_and_tampering():
    body, secret = b'{"a":1}', b"s3cret"
    header = sign(body, secret)
    assert signature_is_valid(body, header, secret)
    assert not signature_is_valid(body + b" ", header, secret)
    assert not signature_is_valid(body, header, b"other")
    assert not signature_is_valid(body, None, secret)
    assert not signature_is_valid(body, header.removeprefix("sha256="), secret)


def test_subscription_handshake():
    params = {"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": "tok"}
    assert subscription_challenge(params, b"tok") == "42"
    assert subscription_challenge(params, b"other") is None
    assert subscription_challenge({**params, "hub.mode": "unsubscribe"}, b"tok") is None


# --- real payloads from public SDK test suites (../shared/fixtures) ---------------------------

def _fixture_files(prefixes: tuple[str, ...]) -> list[Path]:
    folder = shared_fixture_dir("whatsapp-cloud-api")
    return sorted(p for p in folder.glob("*.json") if p.name.startswith(prefixes))


SOURCE_TYPE_TO_CANONICAL = {"revoke": MessageType.deleted, "edit": MessageType.edited}


def test_every_real_payload_parses_or_is_ignored_with_a_reason():
    files = _fixture_files(("message-", "status-", "echo-", "other-field-"))
    assert len(files) > 50
    for path in files:
        result = parse_notification(path.read_bytes())
        assert not result.problems, (path.name, result.problems)
        if path.name.startswith(("message-", "echo-")):
            assert len(result.messages) == 1, path.name
            msg = result.messages[0]
            expected = SOURCE_TYPE_TO_CANONICAL.get(msg.source_type) or MessageType(msg.source_type)
            assert msg.type is expected, path.name
            assert msg.direction is (Direction.outbound if path.name.startswith("echo-") else Direction.inbound)
        elif path.name.startswith("status-"):
            assert len(result.statuses) == 1 and result.messages == [], path.name
        else:
            assert result.messages == [] and result.statuses == [], path.name
            assert result.ignored and all(reason for _, reason in result.ignored), path.name


def test_real_media_and_type_details():
    folder = shared_fixture_dir("whatsapp-cloud-api")
    doc = parse_notification((folder / "message-document.bindambc.json").read_bytes()).messages[0]
    assert doc.attachments[0].filename and doc.attachments[0].mime_type == "application/pdf"
    voice = parse_notification((folder / "message-audio-voice.pywa.json").read_bytes()).messages[0]
    assert voice.attachments[0].voice is True
    unsupported = parse_notification((folder / "message-unsupported-131051.bindambc.json").read_bytes()).messages[0]
    assert unsupported.errors[0].code == 131051


def test_real_signature_examples_verify():
    for path in _fixture_files(("signature-",)):
        case = json.loads(path.read_text())
        raw = (case.get("raw_body") or case["raw_body_as_signed"]).encode()
        assert signature_is_valid(raw, case["headers"]["X-Hub-Signature-256"], case["app_secret"].encode()), path.name
        if "body_as_decoded" in case:  # hashing re-encoded text must NOT verify: keep the raw bytes
            decoded = case["body_as_decoded"].encode()
            assert not signature_is_valid(decoded, case["headers"]["X-Hub-Signature-256"], case["app_secret"].encode())


def test_real_verification_requests():
    for path in _fixture_files(("verification-",)):
        case = json.loads(path.read_text())
        token = (case.get("configured_verify_token") or case.get("verify_token") or "").encode()
        assert subscription_challenge(case["query"], token) == case["expected_body"], path.name
