"""Conversation rules on scripted conversations with a fake clock (no broker): each kind fires once
per conversation and window, with the messages that made it, and stays silent otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from chatwatch.detectors.conversation import ConversationEngine, Seen, State, next_deadline
from chatwatch.rules.conversation import ConversationRule

T0 = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def rule(text: str) -> ConversationRule:
    return ConversationRule.model_validate(yaml.safe_load(text))


UNANSWERED = rule("""
id: sla.unanswered
title: Customer left unanswered
severity: medium
category: service
absence: {after: {from: customer}, expect: {from: employee}, within: {minutes: 15}}
""")
NOTICE = rule("""
id: privacy.notice_missing
title: Privacy notice not sent
severity: high
category: privacy
absence: {after: conversation_start, expect: {from: employee, rule: privacy.notice}, within: {messages: 3, minutes: 60}}
""")
PILING_UP = rule("""
id: pii.piling_up
title: Identifiers piling up
severity: high
category: pii
accumulation: {events: [{from: customer}], distinct_pii_at_least: 3, within: {hours: 24}}
""")
OFF_CHANNEL = rule("""
id: off_channel.after_complaint
title: Off-channel invitation after a complaint
severity: high
category: off_channel
sequence: {first: {rule: complaint}, then: {rule: off_channel.personal_contact}, within: {messages: 6, minutes: 60}}
""")
NIGHT = rule("""
id: after_hours.rate
title: Many after-hours messages
severity: low
category: conduct
rate: {event: {rule: after_hours.employee_message}, more_than: 2, per: week}
""")


def play(engine: ConversationEngine, script: list[tuple[int, str, tuple[str, ...], tuple[str, ...]]],
         until_min: int | None = None, key: str = "cv_1") -> list:
    """(minute, sender, message rules, pii) lines; then the clock runs to `until_min`."""
    state, fired = State(), []
    for n, (minute, sender, rules, pii) in enumerate(script):
        seen = Seen(f"m{n}", T0 + timedelta(minutes=minute), sender, frozenset(rules), frozenset(pii), employee="e1")
        fired += engine.on_message(key, state, seen)
        state = State.from_json(state.to_json())  # what a changelog-backed table would give back
    if until_min is not None:
        fired += engine.on_time(key, state, T0 + timedelta(minutes=until_min))
    return fired


def test_an_unanswered_customer_fires_on_silence_once():
    engine = ConversationEngine([UNANSWERED])
    (fired,) = play(engine, [(0, "customer", (), ()), (2, "customer", (), ())], until_min=30)
    assert fired.rule.id == "sla.unanswered" and fired.evidence == ("m0",)
    assert play(engine, [(0, "customer", (), ()), (10, "employee", (), ())], until_min=60) == []
    late = play(engine, [(0, "customer", (), ()), (20, "employee", (), ())], until_min=60)
    assert [f.evidence for f in late] == [("m0",)]  # the late reply itself lets the clock fire


def test_the_privacy_notice_within_three_employee_messages():
    engine = ConversationEngine([NOTICE])
    sent = play(engine, [(0, "customer", (), ()), (1, "employee", (), ()), (2, "employee", ("privacy.notice",), ())],
                until_min=120)
    assert sent == []
    (missing,) = play(engine, [(0, "customer", (), ()), (1, "employee", (), ()), (2, "employee", (), ()),
                               (3, "employee", (), ())])
    assert missing.rule.id == "privacy.notice_missing" and missing.evidence == ("m0", "m3")
    (silent,) = play(engine, [(0, "customer", (), ()), (1, "employee", (), ())], until_min=61)
    assert silent.at == T0 + timedelta(minutes=61)  # nobody wrote again: the deadline fired it


def test_identifiers_piling_up_within_a_day():
    engine = ConversationEngine([PILING_UP])
    (fired,) = play(engine, [(0, "customer", (), ("br_cpf",)), (5, "customer", (), ("email",)),
                             (9, "customer", (), ("phone",)), (12, "customer", (), ("iban",))])
    assert fired.evidence == ("m2", "m0", "m1")  # fired once, on the third type
    spread = [(0, "customer", (), ("br_cpf",)), (60 * 30, "customer", (), ("email",)),
              (60 * 60, "customer", (), ("phone",))]
    assert play(engine, spread) == []  # three types, but never within 24 h


def test_off_channel_after_a_complaint_within_six_messages():
    engine = ConversationEngine([OFF_CHANNEL])
    (fired,) = play(engine, [(0, "customer", ("complaint",), ()), (1, "employee", (), ()),
                             (2, "employee", ("off_channel.personal_contact",), ())])
    assert fired.evidence == ("m0", "m2")
    far = [(0, "customer", ("complaint",), ())] + [(i, "employee", (), ()) for i in range(1, 8)] + [
        (9, "employee", ("off_channel.personal_contact",), ())]
    assert play(engine, far) == []
    assert play(engine, [(0, "employee", ("off_channel.personal_contact",), ())]) == []


def test_after_hours_rate_per_employee_and_week_fires_once():
    engine = ConversationEngine([NIGHT])
    script = [(i * 60, "employee", ("after_hours.employee_message",), ()) for i in range(5)]
    fired = play(engine, script)
    assert [f.evidence for f in fired] == [("m2",)]  # the third message is "more than 2"


def test_alert_ids_are_deterministic_and_state_stays_small():
    engine = ConversationEngine([UNANSWERED, NOTICE, PILING_UP, OFF_CHANNEL, NIGHT])
    script = [(i, "customer" if i % 2 else "employee", ("complaint",) if i % 7 == 0 else (), ("email",) if i % 5 == 0
               else ()) for i in range(200)]
    first = [f.alert_id for f in play(engine, script, until_min=400)]
    again = [f.alert_id for f in play(engine, script, until_min=400)]
    assert first == again and len(set(first)) == len(first)
    state = State()
    for n, (minute, sender, rules, pii) in enumerate(script):
        engine.on_message("cv_1", state, Seen(f"m{n}", T0 + timedelta(minutes=minute), sender, frozenset(rules),
                                              frozenset(pii)))
    import json
    assert len(json.dumps(state.to_json())) <= 2048
    assert next_deadline(engine, state) is not None or not state.clocks
