"""Every 2026 Cloud API shape: customers known only by a business-scoped user id, groups, payments,
calls, value-level errors, coexistence history, unknown types kept whole.

Payloads of our own, shaped as Meta documents them; then the public fixtures, each checked
against its line in ../shared/fixtures/whatsapp-cloud-api-more/EXPECTED.md.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from chatwatch.records import Direction, MessageType, Origin
from chatwatch.streams.demo import envelopes
from chatwatch.streams.ingest.whatsapp_webhook import parse_notification
from tests.conftest import shared_fixture_dir

PHONE_ID, DISPLAY = "106540352242922", "5511940001111"
CUSTOMER, BSUID = "5511987654321", "BR.1a2b3c4d5e6f7a8b"


def change(field: str, value: dict) -> bytes:
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": DISPLAY,
                                                           "phone_number_id": PHONE_ID}, **value}
    return envelopes.dumps(envelopes.envelope(PHONE_ID, DISPLAY, field, value))


def text(body: str, **sender) -> dict:
    return {**sender, "id": f"wamid.{abs(hash((body, tuple(sender.items()))))}", "timestamp": "1763560800",
            "type": "text", "text": {"body": body}}


def only(result, kind: str = "messages"):
    assert not result.problems, result.problems
    (item,) = getattr(result, kind)
    return item


def test_a_customer_known_only_by_user_id_keeps_one_conversation():
    contact = {"profile": {"name": "Ana", "username": "@ana.compras"}, "wa_id": "", "user_id": BSUID}
    msg = only(parse_notification(change("messages", {"contacts": [contact],
                                                      "messages": [text("oi", **{"from": "", "from_user_id": BSUID})]})))
    assert (msg.customer_wa_id, msg.customer_user_id, msg.customer_username) == (BSUID, BSUID, "@ana.compras")
    no_from = only(parse_notification(change("messages", {"contacts": [contact],
                                                          "messages": [{**text("de novo"), "from_user_id": BSUID}]})))
    assert no_from.conversation_key == msg.conversation_key and no_from.customer_name == "Ana"


def test_phone_and_user_id_together_keep_the_phone_conversation():
    before = only(parse_notification(change("messages", {"messages": [text("oi", **{"from": CUSTOMER})]})))
    both = only(parse_notification(change("messages", {
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": CUSTOMER, "user_id": BSUID}],
        "messages": [text("oi de novo", **{"from": CUSTOMER, "from_user_id": BSUID})]})))
    assert both.conversation_key == before.conversation_key
    assert (both.customer_wa_id, both.customer_user_id) == (CUSTOMER, BSUID)


def test_a_status_for_a_customer_known_only_by_user_id():
    st = only(parse_notification(change("messages", {"statuses": [
        {"id": "wamid.S1", "status": "delivered", "timestamp": "1763560800", "recipient_id": "",
         "recipient_user_id": BSUID, "pricing": {"billable": True, "category": "marketing"}}]})), "statuses")
    assert (st.recipient_id, st.recipient_user_id, st.details["pricing"]["category"]) == (BSUID, BSUID, "marketing")


def test_a_group_message_is_the_group_conversation_with_the_participant_as_sender():
    a = only(parse_notification(change("messages", {"messages": [text("bom dia", **{"from": CUSTOMER,
                                                                                     "group_id": "G-77"})]})))
    b = only(parse_notification(change("messages", {"messages": [text("oi", **{"from": "5511900000000",
                                                                                "group_id": "G-77"})]})))
    direct = only(parse_notification(change("messages", {"messages": [text("oi", **{"from": CUSTOMER})]})))
    assert a.group_id == "G-77" and a.customer_wa_id == CUSTOMER
    assert a.conversation_key == b.conversation_key != direct.conversation_key


def test_a_payment_and_an_unknown_interactive_keep_every_field():
    pay = {"type": "payment_method", "payment_method": {"payment_method": "pix", "reference_id": "ped-991",
                                                        "last_four_digits": "1234"}}
    msg = only(parse_notification(change("messages", {"messages": [
        {"from": CUSTOMER, "id": "wamid.P", "timestamp": "1763560800", "type": "interactive", "interactive": pay}]})))
    assert msg.type is MessageType.interactive
    assert msg.details["interactive_type"] == "payment_method" and msg.details["raw"]["reference_id"] == "ped-991"


def test_a_location_without_type_and_an_unknown_type_are_kept():
    loc = only(parse_notification(change("messages", {"messages": [
        {"from": CUSTOMER, "id": "wamid.L", "timestamp": "1763560800",
         "location": {"latitude": -23.55, "longitude": -46.63, "name": "Av. Paulista"}}]})))
    assert loc.type is MessageType.location and loc.text == "Av. Paulista"
    poll = only(parse_notification(change("messages", {"messages": [
        {"from": CUSTOMER, "id": "wamid.Q", "timestamp": "1763560800", "type": "poll_2027",
         "poll_2027": {"question": "Qual horário?"}}]})))
    assert poll.type is MessageType.unsupported
    assert poll.details["raw"] == {"poll_2027": {"question": "Qual horário?"}}


def test_an_unreadable_timestamp_keeps_the_message_at_its_arrival_time():
    received = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    result = parse_notification(change("messages", {"messages": [{**text("oi", **{"from": CUSTOMER}),
                                                                  "timestamp": "<TIMESTAMP>"}]}),
                                Origin(field="messages", received_at=received))
    msg = only(result)
    assert msg.timestamp == received and msg.details["timestamp_as_sent"] == "<TIMESTAMP>"


def test_a_value_level_error_is_an_error_event():
    result = parse_notification(change("messages", {"errors": [
        {"code": 130429, "title": "Rate limit hit", "error_data": {"details": "too many messages"}}]}))
    err = only(result, "errors")
    assert (err.error.code, err.error.title, err.business_phone_number_id) == (130429, "Rate limit hit", PHONE_ID)
    assert result.messages == [] and result.statuses == []


def test_calls_are_call_events():
    result = parse_notification(change("calls", {"calls": [
        {"id": "wacid.1", "from": CUSTOMER, "to": DISPLAY, "event": "terminate", "timestamp": "1763560900",
         "direction": "USER_INITIATED", "status": "Completed", "start_time": "1763560800", "end_time": "1763560900",
         "duration": 100},
        {"id": "wacid.2", "from": DISPLAY, "to": CUSTOMER, "event": "connect", "timestamp": "1763561000",
         "direction": "BUSINESS_INITIATED"}]}))
    assert not result.problems and result.messages == []
    ended, placed = result.calls
    assert (ended.direction, ended.status, ended.duration_s, ended.customer_wa_id) == (
        Direction.inbound, "Completed", 100, CUSTOMER)
    assert ended.start == datetime.fromtimestamp(1763560800, UTC)
    assert (placed.direction, placed.customer_wa_id, placed.event) == (Direction.outbound, CUSTOMER, "connect")


def test_history_threads_are_historical_messages_both_ways():
    history = [{"metadata": {"phase": 0, "chunk_order": 1, "progress": 100}, "threads": [{"id": CUSTOMER, "messages": [
        {"from": DISPLAY, "id": "wamid.H1", "timestamp": "1739230955", "type": "text",
         "text": {"body": "me passa seu CPF"}, "history_context": {"status": "READ"}},
        {"from": CUSTOMER, "id": "wamid.H2", "timestamp": "1739230970", "type": "text", "text": {"body": "claro"}},
        {"from": DISPLAY, "id": "wamid.H3", "timestamp": "1739230980", "type": "media_placeholder"}]}]}]
    result = parse_notification(change("history", {"history": history}))
    assert not result.problems and result.messages == []
    out, inbound, media = result.history
    assert all(m.historical and m.origin.field == "history" for m in result.history)
    assert (out.direction, out.customer_wa_id, out.details["history_status"]) == (Direction.outbound, CUSTOMER, "READ")
    assert (inbound.direction, inbound.customer_wa_id) == (Direction.inbound, CUSTOMER)
    assert out.conversation_key == inbound.conversation_key
    assert media.type is MessageType.unsupported and media.details["unsupported_type"] == "media_placeholder"


# --- the public fixtures, against EXPECTED.md ------------------------------------------------------

def expected_lines() -> dict[str, str]:
    folder = shared_fixture_dir("whatsapp-cloud-api-more")
    rows = re.findall(r"^\| (\d{3}-[\w-]+) \| (.+) \|$", (folder / "EXPECTED.md").read_text(), re.M)
    assert len(rows) == 84
    return {name: line for name, line in rows}


def count(pattern: str, line: str) -> int:
    return sum(int(n) for n in re.findall(pattern, line))


def test_every_fixture_gives_what_expected_md_says():
    folder = shared_fixture_dir("whatsapp-cloud-api-more")
    for name, line in expected_lines().items():
        result = parse_notification((folder / f"{name}.json").read_bytes())
        where = f"{name}: {line}"
        assert not result.problems, (where, result.problems)
        inbound = [m for m in result.messages if m.direction is Direction.inbound]
        outbound = [m for m in result.messages if m.direction is Direction.outbound]
        assert len(inbound) == count(r"(?:^|[;(] ?)(\d+) in\b", line), where
        assert len(outbound) == count(r"^(\d+) out\b", line), where
        assert len(result.statuses) == count(r"^(\d+) st\b", line), where
        if line.startswith("field history"):
            assert len(result.history) == (count(r"Contains (\d+) historical", line) or 1), where
            assert all(m.historical for m in result.history)
        elif "value-level error" in line:
            assert [e.error.code for e in result.errors] == [int(re.search(r"code (\d+)", line).group(1))], where
        elif "field calls" in line:
            assert len(result.calls) == 1 and result.calls[0].attachments[0].media_id in line, where
        elif line.startswith(("ignore", "nothing")):
            assert (result.messages, result.statuses, result.history) == ([], [], []), where
        texts = {m.text for m in [*result.messages, *result.history]}
        for quoted in re.findall(r'(?<![.\w])(?:text|caption) "([^"]+)"', line):  # not welcome_message.text
            assert quoted in texts, (where, quoted, texts)


def test_identity_fixtures_name_the_customer_by_phone_or_user_id():
    folder = shared_fixture_dir("whatsapp-cloud-api-more")
    parsed = {name: parse_notification((folder / f"{name}.json").read_bytes()) for name in (
        "010-text-bsuid-username", "011-text-bsuid-only-empty-from", "012-text-bsuid-only-no-from",
        "014-text-group-message", "063-status-delivered-empty-recipient")}
    m10 = parsed["010-text-bsuid-username"].messages[0]
    assert (m10.customer_wa_id, m10.customer_user_id, m10.customer_username) == (
        "16315551181", "US.13491208655302741918", "@testusername")
    m11 = parsed["011-text-bsuid-only-empty-from"].messages[0]
    assert (m11.customer_wa_id, m11.customer_name, m11.customer_username) == (
        "user.93737...", "Sheena Nelson", "@realsheenanelson")
    assert parsed["012-text-bsuid-only-no-from"].messages[0].customer_wa_id == "BSUID_123"
    group = parsed["014-text-group-message"].messages[0]
    assert (group.group_id, group.customer_wa_id) == ("<GROUP_ID>", "<GROUP_PARTICIPANT_PHONE_NUMBER>")
    assert parsed["063-status-delivered-empty-recipient"].statuses[0].recipient_id.startswith("user.9373795779")


@pytest.mark.parametrize("name, code", [("045-unsupported-edit", 131051), ("047-unknown-type-131051", 131051)])
def test_unsupported_fixtures_keep_their_error(name, code):
    folder = shared_fixture_dir("whatsapp-cloud-api-more")
    (msg,) = parse_notification((folder / f"{name}.json").read_bytes()).messages
    assert msg.type is MessageType.unsupported and msg.errors[0].code == code
