"""Notifications from the real worker: alerts -> grouped, signed webhook calls on a loopback server;
after a restart the state comes back from the changelog, so replays are not notified again; a
notification in flight when the worker is killed is sent again by the next one (the outbox)."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from chatwatch.rules import SHIPPED_PACKS, load_rules_dir
from chatwatch.sinks.notifications.render import verify_webhook
from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack

WED = 1_763_560_800
# The messages here carry year-old timestamps, so the shipped conversation rules (privacy notice,
# service level) fire on them at once; they are notified too, in their own groups, and left out here.
CONVERSATION_RULES = {r.id for _, r in load_rules_dir(SHIPPED_PACKS).conversation_rules()}


class Capture(BaseHTTPRequestHandler):
    received: ClassVar[list] = []  # notifications of message-rule alerts
    hang = threading.Event()  # set: take the request, never answer (a channel stuck mid-send)
    hung: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Capture.hang.is_set():
            Capture.hung.append(body)
            while Capture.hang.is_set():
                time.sleep(0.1)
            return  # the worker that asked is gone; drop the connection without an answer
        if json.loads(body).get("labels", {}).get("rule_id") not in CONVERSATION_RULES:
            Capture.received.append((dict(self.headers), body))  # these tests follow message rules' alerts
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hook_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def notify_stack(kafka_bootstrap, tmp_path_factory, hook_server):
    folder = tmp_path_factory.mktemp("notify")
    (folder / "notify.yaml").write_text(json.dumps({
        "receivers": [{"name": "siem", "channel": "webhook", "url": hook_server, "secret_env": "CW_HOOK_SECRET",
                       "timeout_s": 60}],
        "route": {"receivers": ["siem"], "group_by": ["rule_id", "business_number"], "group_wait_s": 1,
                  "group_interval_s": 2, "repeat_interval_s": 600}}))
    stack = LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=folder / "logs",
                       extra_env={"CHATWATCH_NOTIFY_CONFIG": str(folder / "notify.yaml"), "CW_HOOK_SECRET": "k3y",
                                  "CHATWATCH_NOTIFY_TICK_S": "0.2", "CHATWATCH_CLICKHOUSE_ENABLED": "false"})
    with stack:
        yield stack


def wait_for(n: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(Capture.received) < n:
        assert time.monotonic() < deadline, f"{len(Capture.received)} notification(s), wanted {n}"
        time.sleep(0.2)


def test_grouped_signed_notifications_and_no_repeat_after_restart(notify_stack: LocalStack):
    run = uuid.uuid4().hex[:6]
    bodies = [envelopes.dumps(envelopes.message(
        phone_number_id="277321005464405", display="551140040000", customer=f"551198765{i:04d}", wamid=f"wamid.{run}.{i}",
        timestamp=WED + i, text="Me chama no privado, meu zap pessoal", outbound=True)) for i in range(4)]
    for body in bodies:
        assert notify_stack.post(body)[0] == 200
    wait_for(1)
    time.sleep(3)  # a second notification would come within group_interval if grouping failed
    assert len(Capture.received) == 1
    headers, body = Capture.received[0]
    assert verify_webhook(body, headers, b"k3y", now=time.time())
    payload = json.loads(body)
    assert payload["count"] == 4 and payload["labels"]["rule_id"] == "off_channel.personal_contact"
    assert all(a["customer_masked"].startswith("*") for a in payload["alerts"])
    assert "5511987650001" not in body.decode()

    notify_stack.stop()
    notify_stack.start()
    for body in bodies:  # the same alerts again (Meta retried, or a replay)
        assert notify_stack.post(body)[0] == 200
    new = envelopes.dumps(envelopes.message(phone_number_id="277321005464405", display="551140040000",
                                            customer="5511912340000", wamid=f"wamid.{run}.new", timestamp=WED + 60,
                                            text="meu zap pessoal é esse", outbound=True))
    assert notify_stack.post(new)[0] == 200
    wait_for(2)
    time.sleep(2)
    assert len(Capture.received) == 2
    second = json.loads(Capture.received[1][1])
    assert second["count"] == 1 and second["alerts"][0]["message_timestamp"].startswith("2025-11-19T14:01")


def test_a_notification_in_flight_when_the_worker_is_killed_is_sent_by_the_next_one(notify_stack: LocalStack):
    run = uuid.uuid4().hex[:6]
    Capture.hang.set()
    try:
        body = envelopes.dumps(envelopes.message(
            phone_number_id="277321005469999", display="551140049999", customer="5511987659999",
            wamid=f"wamid.{run}.k", timestamp=WED + 120, text="me chama no meu zap pessoal", outbound=True))
        assert notify_stack.post(body)[0] == 200
        deadline = time.monotonic() + 60
        while not Capture.hung:
            assert time.monotonic() < deadline, "the notification never reached the channel"
            time.sleep(0.2)
        time.sleep(1)  # the outbox entry was written before the send began; let its changelog record out
        notify_stack.signal("worker", signal.SIGKILL)
        notify_stack.processes["worker"].wait(10)
    finally:
        Capture.hang.clear()
    before = len(Capture.received)
    notify_stack.stop()
    notify_stack.start()
    wait_for(before + 1)
    time.sleep(2)
    resent = [json.loads(b) for _, b in Capture.received[before:]]
    assert len(resent) == 1
    assert resent[0]["id"] == json.loads(Capture.hung[0])["id"]
    assert resent[0]["alerts"][0]["customer_masked"].endswith("9999")


def test_alerts_on_history_sync_are_archived_not_notified(notify_stack: LocalStack):
    run = uuid.uuid4().hex[:6]
    biz, display, customer = "277321005464499", "551140049999", "5511987650999"
    past = {"from": display, "id": f"wamid.{run}.past", "timestamp": str(WED - 86_400), "type": "text",
            "text": {"body": "Me chama no privado, meu zap pessoal"}, "history_context": {"status": "READ"}}
    history = envelopes.envelope(biz, display, "history", {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": display, "phone_number_id": biz},
        "history": [{"metadata": {"phase": 0, "chunk_order": 1, "progress": 100},
                     "threads": [{"id": customer, "messages": [past]}]}]})
    before = len(Capture.received)
    assert notify_stack.post(envelopes.dumps(history))[0] == 200
    (alert,) = notify_stack.read("alerts", 1, 60, where=lambda a: a["message_id"] == f"wamid.{run}.past"
                                 and a["rule_id"] == "off_channel.personal_contact")
    assert alert["historical"] is True and alert["direction"] == "outbound"

    live = envelopes.dumps(envelopes.message(phone_number_id=biz, display=display, customer=customer,
                                             wamid=f"wamid.{run}.live", timestamp=WED, text="meu zap pessoal é esse",
                                             outbound=True))
    assert notify_stack.post(live)[0] == 200
    wait_for(before + 1)
    time.sleep(3)  # the historical alert, had it been forwarded, would be in this group or the next
    sent = [json.loads(body) for _, body in Capture.received[before:]]
    assert [n["count"] for n in sent] == [1]  # the live alert alone, at its own time
    assert sent[0]["alerts"][0]["message_timestamp"].startswith("2025-11-19T14:00")
