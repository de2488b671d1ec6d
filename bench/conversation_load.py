"""Scripted conversations for the fault suite's conversation rows, and the alerts one in-order pass raises.

Each conversation is written the way the shipped packs' conversation rules care about: the privacy
notice sent or not (and sometimes edited away), complaints followed by invitations to a personal
number (sometimes deleted), card requests and card numbers, identifiers piling up, replies late and
in time, employee messages at night (per-number after-hours rates). `deliver_order` says how they
reach the receiver: in written order, or each message late by up to some seconds (webhooks arrive out
of order, retries), or with edits and deletes before their originals.

The reference is not a second run of the pipeline: the scan records the faulted run produced (what
the message-level rules saw) are played through the conversation agent's own steps in written order,
one message at a time, with no lateness allowed; its alerts are what every faulted run must raise.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from chatwatch.detectors.conversation import State
from chatwatch.rules import SHIPPED_PACKS, load_rules_dir
from chatwatch.streams.agents.conversation import Rules, on_rates, on_records, on_time
from chatwatch.streams.demo import envelopes
from chatwatch.streams.topics import TopicNames

NOTICE = "Olá! Seus dados seguem nossa Política de Privacidade: https://exemplo.com.br/lgpd"
COMPLAINT = ["Quiero poner una queja, llevo una semana esperando", "Vou reclamar no Reclame Aqui",
             "péssimo atendimento, vou no Procon"]
INVITE = ["Te paso mi número personal para seguir por ahí", "Me chama no privado que te explico melhor"]
CARD_ASK = ["Me passa os dados do cartão por aqui", "Pásame el número de la tarjeta y el CVV para cobrarte"]
CARD = "mi tarjeta es 4111 1111 1111 1111"
IDS = ["meu CPF é 529.982.247-25", "mi correo es ana.souza@example.com", "IBAN ES9121000418450200051332"]
CUSTOMER = ["Hola, ¿tienen envío a Monterrey?", "Oi, meu pedido não chegou", "¿Cuánto cuesta?", "Tem em azul?",
            "Ok, gracias", "Obrigado!"]
EMPLOYEE = ["Claro, ¿me das tu número de pedido?", "Já verifiquei, sai amanhã", "Listo, quedó registrado",
            "Um momento, por favor"]
CONVERSATION_RULES = {r.id for _, r in load_rules_dir(SHIPPED_PACKS).conversation_rules()}


@dataclass
class Said:
    """One webhook message."""

    wamid: str
    at: int
    number: dict
    customer: str
    outbound: bool
    text: str | None = None
    edits: str | None = None  # the message this one edits (its new text is `text`)
    revokes: str | None = None  # the message this one deletes

    def envelope(self) -> dict:
        if self.revokes:
            return envelopes.message(**self.number, customer=self.customer, wamid=self.wamid, timestamp=self.at,
                                     type="revoke", body={"original_message_id": self.revokes},
                                     outbound=self.outbound)
        if self.edits:
            body = {"original_message_id": self.edits, "message": {"type": "text", "text": {"body": self.text}}}
            return envelopes.message(**self.number, customer=self.customer, wamid=self.wamid, timestamp=self.at,
                                     type="edit", body=body, outbound=self.outbound)
        return envelopes.message(**self.number, customer=self.customer, wamid=self.wamid, timestamp=self.at,
                                 text=self.text, outbound=self.outbound)


def numbers(count: int) -> list[dict]:
    return [{"phone_number_id": f"1065403522{i:05d}", "display": f"52155500{i:05d}"} for i in range(count)]


def conversation(rng: random.Random, run: str, n: int, start: int, number: dict) -> list[Said]:
    """One conversation's messages in written order (times distinct to the second)."""
    customer, at, out = f"55119{n:08d}", start, []

    def say(outbound: bool, text: str, gap: tuple[int, int] = (20, 240), **kw) -> Said:
        nonlocal at
        at += rng.randrange(*gap)
        said = Said(f"wamid.{run}.{n}.{len(out)}", at, number, customer, outbound, text, **kw)
        out.append(said)
        return said

    say(False, rng.choice(CUSTOMER))
    if rng.random() < 0.6:
        notice = say(True, NOTICE, (10, 60))
        if rng.random() < 0.15:
            say(True, "Olá, tudo bem?", (5, 30), edits=notice.wamid)  # the notice edited away
    for _ in range(rng.randrange(2, 8)):
        roll = rng.random()
        if roll < 0.12:
            say(False, rng.choice(COMPLAINT))
            if rng.random() < 0.6:
                invite = say(True, rng.choice(INVITE), (10, 120))
                if rng.random() < 0.3:
                    say(True, "", (5, 40), revokes=invite.wamid)
        elif roll < 0.2:
            say(True, rng.choice(CARD_ASK))
            if rng.random() < 0.7:
                say(False, CARD, (20, 120))
        elif roll < 0.35:
            say(False, rng.choice(IDS))
        elif roll < 0.45:
            say(False, rng.choice(CUSTOMER), (900, 1500))  # a gap: the previous question may go unanswered
        else:
            say(rng.random() < 0.5, rng.choice(EMPLOYEE if rng.random() < 0.5 else CUSTOMER))
    return out


def conversation_load(run: str, conversations: int, start: int, business_numbers: int = 10,
                      seed: int = 7) -> list[Said]:
    """`conversations` conversations over `business_numbers` numbers, started a few seconds apart."""
    rng = random.Random(seed)
    nums = numbers(business_numbers)
    said = []
    for n in range(conversations):
        said += conversation(rng, run, n, start + n * rng.randrange(3, 30), nums[n % len(nums)])
    return said


def deliver_order(said: list[Said], late_s: float = 0.0, edits_first: bool = False,
                  seed: int = 11) -> list[Said]:
    """The order the receiver gets them: written order, each message up to `late_s` seconds late
    (sorted by time + a random delay), and/or each edit or delete just before its original."""
    rng = random.Random(seed)
    order = sorted(said, key=lambda s: s.at + rng.uniform(0, late_s))
    if edits_first:
        for s in [s for s in order if s.edits or s.revokes]:
            order.remove(s)
            target = next(i for i, o in enumerate(order) if o.wamid == (s.edits or s.revokes))
            order.insert(target, s)
    return order


def bodies(said: list[Said], per_body: int = 1) -> list[bytes]:
    """Webhook bodies of up to `per_body` messages each, in the order given. One, as WhatsApp sends live
    messages: a body of several conversations is routed by its first, and the others may then overtake
    each other by more than any lateness allowance while a backlog is read partition by partition."""
    out = []
    for i in range(0, len(said), per_body):
        entry = [e for s in said[i:i + per_body] for e in s.envelope()["entry"]]
        out.append(envelopes.dumps({"object": "whatsapp_business_account", "entry": entry}))
    return out


def in_order_alerts(scan_values: list[bytes]) -> set[tuple[str, str]]:
    """(rule id, alert id) of the conversation alerts one in-order pass raises over these scan records
    (duplicates dropped; written order; the timer runs on past the end)."""
    by_id: dict[str, bytes] = {}
    for value in scan_values:
        by_id.setdefault(json.loads(value)["message"]["message_id"], value)
    ordered = sorted(by_id.values(), key=lambda v: json.loads(v)["message"]["timestamp"])
    topics = TopicNames("raw", "messages", "statuses", "events", "ids", "alerts", "scans", "rates", "dlq", "notify",
                        "notify.dlq")
    ruleset = load_rules_dir(SHIPPED_PACKS)
    rules = Rules(lambda: ruleset)
    table: dict[bytes, bytes] = {}
    rates: dict[bytes, bytes] = {}
    alerts: set[tuple[str, str]] = set()

    def keep(outputs: list) -> None:
        for out in outputs:
            if out.topic == topics.alerts:
                alert = json.loads(out.value)
                alerts.add((alert["rule_id"], alert["alert_id"]))
            elif out.topic == topics.rates:
                event = SimpleNamespace(value=out.value, key=out.key, topic="rates", partition=0, offset=0)
                found, docs = on_rates([event], rules, lambda k: json.loads(rates.get(k) or b"{}"), topics)
                rates.update({k: json.dumps(d).encode() for k, d in docs.items()})
                keep(found)

    for n, value in enumerate(ordered):
        doc = json.loads(value)
        event = SimpleNamespace(value=value, key=doc["message"]["conversation_key"].encode(), topic="scans",
                                partition=0, offset=n)
        outputs, states = on_records([event], rules, lambda k: State.decode(table.get(k)), topics)
        keep(outputs)
        table.update({k: s.encode() for k, s in states.items()})
    end = datetime.now(UTC) + timedelta(days=30)
    outputs, states = on_time([(k, end) for k in table], rules, lambda k: State.decode(table.get(k)), topics)
    keep(outputs)
    return alerts
