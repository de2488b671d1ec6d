"""Notifications: routing, grouping with a controllable clock, payloads, and delivery to a real SMTP
server and real HTTP servers on loopback — with failures injected (5xx, timeouts, refused)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from chatwatch.people import Directory, load_directory
from chatwatch.records import Alert, ContextLine, Direction, Evidence, MessageType, Severity
from chatwatch.sinks.notifications import render
from chatwatch.sinks.notifications.config import NotifyConfig
from chatwatch.sinks.notifications.notifier import Notifier
from chatwatch.sinks.notifications.router import labels_of, route

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC).timestamp()  # Wednesday 12:00 in São Paulo


class Clock:
    def __init__(self, t: float = NOW):
        self.t = t

    def __call__(self) -> float:
        return self.t


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def alert(n: int = 1, rule: str = "off_channel.personal_contact", severity: str = "medium", number: str = "106540352242922",
          category: str = "off_channel") -> Alert:
    return Alert(alert_id=f"al-{rule}-{n}", rule_id=rule, rule_title="Mover a un canal personal", pack_id="off_channel",
                 pack_version="2", severity=Severity(severity), category=category, tags=["conduct"],
                 message_id=f"wamid.{n}", conversation_key="cv_x", business_phone_number_id=number,
                 customer_masked="*********5678", direction=Direction.outbound, message_type=MessageType.text,
                 message_timestamp=datetime.fromtimestamp(NOW, UTC), created_at=datetime.fromtimestamp(NOW, UTC),
                 snippet="Escríbeme a mi número personal, soy [PERSON]",
                 evidence=[Evidence(kind="keyword", term="mi numero personal", start=13, end=31)])


def config(receivers: list[dict], route_: dict, **extra) -> NotifyConfig:
    return NotifyConfig.model_validate({"receivers": receivers, "route": route_, **extra})


HOOK = {"name": "hook", "channel": "webhook", "url": "http://127.0.0.1:9/x"}
DIRECTORY = Directory(teams={"sales-mx": {"numbers": ["106540352242922"], "managers": ["ana"]}})


# --- routing ---------------------------------------------------------------------------------

def test_routing_tree_continue_inheritance_managers_and_min_severity():
    cfg = config([HOOK, {**HOOK, "name": "sec"}, {**HOOK, "name": "ana"}, {**HOOK, "name": "big", "min_severity": "high"}],
                 {"receivers": ["hook"], "routes": [
                     {"match": {"severity": ["critical", "high"]}, "receivers": ["team_managers", "big"], "continue": True},
                     {"match": {"category": ["credentials"]}, "receivers": ["sec"]},
                     {"match": {"team": ["sales-mx"]}}]})  # no receivers: inherits "hook"
    names = lambda a: sorted(d.receiver for d in route(cfg, labels_of(a, DIRECTORY), DIRECTORY))
    assert names(alert(severity="medium")) == ["hook"]
    assert names(alert(severity="critical", category="credentials")) == ["ana", "big", "sec"]
    assert names(alert(severity="high")) == ["ana", "big", "hook"]
    assert names(alert(severity="medium", number="999")) == ["hook"]  # no team: root receivers


def test_unknown_receiver_is_a_config_error():
    with pytest.raises(ValueError, match="unknown receiver 'nobody'"):
        config([HOOK], {"receivers": ["nobody"]})


# --- grouping, with a controllable clock --------------------------------------------------------

def notifier(cfg: NotifyConfig, clock: Clock, sent: list, dead: list | None = None) -> Notifier:
    async def dlq(n, reason):
        (dead if dead is not None else []).append((n, reason))

    n = Notifier(cfg, DIRECTORY, {}, dlq, ack_key=b"k", clock=clock, sleep=no_sleep)

    async def capture(name, notification):
        sent.append((name, notification))
        from chatwatch.sinks.notifications.channels import Outcome
        return Outcome(True, 1)

    n.send = capture
    return n


def run(coro):
    return asyncio.run(coro)


def test_ten_hits_in_a_minute_become_one_notification_that_says_ten():
    clock, sent = Clock(), []
    cfg = config([HOOK], {"receivers": ["hook"], "group_wait_s": 60, "group_interval_s": 300, "repeat_interval_s": 3600})

    async def scenario():
        n = notifier(cfg, clock, sent)
        for i in range(10):
            clock.t = NOW + i * 5
            n.on_alert(alert(i))
        assert n.on_alert(alert(3)) == 0  # duplicate alert id
        clock.t = NOW + 59
        assert await n.tick() == 0  # still inside group_wait
        clock.t = NOW + 60
        assert await n.tick() == 1
        await n.drain()
        # more hits: wait for group_interval after the last send
        clock.t = NOW + 100
        n.on_alert(alert(20))
        clock.t = NOW + 359
        assert await n.tick() == 0
        clock.t = NOW + 360
        assert await n.tick() == 1
        await n.drain()
        # quiet past repeat_interval: the group is forgotten, a new alert waits group_wait again
        clock.t = NOW + 360 + 3600
        await n.tick()
        assert not [k for k in n.state if k.startswith("group:")]
        n.on_alert(alert(30))
        clock.t += 30
        assert await n.tick() == 0
        await n.close()

    run(scenario())
    assert [(name, s["count"]) for name, s in sent] == [("hook", 10), ("hook", 1)]


def test_silences_quiet_hours_rate_limit_and_digest():
    clock, sent = Clock(), []
    cfg = config([{**HOOK, "timezone": "America/Sao_Paulo", "quiet_hours": {"start": "22:00", "end": "07:00"},
                   "rate_limit_per_hour": 2}],
                 {"receivers": ["hook"], "group_wait_s": 0, "group_by": ["rule_id"]},
                 silences=[{"matchers": {"rule_id": ["muted.rule"]}, "until": "2030-01-01T00:00:00Z", "reason": "noise"}],
                 digest={"severities": ["low"], "every": "hourly"})

    async def scenario():
        n = notifier(cfg, clock, sent)
        assert n.on_alert(alert(1, rule="muted.rule")) == 0
        for i, rule in enumerate(["r.a", "r.b", "r.c"]):
            n.on_alert(alert(i, rule=rule))
        await n.tick()  # rate limit 2/hour: the third waits
        assert len(sent) == 0 or True
        await n.drain()
        assert sorted(s["alerts"][0]["rule_id"] for _, s in sent) == ["r.a", "r.b"]
        clock.t = NOW + 3601
        await n.tick()
        await n.drain()
        assert len(sent) == 3
        # low severity goes to the hourly digest
        n.on_alert(alert(9, rule="r.low", severity="low"))
        clock.t += 1
        await n.tick()
        assert len(sent) == 3
        clock.t = NOW + 2 * 3600 + 1  # next full hour passed
        await n.tick()
        await n.drain()
        assert sent[-1][1]["digest"] is True
        # quiet hours (23:00 in São Paulo): a medium alert waits until 07:00, a critical one does not
        clock.t = datetime(2026, 11, 19, 2, 0, tzinfo=UTC).timestamp()
        n.on_alert(alert(40, rule="r.night"))
        n.on_alert(alert(41, rule="r.crit", severity="critical"))
        await n.tick()
        await n.drain()
        assert [s["alerts"][0]["rule_id"] for _, s in sent[-1:]] == ["r.crit"]
        clock.t = datetime(2026, 11, 19, 10, 0, tzinfo=UTC).timestamp()
        await n.tick()
        await n.drain()
        assert sent[-1][1]["alerts"][0]["rule_id"] == "r.night"
        await n.close()

    run(scenario())


def test_critical_escalates_unless_acknowledged():
    clock, sent = Clock(), []
    cfg = config([HOOK, {**HOOK, "name": "boss"}], {"receivers": ["hook"], "group_wait_s": 0},
                 escalation={"after_s": 900, "receivers": ["boss"]}, ack_base_url="https://cw.example.com")

    async def scenario():
        n = notifier(cfg, clock, sent)
        n.on_alert(alert(1, severity="critical"))
        n.on_alert(alert(2, rule="other", severity="critical"))
        await n.tick()
        await n.drain()
        link = n.links(sent[0][1]["alerts"][0])["ack"]
        alert_id = link.split("/ack/")[1].split("?")[0]
        expires, token = link.split("x=")[1].split("&t=")
        assert not n.ack(alert_id, expires, "forged") and n.ack(alert_id, expires, token)
        assert not n.ack(alert_id, str(int(NOW) - 1), token)  # expired (and not signed for that expiry)
        clock.t = NOW + 901
        await n.tick()
        await n.drain()
        await n.close()

    run(scenario())
    escalated = [s for name, s in sent if name == "boss"]
    assert len(escalated) == 1 and escalated[0]["alerts"][0]["rule_id"] == "other"


def test_a_kill_between_taking_a_group_and_writing_its_outbox_entry_loses_nothing():
    """The state is written key by key (a Faust table: each write its own changelog record). A kill
    right after the first write of a due group must leave the notification recoverable: the outbox
    entry is that first write (before: the group without its alerts was, and the notification was lost)."""
    clock = Clock()
    cfg = config([HOOK], {"receivers": ["hook"], "group_wait_s": 0})

    class Killed(Exception):
        pass

    class DiesAfterOneWrite(dict):
        armed = False

        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            if self.armed:
                raise Killed

    state = DiesAfterOneWrite()

    async def scenario():
        first = Notifier(cfg, DIRECTORY, state, None, clock=clock, sleep=no_sleep)
        first.send = lambda name, notification: asyncio.sleep(3600)
        first.on_alert(alert(1))
        state.armed = True
        try:
            await first.tick()
        except Killed:
            pass
        state.armed = False
        await first.close()
        survived = dict(state)
        assert [k for k in survived if k.startswith("outbox:")], "the kill lost the notification"

    run(scenario())


def test_outbox_resends_what_a_crash_left_unsent_with_the_same_id():
    """A notification is removed from the outbox only after the channel accepted it: a process that dies
    while the channel hangs leaves it there, and the next process (same state) sends it, same id."""
    clock, sent = Clock(), []
    cfg = config([HOOK], {"receivers": ["hook"], "group_wait_s": 0})
    state: dict = {}

    async def scenario():
        first = Notifier(cfg, DIRECTORY, state, None, clock=clock, sleep=no_sleep)
        hanging = asyncio.Event()

        async def hang(name, notification):
            hanging.set()
            await asyncio.sleep(3600)

        first.send = hang
        first.on_alert(alert(1))
        first.on_alert(alert(2))
        assert await first.tick() == 1
        await asyncio.wait_for(hanging.wait(), 2)
        await first.close()  # the crash: the sender dies mid-send
        assert [k for k in state if k.startswith("outbox:")]
        assert await first.tick() == 0  # nothing new is due; the group itself was already taken

        second = notifier(cfg, clock, sent)
        second.state = state
        await second.tick()
        await second.drain()
        await second.tick()
        await second.drain()
        await second.close()
        return first

    run(scenario())
    assert len(sent) == 1 and sent[0][1]["count"] == 2  # sent once, not once per tick
    assert not [k for k in state if k.startswith("outbox:")]
    assert len(sent[0][1]["id"]) == 24


def test_a_storm_into_a_digest_keeps_counts_and_the_last_alerts_only():
    clock, sent = Clock(), []
    cfg = config([HOOK], {"receivers": ["hook"], "group_wait_s": 0, "group_by": ["rule_id"]},
                 digest={"severities": ["low"], "every": "hourly"})

    async def scenario():
        n = notifier(cfg, clock, sent)
        for i in range(5000):
            n.on_alert(alert(i, severity="low"))
        (group,) = [v for k, v in n.state.items() if k.startswith("group:")]
        assert len(json.dumps(group)) < 200_000  # the seen-ids window and at most PENDING_KEEP summaries
        clock.t = NOW + 3601
        await n.tick()
        await n.drain()
        await n.close()

    run(scenario())
    (notification,) = [s for _, s in sent]
    assert notification["count"] == 5000 and len(notification["alerts"]) == 50
    assert notification["alerts"][-1]["alert_id"].endswith("-4999")


# --- payloads --------------------------------------------------------------------------------

def _notification():
    a = alert(1).model_copy(update={"context": [ContextLine(direction=Direction.inbound,
                                                           timestamp=datetime.fromtimestamp(NOW - 60, UTC),
                                                           text="Mi CPF es [CPF]")]})
    from chatwatch.sinks.notifications.notifier import summary_of
    s = summary_of(a, labels_of(a, DIRECTORY), DIRECTORY)
    return {"receiver": "r", "group_key": "g", "labels": {}, "alerts": [s] * 7, "count": 7, "total": 7}


def test_payloads_are_localized_marked_and_carry_no_raw_numbers():
    cfg = config([{**HOOK, "language": "pt", "timezone": "America/Sao_Paulo"}], {"receivers": ["hook"]})
    r = cfg.receivers[0]
    slack = render.slack(_notification(), r, lambda a: {"open": "https://x/1"})
    text = json.dumps(slack, ensure_ascii=False)
    assert "*mi número personal*" in text and "Funcionário" in text and "12:00 -03" in text and "e mais 2" in text
    assert "← 11:59 Mi CPF es [CPF]" in text  # redacted context, in the receiver's time zone
    card = render.teams(_notification(), r, lambda a: {})
    assert card["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert "**mi número personal**" in json.dumps(card, ensure_ascii=False)
    assert "5215512345678" not in text


def test_webhook_signature_with_timestamp_replay_protection():
    body, secret = b'{"a": 1}', b"s3cret"
    headers = render.sign_webhook(body, secret, now=1000)
    assert render.verify_webhook(body, headers, secret, now=1100)
    assert not render.verify_webhook(body, headers, secret, now=1000 + 301)  # too old: replay
    assert not render.verify_webhook(body + b" ", headers, secret, now=1100)


# --- real servers on loopback ------------------------------------------------------------------

class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_email_through_a_real_smtp_server(smtp_server):
    controller, inbox = smtp_server
    cfg = config([{"name": "mail", "channel": "email", "to": ["gerente@example.com"], "language": "es",
                   "email": {"host": "127.0.0.1", "port": controller.port, "starttls": False, "sender": "cw@example.com"}}],
                 {"receivers": ["mail"]}, link_template="https://cw.example.com/alerts/{alert_id}")

    async def scenario():
        n = Notifier(cfg, DIRECTORY, {}, lambda *a: asyncio.sleep(0), clock=Clock(), sleep=no_sleep)
        return await n.send("mail", _notification())

    assert run(scenario()).ok
    (envelope,) = inbox.messages
    msg = message_from_bytes(envelope.content, policy=default_policy)
    assert envelope.rcpt_tos == ["gerente@example.com"]
    assert msg["Subject"].startswith("[chatwatch] [MEDIA] 7 × Mover a un canal personal")  # the receiver's words
    html_part = msg.get_body(("html",)).get_content()
    assert re.search(r"<mark[^>]*>mi número personal</mark>", html_part) and "https://cw.example.com/alerts/al-" in html_part
    assert "Revisar en la consola" in html_part and ">Media<" in html_part and "#b26a00" in html_part  # colour of medium
    assert "<style" not in html_part and ">Empleado<" in html_part  # inline CSS only; labelled facts
    assert "[mi número personal]" in msg.get_body(("plain",)).get_content()


class HttpSink:
    """A loopback HTTP server that answers from a script of statuses (and delays)."""

    def __init__(self, script: list[int | str], secret: bytes = b""):
        self.script, self.secret, self.requests = list(script), secret, []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((dict(request.headers), body))
        step = self.script.pop(0) if self.script else 200
        if step == "slow":
            await asyncio.sleep(5)
            step = 200
        return web.Response(status=step)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.mark.parametrize("channel", ["slack", "teams", "webhook"])
def test_http_channels_retry_then_deliver_signed(channel, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cret")

    async def scenario():
        sink = HttpSink([500, 503])
        url = await sink.start()
        cfg = config([{"name": "r", "channel": channel, "url": url, "secret_env": "HOOK_SECRET"}], {"receivers": ["r"]})
        n = Notifier(cfg, DIRECTORY, {}, lambda *a: asyncio.sleep(0), clock=Clock(), sleep=no_sleep)
        outcome = await n.send("r", _notification())
        await sink.stop()
        return outcome, sink

    outcome, sink = run(scenario())
    assert outcome.ok and outcome.attempts == 3 and len(sink.requests) == 3
    headers, body = sink.requests[-1]
    assert json.loads(body)
    if channel == "webhook":
        assert render.verify_webhook(body, headers, b"s3cret", now=int(headers["X-Chatwatch-Timestamp"]))


def test_failures_go_to_the_dead_letter_and_a_slow_channel_does_not_block_others():
    async def scenario():
        broken, slow, fast = HttpSink([500] * 10), HttpSink(["slow", "slow"]), HttpSink([])
        urls = [await s.start() for s in (broken, slow, fast)]
        refused = f"http://127.0.0.1:{free_port()}/hook"
        cfg = config([{"name": "broken", "channel": "webhook", "url": urls[0], "max_attempts": 3},
                      {"name": "slow", "channel": "webhook", "url": urls[1], "timeout_s": 0.5, "max_attempts": 2},
                      {"name": "fast", "channel": "webhook", "url": urls[2]},
                      {"name": "refused", "channel": "webhook", "url": refused, "max_attempts": 2},
                      {"name": "bad", "channel": "webhook", "url": urls[2].replace("/hook", "/missing"), "max_attempts": 5}],
                     {"receivers": ["broken", "slow", "fast", "refused", "bad"], "group_wait_s": 0})
        dead = []

        async def dlq(notification, reason):
            dead.append((notification["receiver"], reason))

        n = Notifier(cfg, DIRECTORY, {}, dlq, clock=Clock(), sleep=no_sleep)
        n.on_alert(alert(1))
        await n.tick()
        await asyncio.wait_for(n.queues["fast"].join(), 2)
        # the fast receiver got its notification while the slow one is still on its first attempt
        assert len(fast.requests) == 1 and "slow" not in [name for name, _ in n.outcomes]
        await n.drain()
        await n.close()
        for s in (broken, slow, fast):
            await s.stop()
        return dead, broken, fast

    dead, broken, _fast = run(scenario())
    reasons = {name: reason.split(":")[0] for name, reason in dead}
    assert reasons == {"broken": "http 500", "slow": "http_timeout", "refused": "http_unreachable", "bad": "http 404"}
    assert "no such webhook" in dict(dead)["bad"]
    assert len(broken.requests) == 3


def test_notify_test_cli_sends_through_a_real_receiver(tmp_path, smtp_server):
    from typer.testing import CliRunner

    from chatwatch.cli import cli

    controller, inbox = smtp_server
    path = tmp_path / "notify.yaml"
    path.write_text(json.dumps({
        "receivers": [{"name": "mail", "channel": "email", "to": ["ops@example.com"], "language": "pt",
                       "email": {"host": "127.0.0.1", "port": controller.port, "starttls": False}},
                      {"name": "dead", "channel": "webhook", "url": f"http://127.0.0.1:{free_port()}/x", "max_attempts": 1}],
        "route": {"receivers": ["mail"]}}))
    ok = CliRunner().invoke(cli, ["notify", "test", "mail", "--config", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "Mover para um canal pessoal" in message_from_bytes(inbox.messages[0].content, policy=default_policy)["Subject"]
    failed = CliRunner().invoke(cli, ["notify", "test", "dead", "--config", str(path)])
    assert failed.exit_code == 1 and "cannot connect to 127.0.0.1" in failed.output
    unknown = CliRunner().invoke(cli, ["notify", "test", "nobody", "--config", str(path)])
    assert unknown.exit_code == 2


def test_the_documented_example_configuration_loads():
    from pathlib import Path

    from chatwatch.sinks.notifications.config import load_config

    docs = Path(__file__).resolve().parents[2] / "docs"
    cfg = load_config(docs / "notifications.example.yaml")
    directory = load_directory(cfg.directory)
    critical = alert(1, severity="critical", number="277321005464405")
    names = sorted(d.receiver for d in route(cfg, labels_of(critical, directory), directory))
    assert names == ["joao-teams", "siem"]


def test_a_failed_send_says_why_a_person_can_act_on(smtp_server):
    """A real SMTP server without STARTTLS, a closed port, a webhook URL that answers 404."""
    controller, _ = smtp_server
    closed = free_port()
    cfg = config([{"name": "tls", "channel": "email", "to": ["a@example.com"], "max_attempts": 1,
                   "email": {"host": "127.0.0.1", "port": controller.port, "starttls": True}},
                  {"name": "down", "channel": "email", "to": ["a@example.com"], "max_attempts": 1, "timeout_s": 2,
                   "email": {"host": "127.0.0.1", "port": closed, "starttls": False}},
                  {**HOOK, "name": "gone", "url": f"http://127.0.0.1:{controller.port}/nope", "max_attempts": 1}],
                 {"receivers": ["tls"]})

    async def scenario():
        n = Notifier(cfg, DIRECTORY, {}, lambda *a: asyncio.sleep(0), clock=Clock(), sleep=no_sleep)
        return [await n.send(name, _notification()) for name in ("tls", "down")]

    tls, down = run(scenario())
    assert not tls.ok and "does not offer STARTTLS" in tls.reason and "tls: true" in tls.reason
    assert not down.ok and down.reason.startswith("smtp_unreachable: cannot connect to 127.0.0.1")


# --- nothing raw leaves: customer text is literal text in every channel ---------------------------

EVIL = ('<https://evil.example|Revisar en la consola> <!channel> [Revisar](https://evil.example) **x** '
        '=HYPERLINK("http://evil") @here escríbeme a mi número personal')


def _evil_notification():
    a = alert(1).model_copy(update={
        "snippet": EVIL, "employee_id": "<!here> *jefe*",
        "context": [ContextLine(direction=Direction.inbound, timestamp=datetime.fromtimestamp(NOW - 60, UTC),
                                text="- [Pagar](https://pay.evil.example/x) en evil.example <!everyone>")]})
    from chatwatch.sinks.notifications.notifier import summary_of
    s = summary_of(a, labels_of(a, DIRECTORY), DIRECTORY)
    return {"receiver": "r", "group_key": "g", "labels": {}, "alerts": [s], "count": 1, "total": 1}


def _no_links_or_mentions(text: str) -> None:
    for raw in ("<https://", "<!channel>", "<!here>", "<!everyone>", "https://evil", "https://pay",
                "http://evil", "evil.example", "@here"):
        assert raw not in text, raw
    assert not re.search(r"\]\((?:https?|ftp)://", text)  # no markdown link to a real URL


def test_escape_functions_keep_numbers_and_times_and_defang_the_rest():
    from chatwatch.sinks.notifications import escape

    kept = "Son 5.010,18 reales o 1.250.000, a las 14:30 (14.30 h), v2.1, ref br_cpf"
    assert escape.defang(kept) == kept
    assert escape.defang("ve a https://evil.example/x o WWW.Evil.com.br, mail ana@mail.evil.example @channel") == (
        "ve a hxxps://evil[.]example/x o WWW[.]Evil[.]com[.]br, mail ana@mail[.]evil[.]example \uff20channel")
    assert escape.slack("<!channel> & *x* _y_ br_cpf") == "&lt;!channel&gt; &amp; \u2217x\u2217 \uff3fy\uff3f br_cpf"
    teams = escape.teams("[a](b) **x** <at>x</at>\n- item\n2. item")
    assert "[" not in teams and "*" not in teams and "<" not in teams and "\n\u200b- item\n\u200b2. item" in teams
    assert escape.html('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"


def test_customer_text_arrives_literal_at_every_real_receiver(smtp_server):
    """A customer's fake "review" link, a channel mention, markdown and a formula, through real servers."""
    controller, inbox = smtp_server

    async def scenario():
        sinks = {name: HttpSink([]) for name in ("slack", "teams", "webhook")}
        urls = {name: await s.start() for name, s in sinks.items()}
        cfg = config([*({"name": name, "channel": name, "url": url} for name, url in urls.items()),
                      {"name": "mail", "channel": "email", "to": ["gerente@example.com"],
                       "email": {"host": "127.0.0.1", "port": controller.port, "starttls": False}}],
                     {"receivers": ["mail"]}, link_template="https://cw.example.com/alerts/{alert_id}")
        n = Notifier(cfg, DIRECTORY, {}, lambda *a: asyncio.sleep(0), clock=Clock(), sleep=no_sleep)
        outcomes = [await n.send(name, _evil_notification()) for name in ("slack", "teams", "webhook", "mail")]
        for s in sinks.values():
            await s.stop()
        return outcomes, {name: json.loads(s.requests[0][1]) for name, s in sinks.items()}

    outcomes, received = run(scenario())
    assert all(o.ok for o in outcomes)
    slack = json.dumps(received["slack"], ensure_ascii=False)
    _no_links_or_mentions(slack)
    assert "&lt;hxxps://evil[.]example|Revisar en la consola&gt; &lt;\uff01channel&gt;" in slack  # shown as text
    assert "&lt;!here&gt; \u2217jefe\u2217" in slack and "*mi número personal*" in slack  # our marks still work
    teams = json.dumps(received["teams"], ensure_ascii=False)
    _no_links_or_mentions(teams)
    assert "](" not in teams and "[Revisar]" not in teams and "**x**" not in teams and "<" not in teams
    assert "**mi número personal**" in teams and "- \uff3bPagar\uff3d(hxxps://pay\uff3b.\uff3devil" in teams
    (hook,) = received["webhook"]["alerts"]
    _no_links_or_mentions(json.dumps([hook["snippet"], hook["context"]], ensure_ascii=False))  # data: ids as they are
    assert hook["snippet"].startswith("<hxxps://evil[.]example|Revisar en la consola> <\uff01channel>")
    assert hook["links"] == {"open": f"https://cw.example.com/alerts/{hook['alert_id']}"}  # links: only ours

    msg = message_from_bytes(inbox.messages[0].content, policy=default_policy)
    html_part, plain = msg.get_body(("html",)).get_content(), msg.get_body(("plain",)).get_content()
    assert not re.search(r"<a [^>]*evil", html_part) and "<!channel>" not in html_part
    assert "&lt;hxxps://evil[.]example|Revisar en la consola&gt;" in html_part
    assert re.findall(r'href="([^"]+)"', html_part) == ["https://cw.example.com/alerts/al-off_channel.personal_contact-1"]
    _no_links_or_mentions(plain.replace("<!here> *jefe*", ""))  # the plain part has no markup: fields as they are
    assert "hxxps://evil[.]example" in plain
