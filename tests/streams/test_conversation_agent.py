"""The conversation agent's step without a broker: scan records in, alerts, rate events, dead
letters and states out (the real-broker path is in test_conversation_rules.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from chatwatch.detectors.conversation import State
from chatwatch.records import Alert, DeadLetter
from chatwatch.rules import SHIPPED_PACKS, load_rules_dir
from chatwatch.streams.agents.conversation import Rules, on_rates, on_records, on_time
from tests.streams.test_agents import TOPICS

T0 = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
RULES = Rules(lambda: load_rules_dir(SHIPPED_PACKS))


def scan_record(n: int, key: str, sender: str, text: str, rules=(), minutes: int = 0, employee="ana") -> SimpleNamespace:
    doc = {"message": {"message_id": f"wamid.{key}.{n}", "conversation_key": key, "type": "text",
                       "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
                       "direction": "inbound" if sender == "customer" else "outbound",
                       "business_phone_number_id": "277321005464405", "customer_wa_id": "5511940001111",
                       "employee_id": employee if sender == "employee" else None, "text": text},
           "text_mode": "redacted", "pii": {}, "rule_ids": list(rules), "alert_ids": []}
    return SimpleNamespace(value=json.dumps(doc).encode(), key=key.encode(), topic=TOPICS.scans, partition=0, offset=n)


def test_a_complaint_then_an_off_channel_invitation_gives_one_alert_and_a_state():
    table: dict[bytes, bytes] = {}
    read = lambda k: State.decode(table.get(k))
    batch = [scan_record(1, "cv1", "customer", "Quiero poner una queja", ["off_channel.customer_complaint"]),
             scan_record(2, "cv1", "employee", "Escríbeme a mi número personal", ["off_channel.personal_contact"],
                         minutes=1)]
    outputs, states = on_records(batch, RULES, read, TOPICS)
    alerts = [Alert.model_validate_json(o.value) for o in outputs if o.topic == TOPICS.alerts]
    assert [a.rule_id for a in alerts] == ["off_channel.after_complaint"]
    assert alerts[0].customer_masked != "5511940001111" and "conversation" in alerts[0].tags
    assert [c.text for c in alerts[0].context] == ["Quiero poner una queja", "Escríbeme a mi número personal"]
    table.update({k: s.encode() for k, s in states.items()})
    again, _ = on_records(batch, RULES, read, TOPICS)  # replayed after a crash: nothing new
    assert [o for o in again if o.topic == TOPICS.alerts] == []


def test_with_alert_snippets_off_conversation_alerts_carry_no_text_either():
    batch = [scan_record(1, "cv1n", "customer", "Quiero poner una queja", ["off_channel.customer_complaint"]),
             scan_record(2, "cv1n", "employee", "Escríbeme a mi número personal", ["off_channel.personal_contact"],
                         minutes=1)]
    outputs, states = on_records(batch, RULES, lambda k: State.decode(None), TOPICS, keep_text=False)
    (alert,) = [Alert.model_validate_json(o.value) for o in outputs if o.topic == TOPICS.alerts]
    assert alert.context == [] and b"queja" not in b"".join(s.encode() for s in states.values())
    assert b"queja" not in b"".join(o.value for o in outputs)


def test_system_lines_are_nobodys_messages():
    """An export's "Los mensajes y las llamadas están cifrados…" line opened the conversation as if the
    customer had written it: the privacy-notice and service-level clocks started on it."""
    system = scan_record(1, "cv-sys", "customer", "Los mensajes y las llamadas están cifrados de extremo a extremo")
    doc = json.loads(system.value)
    doc["message"]["type"] = "system"
    system.value = json.dumps(doc).encode()
    outputs, states = on_records([system], RULES, lambda k: State.decode(None), TOPICS)
    assert outputs == [] and states == {}


def test_silence_fires_from_the_timer_and_bad_records_are_dead_lettered():
    table: dict[bytes, bytes] = {}
    read = lambda k: State.decode(table.get(k))
    bad = SimpleNamespace(value=b"{not json", key=b"x", topic=TOPICS.scans, partition=0, offset=9)
    outputs, states = on_records([scan_record(1, "cv2", "customer", "Hola"), bad], RULES, read, TOPICS)
    (dead,) = [DeadLetter.model_validate_json(o.value) for o in outputs if o.topic == TOPICS.deadletter]
    assert dead.reason == "invalid_record" and dead.original == b"{not json" and dead.stage == "conversation"
    table.update({k: s.encode() for k, s in states.items()})
    outputs, _ = on_time([(b"cv2", T0 + timedelta(hours=2))], RULES, read, TOPICS)
    fired = sorted(Alert.model_validate_json(o.value).rule_id for o in outputs)
    assert fired == ["privacy_notice.missing", "service_level.unanswered"]


def test_after_hours_messages_are_counted_per_employee_across_conversations():
    night = [scan_record(i, f"cv-night-{i}", "employee", "boa noite", ["after_hours.employee_message"], minutes=i)
             for i in range(7)]
    outputs, _ = on_records(night, RULES, lambda k: State(), TOPICS)
    rates = [o for o in outputs if o.topic == TOPICS.rates]
    assert len(rates) == 7 and {o.key for o in rates} == {b"ana"}
    docs: dict[bytes, dict] = {}
    events = [SimpleNamespace(value=o.value, key=o.key, topic=TOPICS.rates, partition=0, offset=i)
              for i, o in enumerate(rates)]
    alerts, _ = on_rates(events, RULES, lambda k: docs.setdefault(k, {}), TOPICS)
    (alert,) = [Alert.model_validate_json(o.value) for o in alerts]
    assert alert.rule_id == "after_hours.frequent" and alert.employee_id == "ana"
    assert alert.message_id == "wamid.cv-night-5.5"  # the sixth: "more than 5"


def test_replayed_rate_records_count_once():
    """A kill -9 before the commit replays scan and rate records (issue 25 saw 128 false `after_hours.frequent`
    alerts after one); counted by message id, a replayed message counts once."""
    night = [scan_record(i, f"cv-replay-{i}", "employee", "boa noite", ["after_hours.employee_message"], minutes=i)
             for i in range(5)]
    outputs, _ = on_records(night + night, RULES, lambda k: State(), TOPICS)  # the batch, replayed
    rates = [o for o in outputs if o.topic == TOPICS.rates]
    docs: dict[bytes, dict] = {}
    events = [SimpleNamespace(value=o.value, key=o.key, topic=TOPICS.rates, partition=0, offset=i)
              for i, o in enumerate(rates + rates)]
    alerts, _ = on_rates(events, RULES, lambda k: docs.setdefault(k, {}), TOPICS)
    assert alerts == []  # five messages, not twenty: "more than 5" does not hold
    sixth = scan_record(6, "cv-replay-6", "employee", "boa noite", ["after_hours.employee_message"], minutes=6)
    more, _ = on_records([sixth], RULES, lambda k: State(), TOPICS)
    event = [SimpleNamespace(value=o.value, key=o.key, topic=TOPICS.rates, partition=0, offset=99)
             for o in more if o.topic == TOPICS.rates]
    (alert,) = [Alert.model_validate_json(o.value) for o in on_rates(event, RULES, lambda k: docs[k], TOPICS)[0]]
    assert alert.message_id == "wamid.cv-replay-6.6"


def test_without_an_employee_rates_count_the_business_number():
    night = [scan_record(i, f"cv-nobody-{i}", "employee", "boa noite", ["after_hours.employee_message"], minutes=i,
                         employee=None) for i in range(6)]
    outputs, _ = on_records(night, RULES, lambda k: State(), TOPICS)
    assert {o.key for o in outputs if o.topic == TOPICS.rates} == {b"277321005464405"}


def test_a_partition_just_assigned_waits_for_its_backlog_before_the_wall_clock_judges():
    """After a restart the states come back from the changelog before the backlog holding their replies
    has been read: nothing is due until the backlog flows, or the grace passes without any."""
    from chatwatch.streams.agents.conversation import StreamClock

    wall, mono = [T0.timestamp() + 3600], [0.0]
    clock = StreamClock(30, wall=lambda: wall[0], monotonic=lambda: mono[0])
    clock.assigned({0, 1})
    assert clock.now(0) == 0.0  # before: the wall clock, and every restored deadline fired
    mono[0] += 5
    clock.saw(0, T0 + timedelta(minutes=1))  # the backlog: an hour-old reply arrives in time
    assert clock.now(0) == (T0 + timedelta(minutes=1)).timestamp()
    mono[0] += 30
    assert clock.now(1) == wall[0]  # partition 1 had no backlog: after the grace, the wall clock


def test_deadlines_follow_message_time_while_messages_flow_and_the_wall_clock_when_quiet():
    from chatwatch.streams.agents.conversation import StreamClock

    wall, mono = [T0.timestamp() + 86400 * 365], [0.0]  # a backlog a year old is being replayed
    clock = StreamClock(30, wall=lambda: wall[0], monotonic=lambda: mono[0])
    clock.saw(0, T0)
    assert clock.now(0) == T0.timestamp()  # the replay's own time: its later replies can still meet the clock
    mono[0] += 10
    clock.saw(0, T0 + timedelta(minutes=5))
    assert clock.now(0) == (T0 + timedelta(minutes=5)).timestamp()
    mono[0] += 31  # quiet: the conversation really went silent
    assert clock.now(0) == wall[0]
    assert clock.now(1) == wall[0]  # a partition with no messages at all


def test_a_history_import_months_old_keeps_its_states_while_it_flows():
    """The sweep judged idleness by the wall clock: each conversation of an import months old lost its state
    between two of its messages and started again (a second privacy-notice clock fired on a conversation
    whose notice had been sent). Idle is measured on the partition's clock, in message time while it flows."""
    from chatwatch.streams.agents.conversation import StreamClock, is_idle

    wall, mono = [T0.timestamp() + 86400 * 200], [0.0]  # the import is 200 days old
    clock = StreamClock(30, wall=lambda: wall[0], monotonic=lambda: mono[0])
    table: dict[bytes, bytes] = {}
    first = [scan_record(1, "cv-old", "customer", "Olá, meu pedido não chegou"),
             scan_record(2, "cv-old", "employee", "Olá! Seus dados seguem nossa Política de Privacidade",
                         ["privacy_notice.sent"], minutes=1)]
    _, states = on_records(first, RULES, lambda k: State.decode(table.get(k)), TOPICS, clock)
    state = states[b"cv-old"]
    assert not state.pending()  # the notice met its clock: nothing keeps the state alive but its age
    clock.saw(0, T0 + timedelta(minutes=1))
    assert not is_idle(state, clock.now(0), 8 * 86400)  # before: 200 days idle by the wall, dropped
    mono[0] += 31  # the import is over and the partition quiet: now the wall clock says idle
    assert is_idle(state, clock.now(0), 8 * 86400)
