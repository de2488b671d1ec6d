"""Turns conversations.yaml into signed-ready webhook bodies, with what each should produce."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml

from chatwatch.streams.demo import envelopes

START_TS = 1_763_560_800  # Wednesday 2025-11-19 14:00 UTC (business hours): a fixed clock, comparable runs


@dataclass(frozen=True)
class DemoPayload:
    body: bytes
    wamid: str | None  # None for payloads that are not a message
    expect_rules: tuple[str, ...]  # rule ids that must fire on it
    label: str


def demo_payloads(run_id: str = "demo") -> list[DemoPayload]:
    """Every demo message as its own webhook POST (like Meta sends them), plus status updates."""
    spec = yaml.safe_load(resources.files("chatwatch.streams.demo").joinpath("conversations.yaml").read_text("utf-8"))
    out: list[DemoPayload] = []
    ts = START_TS
    for c_idx, conv in enumerate(spec["conversations"]):
        biz = spec["businesses"][conv["business"]]
        customer = conv["customer"]
        for m_idx, m in enumerate(conv["messages"]):
            ts += 37
            wamid = f"wamid.{run_id}.{c_idx}.{m_idx}"
            outbound = m["from"] == "employee"
            doc = envelopes.message(
                phone_number_id=biz["phone_number_id"], display=biz["display"], customer=customer["wa_id"],
                customer_name=customer["name"], wamid=wamid, timestamp=ts, outbound=outbound,
                text=m.get("text"), type=m.get("type", "text"), body=_body(m, wamid),
            )
            label = f"{conv['business']} {'employee' if outbound else 'customer'} {m.get('type', 'text')}"
            out.append(DemoPayload(envelopes.dumps(doc), wamid, tuple(m.get("alerts", ())), label))
            if outbound:
                st = envelopes.status(phone_number_id=biz["phone_number_id"], display=biz["display"],
                                      customer=customer["wa_id"], wamid=wamid, timestamp=ts + 2)
                out.append(DemoPayload(envelopes.dumps(st), None, (), f"{conv['business']} status delivered"))
    return out


def _body(m: dict, wamid: str) -> dict | None:
    body = m.get("body")
    if m.get("type") == "reaction" and body is not None:
        body = {**body, "message_id": wamid.rsplit(".", 1)[0] + ".0"}
    return body


BROKEN_PAYLOADS = [
    (b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[', "invalid_json"),
    (b'{"object":"whatsapp_business_account","entry":{"id":"1"}}', "invalid_shape"),
]
