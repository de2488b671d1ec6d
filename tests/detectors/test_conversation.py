"""Conversation rules on scripted conversations with a fake clock (no broker): each kind fires once
per conversation and window, with the messages that made it, and stays silent otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from chatwatch.detectors.conversation import (
    MAX_STATE_BYTES,
    WINDOW,
    ConversationEngine,
    Header,
    RateCounter,
    Seen,
    State,
    next_deadline,
)
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


def play(engine: ConversationEngine, script: list[tuple], until_min: int | None = None, key: str = "cv_1") -> list:
    """(minute, sender, message rules, pii[, kind, target]) lines; then the clock runs to `until_min`.
    Every line is followed by an encode/decode round trip, as the worker's table does."""
    state, fired = State(), []
    for n, (minute, sender, rules, pii, *edit) in enumerate(script):
        kind, target = edit if edit else ("message", None)
        seen = Seen(f"m{n}", T0 + timedelta(minutes=minute), sender, frozenset(rules), frozenset(pii), employee="e1",
                    kind=kind, target=target, flagged="flagged" in rules)
        fired += engine.on_message(key, state, seen)
        state = State.decode(state.encode())
    if until_min is not None:
        fired += engine.on_time(key, state, T0 + timedelta(minutes=until_min))
    return fired


def ids(fired) -> tuple[str, ...]:
    return tuple(e.message_id for e in fired.evidence)


def test_an_unanswered_customer_fires_on_silence_once():
    engine = ConversationEngine([UNANSWERED])
    (fired,) = play(engine, [(0, "customer", (), ()), (2, "customer", (), ())], until_min=30)
    assert fired.rule.id == "sla.unanswered" and ids(fired) == ("m0",)
    assert play(engine, [(0, "customer", (), ()), (10, "employee", (), ())], until_min=60) == []
    late = play(engine, [(0, "customer", (), ()), (20, "employee", (), ())], until_min=60)
    assert [ids(f) for f in late] == [("m0",)]  # the late reply itself lets the clock fire


def test_the_privacy_notice_within_three_employee_messages():
    engine = ConversationEngine([NOTICE])
    sent = play(engine, [(0, "customer", (), ()), (1, "employee", (), ()), (2, "employee", ("privacy.notice",), ())],
                until_min=120)
    assert sent == []
    (missing,) = play(engine, [(0, "customer", (), ()), (1, "employee", (), ()), (2, "employee", (), ()),
                               (3, "employee", (), ())])
    assert missing.rule.id == "privacy.notice_missing" and ids(missing) == ("m0", "m3")
    (silent,) = play(engine, [(0, "customer", (), ()), (1, "employee", (), ())], until_min=61)
    assert silent.at == T0 + timedelta(minutes=60)  # nobody wrote again: the deadline fired it


def test_identifiers_piling_up_within_a_day():
    engine = ConversationEngine([PILING_UP])
    (fired,) = play(engine, [(0, "customer", (), ("br_cpf",)), (5, "customer", (), ("email",)),
                             (9, "customer", (), ("phone",)), (12, "customer", (), ("iban",))])
    assert ids(fired) == ("m0", "m1", "m2") and "br_cpf, email, phone" in fired.why  # once, on the third type
    spread = [(0, "customer", (), ("br_cpf",)), (60 * 30, "customer", (), ("email",)),
              (60 * 60, "customer", (), ("phone",))]
    assert play(engine, spread) == []  # three types, but never within 24 h


def test_off_channel_after_a_complaint_within_six_messages():
    engine = ConversationEngine([OFF_CHANNEL])
    (fired,) = play(engine, [(0, "customer", ("complaint",), ()), (1, "employee", (), ()),
                             (2, "employee", ("off_channel.personal_contact",), ())])
    assert ids(fired) == ("m0", "m2")
    far = [(0, "customer", ("complaint",), ())] + [(i, "employee", (), ()) for i in range(1, 8)] + [
        (9, "employee", ("off_channel.personal_contact",), ())]
    assert play(engine, far) == []
    assert play(engine, [(0, "employee", ("off_channel.personal_contact",), ())]) == []


def test_after_hours_rate_per_employee_and_week_fires_once():
    engine = ConversationEngine([NIGHT])
    counts, fired_ids, fired = {}, [], []
    for i in range(5):  # across five conversations: the rate is the employee's
        seen = Seen(f"m{i}", T0 + timedelta(hours=i), "employee", frozenset({"after_hours.employee_message"}),
                    employee="e1")
        for r in engine.rate_events(seen):
            fired += [f for f in [RateCounter.on_event("e1", counts, fired_ids, r, seen)] if f]
    assert [ids(f) for f in fired] == [("m2",)]  # the third message is "more than 2"
    assert play(engine, [(0, "employee", ("after_hours.employee_message",), ())] * 5) == []  # not per conversation


def test_a_deleted_privacy_notice_does_not_count_as_sent():
    engine = ConversationEngine([NOTICE])
    kept = [(0, "customer", (), ()), (1, "employee", ("privacy.notice",), ())]
    assert play(engine, kept, until_min=120) == []
    (fired,) = play(engine, [*kept, (5, "employee", (), (), "deleted", "m1")], until_min=120)
    assert fired.rule.id == "privacy.notice_missing"
    edited_away = [*kept, (5, "employee", (), (), "edited", "m1")]  # the new text has no notice
    assert len(play(engine, edited_away, until_min=120)) == 1
    still = [*kept, (5, "employee", ("privacy.notice",), (), "edited", "m1")]
    assert play(engine, still, until_min=120) == []


DELETED_FLAGGED = rule("""
id: conduct.deleted_flagged
title: A message that raised an alert was deleted
severity: medium
category: conduct
accumulation: {events: [{deletes_flagged: true}], within: {days: 1}}
""")


def test_deleting_a_message_that_raised_an_alert():
    engine = ConversationEngine([DELETED_FLAGGED])
    (fired,) = play(engine, [(0, "employee", ("flagged",), ()), (1, "employee", (), (), "deleted", "m0")])
    assert ids(fired) == ("m1",)
    assert play(engine, [(0, "employee", (), ()), (1, "employee", (), (), "deleted", "m0")]) == []


BUSINESS = rule("""
id: sla.business
title: Unanswered in business minutes
severity: medium
category: service
absence:
  after: {from: customer}
  expect: {from: employee}
  within: {minutes: 15}
  business_hours: {timezone: America/Sao_Paulo, start: "09:00", end: "18:00", holidays: ["2026-11-20"]}
  calendars: [{numbers: ["5215500000000"], hours: {timezone: America/Mexico_City, start: "09:00", end: "18:00"}}]
""")


def test_deadlines_count_business_hours_only():
    engine = ConversationEngine([BUSINESS])
    state = State()
    thursday_evening = datetime(2026, 11, 19, 20, 55, tzinfo=UTC)  # 17:55 in São Paulo; Friday is a holiday
    engine.on_message("cv", state, Seen("m0", thursday_evening, "customer"))
    assert next_deadline(state) == int(datetime(2026, 11, 23, 12, 10, tzinfo=UTC).timestamp())  # Monday 09:10
    assert engine.on_time("cv", state, datetime(2026, 11, 22, tzinfo=UTC)) == []
    state = State()
    engine.on_message("cv", state, Seen("m0", thursday_evening, "customer", numbers=("5215500000000",)))
    assert next_deadline(state) == int(datetime(2026, 11, 19, 21, 10, tzinfo=UTC).timestamp())  # Mexico: 15:10


def test_a_replayed_message_changes_nothing():
    engine = ConversationEngine([OFF_CHANNEL])
    state = State()
    first = Seen("m0", T0, "customer", frozenset({"complaint"}))
    then = Seen("m1", T0 + timedelta(minutes=1), "employee", frozenset({"off_channel.personal_contact"}))
    assert len(engine.on_message("cv", state, first) + engine.on_message("cv", state, then)) == 1
    assert engine.on_message("cv", state, then) == [] and state.messages == 2


def test_alert_ids_are_deterministic_and_state_stays_small():
    engine = ConversationEngine([UNANSWERED, NOTICE, PILING_UP, OFF_CHANNEL, NIGHT, DELETED_FLAGGED])
    script = [(i, "customer" if i % 2 else "employee", ("complaint",) if i % 7 == 0 else (),
               (f"type{i % 13}",) if i % 5 == 0 else ()) for i in range(300)]
    first = [f.alert_id for f in play(engine, script, until_min=400)]
    again = [f.alert_id for f in play(engine, script, until_min=400)]
    assert first and first == again and len(set(first)) == len(first)
    state = State()
    for n, (minute, sender, rules, pii) in enumerate(script):
        engine.on_message("cv_1", state, Seen(f"wamid.HBgNNTUxMTk0MDAwMTExMRUCABIYFjNFQjA{n:020d}",
                                              T0 + timedelta(minutes=minute), sender, frozenset(rules),
                                              frozenset(pii), snippet="x" * 300))
        assert len(state.encode()) <= MAX_STATE_BYTES


def test_a_calendar_written_with_spaces_and_plus_applies_to_the_digits_whatsapp_sends():
    from chatwatch.rules import SHIPPED_PACKS, load_rules_dir

    rule = next(r for _, r in load_rules_dir(SHIPPED_PACKS).conversation_rules() if r.absence and r.absence.calendars)
    calendar = rule.absence.calendars[0]
    written = calendar.numbers[0]
    digits = "".join(c for c in written if c.isdigit())
    assert written != digits  # the shipped pack writes "+52 55 1234 5678"
    assert rule.absence.hours_for(("106540352242922", digits)) == calendar.hours
    assert rule.absence.hours_for(("106540352242922", "551140040000")) == rule.absence.business_hours


def test_accumulation_windows_are_measured_in_message_time_whatever_the_arrival_order():
    """A history sync or an import delivers newest first: three identifier types written over 25 hours
    are as quiet in reverse order as in time order; written within a day they fire either way, once."""
    engine = ConversationEngine([PILING_UP])
    spread = [(0, "customer", (), ("br_cpf",)), (12 * 60, "customer", (), ("email",)),
              (25 * 60, "customer", (), ("phone",))]
    assert play(engine, spread) == []
    assert play(engine, spread[::-1]) == []  # before: fired, the window measured from the oldest arrival
    close = [(0, "customer", (), ("br_cpf",)), (10 * 60, "customer", (), ("email",)),
             (20 * 60, "customer", (), ("phone",))]
    in_order, reverse = play(engine, close), play(engine, close[::-1])
    assert len(in_order) == len(reverse) == 1
    assert in_order[0].alert_id == reverse[0].alert_id  # the same window, so the same alert


def arrive(engine: ConversationEngine, lines: list[tuple], until_min: int | None = None) -> list:
    """(id, minute, sender, rules, kind, target) in the order they ARRIVE (not the order they were written)."""
    state, fired = State(), []
    for message_id, minute, sender, rules, kind, target in lines:
        seen = Seen(message_id, T0 + timedelta(minutes=minute), sender, frozenset(rules), frozenset(), employee="e1",
                    kind=kind, target=target, flagged="flagged" in rules)
        fired += engine.on_message("cv_1", state, seen)
        state = State.decode(state.encode())
    if until_min is not None:
        fired += engine.on_time("cv_1", state, T0 + timedelta(minutes=until_min))
    return fired


def test_a_delete_that_arrives_before_its_original_still_counts():
    engine = ConversationEngine([DELETED_FLAGGED])
    original = ("m0", 0, "employee", ("flagged",), "message", None)
    delete = ("m1", 1, "employee", (), "deleted", "m0")
    (in_order,) = arrive(engine, [original, delete])
    (delete_first,) = arrive(engine, [delete, original])  # issue 25 saw 0 of 10 fire before
    assert ids(in_order) == ids(delete_first) == ("m1",) and in_order.alert_id == delete_first.alert_id


def test_a_notice_edited_away_before_it_arrived_is_still_missing():
    engine = ConversationEngine([NOTICE])
    start = ("m0", 0, "customer", (), "message", None)
    notice = ("m1", 1, "employee", ("privacy.notice",), "message", None)
    edit = ("m2", 5, "employee", (), "edited", "m1")  # the new text has no notice
    assert len(arrive(engine, [start, notice, edit], until_min=120)) == 1
    assert len(arrive(engine, [start, edit, notice], until_min=120)) == 1  # before: the edit was dropped
    kept = ("m2", 5, "employee", ("privacy.notice",), "edited", "m1")
    assert arrive(engine, [start, kept, notice], until_min=120) == []


def test_deleting_the_first_reply_leaves_the_clock_met_when_a_later_one_survives():
    engine = ConversationEngine([NOTICE])
    start = ("m0", 0, "customer", (), "message", None)
    first = ("m1", 1, "employee", ("privacy.notice",), "message", None)
    again = ("m2", 2, "employee", ("privacy.notice",), "message", None)  # the notice sent twice
    delete_first = ("m3", 3, "employee", (), "deleted", "m1")
    assert arrive(engine, [start, first, again, delete_first], until_min=120) == []  # before: it fired
    delete_both = [start, first, again, delete_first, ("m4", 4, "employee", (), "deleted", "m2")]
    assert len(arrive(engine, delete_both, until_min=120)) == 1


def arrive_late(engine: ConversationEngine, lines: list[tuple], until_min: int) -> tuple[list, list]:
    """`arrive`, returning what went out at each arrival and what the timer released at `until_min`."""
    state, at_arrival = State(), []
    for message_id, minute, sender, rules, kind, target in lines:
        seen = Seen(message_id, T0 + timedelta(minutes=minute), sender, frozenset(rules), frozenset(), employee="e1",
                    kind=kind, target=target, flagged="flagged" in rules, snippet=f"text of {message_id}")
        at_arrival.append(engine.on_message("cv_1", state, seen))
        state = State.decode(state.encode())
    return at_arrival, engine.on_time("cv_1", state, T0 + timedelta(minutes=until_min))


def test_a_late_complaint_is_played_in_its_place_and_the_alert_names_the_complaint_that_preceded():
    """Complaint m0, complaint m1, invitation m2; m1 arrives last. In order the invitation follows m1; a
    worker that fired at once named m0 (another alert id) and could not take it back."""
    engine = ConversationEngine([OFF_CHANNEL], lateness_s=120)
    m0 = ("m0", 0, "customer", ("complaint",), "message", None)
    m1 = ("m1", 1, "customer", ("complaint",), "message", None)
    m2 = ("m2", 2, "employee", ("off_channel.personal_contact",), "message", None)
    at_arrival, released = arrive_late(engine, [m0, m2, m1], until_min=10)
    assert at_arrival == [[], [], []]  # held for the lateness: nothing out before the order is known
    (in_order,) = play(ConversationEngine([OFF_CHANNEL]), [(0, "customer", ("complaint",), ()),
                                                            (1, "customer", ("complaint",), ()),
                                                            (2, "employee", ("off_channel.personal_contact",), ())])
    (late,) = released
    assert ids(late) == ("m1", "m2") and late.alert_id == in_order.alert_id
    assert [e.snippet for e in late.evidence] == ["text of m1", "text of m2"]  # the window keeps no text; the
    # alert's evidence still has it


def test_a_reply_written_before_the_deadline_but_delivered_after_newer_messages_meets_it():
    engine = ConversationEngine([UNANSWERED], lateness_s=300)
    question = ("m0", 0, "customer", (), "message", None)
    reply = ("m1", 14, "employee", (), "message", None)  # in time (15 minutes)
    again = ("m2", 17, "customer", (), "message", None)  # newer, delivered before the reply
    at_arrival, released = arrive_late(engine, [question, again, reply], until_min=30)
    assert at_arrival == [[], [], []] and [f.evidence[0].message_id for f in released] == []
    # without the reply, m0's and m2's clocks both run out
    at_arrival, released = arrive_late(engine, [question, again], until_min=40)
    assert sorted(f.evidence[0].message_id for f in released) == ["m0", "m2"]


def test_what_is_held_goes_out_once_the_conversation_has_moved_past_the_lateness():
    engine = ConversationEngine([OFF_CHANNEL], lateness_s=60)
    complaint = ("m0", 0, "customer", ("complaint",), "message", None)
    invite = ("m1", 1, "employee", ("off_channel.personal_contact",), "message", None)
    later = ("m2", 5, "customer", (), "message", None)  # four minutes on: the invitation can't change now
    at_arrival, released = arrive_late(engine, [complaint, invite, later], until_min=5)
    assert [len(out) for out in at_arrival] == [0, 0, 1] and released == []


def test_a_message_older_than_the_whole_window_is_played_where_it_arrives_and_counted():
    engine = ConversationEngine([OFF_CHANNEL], lateness_s=60)
    state = State()
    for n in range(WINDOW + 2):
        engine.on_message("cv_1", state, Seen(f"m{n}", T0 + timedelta(minutes=10 + n), "customer"))
    assert len(state.window) == WINDOW and state.base["n"] == 2  # the two oldest folded into the base
    engine.on_message("cv_1", state, Seen("old", T0, "customer"))
    assert engine.beyond_window == 1 and engine.replays == 0 and state.messages == WINDOW + 3
    engine.on_message("cv_1", state, Seen("m3", T0 + timedelta(minutes=13), "customer"))  # a duplicate
    assert state.messages == WINDOW + 3


def test_states_written_before_windows_existed_still_decode():
    old = (b'{"s":1,"l":2,"n":1,"r":["ab"],"f":[],"c":{},"g":{},"p":{},"q":{},"x":[],"h":{"b":"1"}}')
    state = State.decode(old)
    assert state.messages == 1 and state.window == [] and state.base is None and state.held == []
    ConversationEngine([OFF_CHANNEL, NOTICE], lateness_s=60).on_message("cv_1", state, Seen("m9", T0, "customer"))
    assert State.decode(state.encode()).window[0][0] == "m9"


def test_the_header_is_read_by_name_and_written_with_the_same_short_keys():
    raw = (b'{"s":1,"l":2,"n":1,"r":[],"f":[],"c":{},"g":{},"p":{},"q":{},"x":[],'
           b'"h":{"b":"1065","c":"***1","y":"image","e":"ana","h":1}}')
    state = State.decode(raw)
    assert state.header == Header(business="1065", customer="***1", message_type="image", employee="ana",
                                  historical=True)
    assert state.encode() == raw
    later = state.header.updated(Header("1065", "***1", "text"))  # says nothing of the employee or history
    assert later == Header("1065", "***1", "text", "ana", True)
    assert State(header=Header()).doc()["h"] == {} and Header.of_doc({}) == Header()
