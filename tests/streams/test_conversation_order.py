"""Property: whatever the delivery, the conversation rules raise the alerts of one in-order pass.

A seeded generator writes conversations with the shipped packs' events (notices, complaints,
off-channel invitations, identifiers, card requests, flagged messages deleted or edited away, replies
late and in time), then delivers them the way the pipeline can: several partitions interleaved, random
batch sizes, late arrivals (each message up to the allowed lateness behind newer ones of its
partition, so deletes and edits often arrive before their originals), duplicates, and crashes between
sending alerts and writing states (the batch comes again, the stream clock starts over). The agent's
own steps run it (`on_records`, `on_time`, `StreamClock`, the table as bytes); the reference is one
in-order pass, one message at a time, with no lateness allowed. The two must raise the same alert ids.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from chatwatch.detectors.conversation import State, next_deadline
from chatwatch.rules import SHIPPED_PACKS, load_rules_dir
from chatwatch.streams.agents.conversation import Rules, StreamClock, on_records, on_time, partition_of
from tests.streams.test_agents import TOPICS

T0 = datetime(2026, 11, 18, 13, 0, tzinfo=UTC)  # a Wednesday, 10:00 in São Paulo: business hours
LATENESS_S = 60.0
PARTITIONS = 3
RULESET = load_rules_dir(SHIPPED_PACKS)
PII_TYPES = ["br_cpf", "email", "phone", "iban", "mx_curp", "es_dni"]


def conversation(rng: random.Random, n: int) -> list[dict]:
    """One conversation's scan records in the order they were written (distinct seconds)."""
    key = f"cv{n}"
    at, docs, flagged = T0 + timedelta(seconds=rng.randrange(0, 600)), [], []
    for i in range(rng.randrange(3, 16)):
        gap = rng.choice([rng.uniform(1, 20)] * 2 + [rng.uniform(30, 300)] * 5 + [rng.uniform(600, 2400)] * 2)
        at += timedelta(seconds=int(gap) + 1)
        sender = rng.choice(["customer", "employee"])
        rules, pii, alerted = [], [], False
        roll = rng.random()
        if sender == "employee":
            if roll < 0.25:
                rules = ["privacy_notice.sent"]
            elif roll < 0.4:
                rules, alerted = ["off_channel.personal_contact"], True
            elif roll < 0.5:
                rules = ["payment_data.card_requested"]
        else:
            if roll < 0.2:
                rules = ["off_channel.customer_complaint"]
            elif roll < 0.5:
                pii = rng.sample([*PII_TYPES, "payment_card"], rng.randrange(1, 3))
                alerted = rng.random() < 0.5
        message_id = f"wamid.{key}.{i}"
        docs.append(record(key, message_id, at, sender, rules, pii, alerted))
        if (alerted or rules == ["privacy_notice.sent"]) and rng.random() < 0.4:
            flagged.append((message_id, at, sender, alerted))
    taken = {d["message"]["timestamp"] for d in docs}
    for j, (target, written, sender, alerted) in enumerate(flagged):  # deleted, or a notice edited away
        at = written + timedelta(seconds=rng.randrange(5, 45))
        while at.isoformat() in taken:  # messages written in the same second keep their arrival order:
            at += timedelta(seconds=1)  # "in order" means something only where the times differ
        taken.add(at.isoformat())
        kind = "deleted" if alerted or rng.random() < 0.5 else "edited"
        docs.append(record(key, f"wamid.{key}.{kind}{j}", at, sender, [], [], False, kind, target))
    return sorted(docs, key=lambda d: d["message"]["timestamp"])


def record(key: str, message_id: str, at: datetime, sender: str, rules: list, pii: list, alerted: bool,
           kind: str = "text", target: str | None = None) -> dict:
    message = {"message_id": message_id, "conversation_key": key, "type": kind, "timestamp": at.isoformat(),
               "direction": "inbound" if sender == "customer" else "outbound",
               "business_phone_number_id": "277321005464405", "customer_wa_id": "5511940001111",
               "employee_id": "ana" if sender == "employee" else None, "text": f"{kind} {message_id}"}
    if target:
        message["target_message_id"] = target
    return {"message": message, "text_mode": "redacted", "pii": {t: 1 for t in pii}, "rule_ids": rules,
            "alert_ids": ["a"] if alerted else []}


def as_event(doc: dict, offset: int) -> SimpleNamespace:
    key = doc["message"]["conversation_key"].encode()
    return SimpleNamespace(value=json.dumps(doc).encode(), key=key, topic=TOPICS.scans,
                           partition=partition_of(key, PARTITIONS), offset=offset)


class Worker:
    """The conversation agent's loop without Kafka: a table of bytes that survives crashes, a stream
    clock and a timer that do not."""

    def __init__(self, lateness_s: float):
        self.rules, self.lateness_s = Rules(lambda: RULESET, lateness_s), lateness_s
        self.table: dict[bytes, bytes] = {}
        self.alerts: list[tuple[str, str]] = []
        self.wall, self.mono = [T0.timestamp()], [0.0]
        self.restart()

    def restart(self) -> None:
        self.clock = StreamClock(30, wall=lambda: self.wall[0], monotonic=lambda: self.mono[0],
                                 lateness_s=self.lateness_s)
        self.clock.assigned(set(range(PARTITIONS)))

    def read(self, key: bytes) -> State:
        return State.decode(self.table.get(key))

    def batch(self, events: list, crash: bool = False) -> None:
        self.mono[0] += 0.01
        outputs, states = on_records(events, self.rules, self.read, TOPICS, self.clock)
        self.sent(outputs)
        if crash:
            return  # killed after the alerts went out, before the states were written
        self.write(states)
        self.tick()

    def tick(self) -> None:
        due = []
        for key, raw in self.table.items():
            deadline = next_deadline(State.decode(raw))
            judged = self.clock.now(partition_of(key, PARTITIONS))
            if deadline is not None and judged > deadline:
                due.append((key, datetime.fromtimestamp(judged, UTC)))
        outputs, states = on_time(due, self.rules, self.read, TOPICS)
        self.sent(outputs)
        self.write(states)

    def end(self) -> None:
        """Everything delivered; then the partitions go quiet and the wall clock runs on for days."""
        self.wall[0], self.mono[0] = T0.timestamp() + 7 * 86400, self.mono[0] + 3600
        self.tick()

    def sent(self, outputs: list) -> None:
        for out in outputs:
            assert out.topic == TOPICS.alerts, json.loads(out.value)  # no dead letters
            alert = json.loads(out.value)
            self.alerts.append((alert["rule_id"], alert["alert_id"]))

    def write(self, states: dict[bytes, State]) -> None:
        for key, state in states.items():
            self.table[key] = state.encode()


def in_order(docs: list[dict]) -> set[tuple[str, str]]:
    worker = Worker(lateness_s=0.0)
    for n, doc in enumerate(sorted(docs, key=lambda d: d["message"]["timestamp"])):
        worker.batch([as_event(doc, n)])
    worker.end()
    assert len(worker.alerts) == len(set(worker.alerts))
    return set(worker.alerts)


def disordered(docs: list[dict], rng: random.Random) -> list[tuple[str, str]]:
    """Late by up to the lateness (by arrival time), duplicated, in random batches, with crashes."""
    arrival = sorted(docs, key=lambda d: datetime.fromisoformat(d["message"]["timestamp"]).timestamp()
                     + rng.uniform(0, LATENESS_S - 1))
    stream, again = [], []
    for doc in arrival:
        stream.append(doc)
        stream += [d for d, after in again if after <= len(stream)]
        again = [(d, after) for d, after in again if after > len(stream)]
        if rng.random() < 0.1:  # delivered twice, a few records later (a retried webhook, a redelivered batch)
            again.append((doc, len(stream) + rng.randrange(0, 4)))
    stream += [d for d, _ in again]
    worker = Worker(lateness_s=LATENESS_S)
    offset = 0
    while offset < len(stream):
        size = rng.randrange(1, 25)
        events = [as_event(doc, offset + i) for i, doc in enumerate(stream[offset:offset + size])]
        if rng.random() < 0.08:
            worker.batch(events, crash=True)
            worker.restart()  # the batch comes again after the restart
        worker.batch(events)
        offset += size
    worker.end()
    return worker.alerts


@pytest.mark.parametrize("seed", range(30))
def test_any_delivery_raises_the_alerts_of_one_in_order_pass(seed):
    rng = random.Random(seed)
    docs = [doc for n in range(8) for doc in conversation(rng, n)]
    want = in_order(docs)
    got = disordered(docs, rng)
    assert set(got) == want, f"missing {sorted(want - set(got))}, extra {sorted(set(got) - want)}"


def test_the_generator_exercises_every_conversation_rule():
    """A property over conversations where nothing fires would prove nothing."""
    fired = set()
    for seed in range(30):
        rng = random.Random(seed)
        fired |= {rule for rule, _ in in_order([doc for n in range(8) for doc in conversation(rng, n)])}
    assert fired >= {"privacy_notice.missing", "service_level.unanswered", "off_channel.after_complaint",
                     "payment_data.card_and_code", "pii.identifiers_accumulating",
                     "deletions.flagged_message_deleted"}
