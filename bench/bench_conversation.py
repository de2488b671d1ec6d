"""Conversation rules: cost per message and memory for many active conversations (run by hand).

    cd bench && ../.venv/bin/python bench_conversation.py --conversations 1000000

Plays short conversations (customer opens, employee answers most of the time, PII now and then,
complaints and off-channel invitations rarely) through the shipped packs' conversation rules, as
the worker's conversation agent does: the scan record's JSON is read, the state decoded, the rules
run and the state encoded into a dict of bytes (what Faust's memory store holds). Reports the
agent's own cost per message, the state sizes, and the resident memory the states take (the table
of one worker holding every conversation; with standby replicas each worker holds its partitions'
copies too).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from chatwatch.detectors.conversation import State
from chatwatch.rules import SHIPPED_PACKS, load_rules_dir
from chatwatch.settings import Settings
from chatwatch.streams.agents.conversation import Rules, on_records
from chatwatch.streams.topics import TopicNames

T0 = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
LINES = [  # (sender, text, message rules, pii)
    ("customer", "Hola, ¿tienen envío a Monterrey?", [], {}),
    ("customer", "Oi, meu pedido não chegou", [], {}),
    ("employee", "Claro, ¿me das tu número de pedido?", [], {}),
    ("employee", "Olá! Nosso aviso de privacidade: https://exemplo.com.br/lgpd", ["privacy_notice.sent"], {}),
    ("customer", "Meu CPF é <BR_CPF>", [], {"br_cpf": 1}),
    ("customer", "mi correo <EMAIL>", [], {"email": 1}),
    ("customer", "Quiero poner una queja", ["off_channel.customer_complaint"], {}),
    ("employee", "Escríbeme a mi número personal", ["off_channel.personal_contact"], {}),
]
WEIGHTS = [30, 30, 25, 8, 3, 3, 0.5, 0.5]


def record(key: str, n: int, at: datetime, line: tuple) -> SimpleNamespace:
    sender, text, rules, pii = line
    doc = {"message": {"message_id": f"wamid.{key}.{n}", "conversation_key": key, "timestamp": at.isoformat(),
                       "direction": "inbound" if sender == "customer" else "outbound", "type": "text",
                       "business_phone_number_id": "277321005464405", "customer_wa_id": "5511940001111",
                       "employee_id": "ana" if sender == "employee" else None, "text": text},
           "text_mode": "redacted", "pii": pii, "rule_ids": rules,
           "alert_ids": ["x"] if "off_channel.personal_contact" in rules else []}
    return SimpleNamespace(value=json.dumps(doc).encode(), topic="scans", partition=0, offset=n, key=key.encode())


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200_000)
    parser.add_argument("--messages", type=int, default=4, help="messages per conversation")
    args = parser.parse_args()
    ruleset = load_rules_dir(SHIPPED_PACKS)
    rules = Rules(lambda: ruleset)
    topics = TopicNames.from_settings(Settings())
    table: dict[bytes, bytes] = {}
    rnd = random.Random(7)
    gc.collect()
    before = rss_mib()

    def read(key: bytes) -> State:
        return State.decode(table.get(key))

    spent, messages, alerts = 0.0, 0, 0
    batch = 256
    for start in range(0, args.conversations, batch):
        keys = [f"cv_{i:09d}" for i in range(start, min(start + batch, args.conversations))]
        for n in range(args.messages):
            records = []
            for i, key in enumerate(keys):
                line = LINES[0 if n == 0 else rnd.choices(range(len(LINES)), WEIGHTS)[0]]
                records.append(record(key, n, T0 + timedelta(minutes=n * 3, seconds=i), line))
            started = time.perf_counter()
            outputs, states = on_records(records, rules, read, topics)
            for k, state in states.items():
                table[k] = state.encode()
            spent += time.perf_counter() - started
            messages += len(records)
            alerts += sum(o.topic == topics.alerts for o in outputs)
        if start % 100_000 < batch and start:
            print(f"  {start:,} conversations, {rss_mib() - before:,.0f} MiB", flush=True)
    gc.collect()
    used = rss_mib() - before
    sizes = sorted(len(v) for v in table.values())
    print(f"{args.conversations:,} conversations × {args.messages} messages = {messages:,} messages, "
          f"{alerts:,} conversation alerts")
    print(f"conversation agent's own work: {spent / messages * 1e6:.1f} µs/message "
          f"({messages / spent:,.0f} msg/s on one core; JSON read, state decode, rules, state encode)")
    print(f"state bytes: median {sizes[len(sizes) // 2]}, p99 {sizes[int(len(sizes) * 0.99)]}, max {sizes[-1]}")
    print(f"resident memory for the states: {used:,.0f} MiB = {used * 1024 * 1024 / len(table):,.0f} bytes per "
          f"conversation (keys, values and the dict)")


if __name__ == "__main__":
    main()
