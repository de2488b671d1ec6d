"""The webhook receiver process on the real broker: verification, signatures, size cap, raw bytes kept."""

from __future__ import annotations

import urllib.parse
import uuid

from chatwatch.streams.demo.stack import LocalStack, http_status


def _marker_body() -> bytes:
    marker = uuid.uuid4().hex
    return ('{"object":"whatsapp_business_account","entry":[],"marker":"%s"}' % marker).encode()


def _raw_bodies(stack: LocalStack, want: int, timeout_s: float) -> list[bytes]:
    import asyncio

    from chatwatch.streams.demo.stack import read_topic

    return asyncio.run(read_topic(stack.kafka_bootstrap, stack.topic("raw"), want, timeout_s, raw=True))


def test_get_verification(stack: LocalStack):
    ok = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": stack.verify_token}
    assert http_status(f"{stack.webhook_url}?{urllib.parse.urlencode(ok)}") == 200
    bad = {**ok, "hub.verify_token": "meatyhamhock"}
    assert http_status(f"{stack.webhook_url}?{urllib.parse.urlencode(bad)}") == 403


def test_signed_body_is_stored_byte_for_byte(stack: LocalStack):
    body = _marker_body()
    assert stack.post(body) == (200, "ok")
    stored = _raw_bodies(stack, want=10_000, timeout_s=5)
    assert body in stored


def test_forged_or_missing_signature_is_refused_and_nothing_is_produced(stack: LocalStack):
    forged, unsigned = _marker_body(), _marker_body()
    assert stack.post(forged, signature="sha256=" + "0" * 64)[0] == 401
    assert stack.post(unsigned, signature=None)[0] == 401
    # a signed sentinel posted afterwards proves the topic was read past the refused requests
    sentinel = _marker_body()
    assert stack.post(sentinel)[0] == 200
    stored = _raw_bodies(stack, want=10_000, timeout_s=5)
    assert sentinel in stored
    assert forged not in stored and unsigned not in stored


def test_body_over_the_cap_gets_413(stack: LocalStack):
    huge = b'{"object":"whatsapp_business_account","pad":"' + b"x" * 3_200_000 + b'"}'
    assert stack.post(huge)[0] == 413
