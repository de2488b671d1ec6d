"""Every conversation rule kind of the rule language is one class, found by the type of its spec."""

from __future__ import annotations

from datetime import UTC, datetime

from chatwatch.detectors.conversation import State, status
from chatwatch.detectors.conversation_kinds import KINDS, AbsenceRule
from chatwatch.detectors.conversation_state import Clock
from chatwatch.rules.conversation import KINDS as KIND_KEYS
from chatwatch.rules.conversation import ConversationRule, Kind


def test_every_kind_key_has_exactly_one_class_and_every_class_a_key():
    specs = {type(None)}
    for key in KIND_KEYS:
        (spec,) = [t for t in ConversationRule.model_fields[key].annotation.__args__ if t is not type(None)]
        assert issubclass(spec, Kind) and spec in KINDS, key
        specs.add(spec)
    assert set(KINDS) == specs - {type(None)}


def test_a_rule_is_played_by_the_class_of_its_spec():
    rule = ConversationRule.model_validate({
        "id": "t.reply", "title": "reply", "severity": "medium", "category": "service",
        "absence": {"after": {"from": "customer"}, "expect": {"from": "employee"}, "within": {"minutes": 15}}})
    assert KINDS[type(rule.spec)] is AbsenceRule and rule.kind == "absence"
    since = int(datetime(2026, 11, 18, 9, tzinfo=UTC).timestamp())
    state = State(clocks={"t.reply": Clock.new(since, since + 900, "wamid.1", 0, None, "customer")})
    assert status(rule, state) == "waiting since 2026-11-18T09:00:00+00:00 (wamid.1): due 2026-11-18T09:15:00+00:00"
    Clock(state.clocks["t.reply"]).met = "abc"
    assert status(rule, state) == "met: the expected message came (started by wamid.1)"
    assert state.clocks["t.reply"] == [since, since + 900, "wamid.1", 0, "abc", None, "customer"]  # the stored layout
