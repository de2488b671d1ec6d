"""Raw records are keyed by the conversation: one conversation's webhook bodies stay on one partition
from the receiver to the conversation rules, in the order they arrived."""

from __future__ import annotations

import asyncio
import json
import uuid

from aiokafka import AIOKafkaConsumer

from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack
from chatwatch.streams.ingest.routing import routing_key
from chatwatch.streams.ingest.whatsapp_webhook import parse_notification
from tests.conftest import shared_fixture_dir

MX = {"phone_number_id": "106540352242922", "display": "5215550001111"}


def test_the_raw_key_is_the_key_normalize_gives_every_record_of_a_real_payload():
    checked = 0
    for folder in ("whatsapp-cloud-api", "whatsapp-cloud-api-more"):
        for path in sorted(shared_fixture_dir(folder).glob("*.json")):
            body = path.read_bytes()
            try:
                parsed = parse_notification(body)
            except Exception:
                continue
            keys = {r.conversation_key for r in (*parsed.messages, *parsed.history, *parsed.statuses)
                    if getattr(r, "conversation_key", None)}
            if len(keys) == 1:
                assert routing_key(body) == keys.pop().encode(), path.name
                checked += 1
    assert checked >= 10


def test_bodies_the_router_cannot_read_get_no_key():
    for body in (b"{not json", b"{}", b'{"entry": []}', b'{"entry": [{"changes": [{"value": {}}]}]}', b"[]"):
        assert routing_key(body) is None


def test_echoes_and_groups_route_like_their_conversation():
    echo = envelopes.message(**MX, customer="5215512340000", wamid="wamid.echo", timestamp=1, text="hola", outbound=True)
    inbound = envelopes.message(**MX, customer="5215512340000", wamid="wamid.in", timestamp=2, text="hola")
    assert routing_key(envelopes.dumps(echo)) == routing_key(envelopes.dumps(inbound)) is not None
    assert routing_key(envelopes.dumps(echo)) == parse_notification(envelopes.dumps(echo)).messages[0].conversation_key.encode()


def test_one_conversation_lands_on_one_raw_partition(stack: LocalStack):
    run = uuid.uuid4().hex[:8]
    customers = [f"52155{run[:4].encode().hex()[:4]}{i:04d}" for i in range(12)]
    for n in range(4):
        for c in customers:
            body = envelopes.dumps(envelopes.message(**MX, customer=c, wamid=f"wamid.route.{run}.{c}.{n}", timestamp=n,
                                                     text=f"mensaje {n}", outbound=n % 2 == 1))
            assert stack.post(body)[0] == 200
    partitions: dict[str, set[int]] = {}
    order: dict[str, list[int]] = {}
    for record in asyncio.run(_raw_records(stack, f"wamid.route.{run}.", 48)):
        wamid = record[2]
        customer, n = wamid.split(".")[-2], int(wamid.split(".")[-1])
        partitions.setdefault(customer, set()).add(record[0])
        order.setdefault(customer, []).append(n)
    assert len(partitions) == len(customers)
    assert all(len(p) == 1 for p in partitions.values())  # before: spread over every partition
    assert all(seen == [0, 1, 2, 3] for seen in order.values())  # in the order they were posted
    assert len({p for ps in partitions.values() for p in ps}) > 1  # and conversations still spread out


async def _raw_records(stack: LocalStack, prefix: str, want: int) -> list[tuple[int, bytes, str]]:
    consumer = AIOKafkaConsumer(stack.topic("raw"), bootstrap_servers=stack.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    found = []
    try:
        for _ in range(200):
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for r in records:
                    if prefix.encode() not in (r.value or b""):
                        continue  # other tests' bodies share this stack's raw topic (some are not JSON)
                    doc = json.loads(r.value)
                    messages = doc["entry"][0]["changes"][0]["value"].get("messages") or \
                        doc["entry"][0]["changes"][0]["value"].get("message_echoes") or []
                    if messages and messages[0]["id"].startswith(prefix):
                        found.append((r.partition, r.key, messages[0]["id"]))
            if len(found) >= want:
                break
    finally:
        await consumer.stop()
    return sorted(found, key=lambda f: f[2].rsplit(".", 1)[1])
