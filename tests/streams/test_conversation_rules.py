"""Conversation rules end to end on the real broker: an absence fires on silence, once, from the
worker's timer, and a worker killed with -9 before the deadline still raises it exactly once."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest

from chatwatch.rules import SHIPPED_PACKS
from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack, read_topic
from tests.streams.test_roles import archived

BR = {"phone_number_id": "277321005464405", "display": "551140040000"}
RULE = "e2e.notice_missing"
PACK = """
pack: {id: e2e, version: 1, title: Privacy notice (short deadline for tests)}
lists:
  notice: [aviso de privacidade, aviso de privacidad]
rules:
  - id: e2e.notice_sent
    title: Notice sent
    severity: info
    category: privacy
    alert: false
    scope: {sender: employee}
    match: {any: [$notice]}
conversation:
  - id: e2e.notice_missing
    title: Privacy notice not sent
    severity: medium
    category: privacy
    absence:
      after: conversation_start
      expect: {from: employee, rule: e2e.notice_sent}
      within: {minutes: %s}
"""


def stack_with_deadline(folder: Path, kafka_bootstrap: str, seconds: float, archive: bool = False) -> LocalStack:
    rules = folder / "rules"
    shutil.copytree(SHIPPED_PACKS, rules)
    (rules / "e2e.yaml").write_text(PACK % (seconds / 60))
    return LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=folder / "logs", rules_dir=rules,
                      extra_env={"CHATWATCH_PII_NER": "false", "CHATWATCH_CONVERSATION_TICK_S": "0.5",
                                 "CHATWATCH_CONVERSATION_IDLE_GRACE_S": "1",
                                 "CHATWATCH_CLICKHOUSE_ENABLED": str(archive).lower(),
                                 "CHATWATCH_RECORD_BATCH_WAIT_S": "0.5"})


def new_customer() -> str:
    return "55119" + str(uuid.uuid4().int)[:8]


def say(stack: LocalStack, customer: str, wamid: str, text: str, outbound: bool = False) -> None:
    body = envelopes.dumps(envelopes.message(**BR, customer=customer, wamid=wamid, timestamp=int(time.time()),
                                             text=text, outbound=outbound))
    assert stack.post(body)[0] == 200


def question_without_notice(stack: LocalStack, question: str, answer: str) -> tuple[str, str]:
    """A new conversation: the customer asks, the employee answers without the notice. (run, customer)"""
    run, customer = uuid.uuid4().hex[:8], new_customer()
    say(stack, customer, f"wamid.{run}.1", question)
    say(stack, customer, f"wamid.{run}.2", answer, outbound=True)
    return run, customer


def notice_alerts(stack: LocalStack, run: str, settle_s: float, timeout_s: float = 90) -> list[dict]:
    return stack.read("alerts", 1, timeout_s, settle_s=settle_s,
                      where=lambda a: a["rule_id"] == RULE and a["message_id"].startswith(f"wamid.{run}"))


def test_the_notice_never_sent_raises_one_alert_after_the_deadline_with_no_further_message(
        kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    with stack_with_deadline(tmp_path_factory.mktemp("conv"), kafka_bootstrap, 6, archive=True) as stack:
        run, customer = question_without_notice(stack, "Oi, quero abrir uma conta", "Claro! Qual o seu nome completo?")
        other = new_customer()  # a conversation that does get the notice in time
        say(stack, other, f"wamid.{run}.ok1", "Oi")
        say(stack, other, f"wamid.{run}.ok2", "Oi! Nosso aviso de privacidade: https://exemplo.com.br/lgpd",
            outbound=True)
        started = time.monotonic()
        (alert,) = notice_alerts(stack, run, settle_s=8)
        assert time.monotonic() - started >= 4  # raised by the deadline, not by a message
        assert alert["message_id"] == f"wamid.{run}.1" and "conversation" in alert["tags"]
        assert [e["term"] for e in alert["evidence"] if e["kind"] == "message"] == [f"wamid.{run}.1"]
        assert alert["context"][0]["text"] == "Oi, quero abrir uma conta"  # the redacted line (nothing to redact)
        assert customer not in json.dumps(alert)  # the customer's number is masked
    stored = archived(stack, f"SELECT rule_id, count() AS n FROM chatwatch.alerts FINAL "
                             f"WHERE message_id LIKE 'wamid.{run}.%' AND rule_id = '{RULE}' GROUP BY rule_id")
    assert stored == [{"rule_id": RULE, "n": 1}]  # archived like any other alert


def test_a_worker_killed_before_the_deadline_still_raises_it_exactly_once(
        kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    with stack_with_deadline(tmp_path_factory.mktemp("conv-kill"), kafka_bootstrap, 25) as stack:
        run, _ = question_without_notice(stack, "Hola, quiero un préstamo", "¿Me das tu CPF?")
        changelog = f"{stack.topic_prefix}-worker-conversations-changelog"
        assert asyncio.run(read_topic(stack.kafka_bootstrap, changelog, 1, 60, where=lambda s: s["n"] == 2))  # stored
        stack.signal("worker", signal.SIGKILL)
        stack.processes["worker"].wait(10)
        stack.spawn("worker")
        stack.wait_until(f"{stack.worker_url}/ready", 150)
        (alert,) = notice_alerts(stack, run, settle_s=10)
        assert alert["message_id"] == f"wamid.{run}.1"
        stack.signal("worker", signal.SIGKILL)  # and once more after it fired: the state says it did
        stack.processes["worker"].wait(10)
        stack.spawn("worker")
        stack.wait_until(f"{stack.worker_url}/ready", 150)
        assert len(notice_alerts(stack, run, settle_s=10)) == 1


def test_a_conversation_worker_waits_for_normalize_and_scan_before_the_wall_clock_judges(
        kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    """Roles apart: normalize+scan stop after a customer's first message; the employee's notice, sent in
    time, waits in the raw topic. The conversation worker's partition is quiet, but the notice is upstream:
    before, the wall clock fired "notice missing" after the grace (1 s here); now the time goes no further
    than what every stage has read, so it waits, and once normalize and scan are back only the conversation
    that really went without the notice alerts. (Before: 2 alerts while normalize was down, one false.)"""
    from chatwatch.settings import Settings
    from chatwatch.streams.demo.stack import free_port
    from chatwatch.streams.topics import ensure_topics

    stack = stack_with_deadline(tmp_path_factory.mktemp("conv-upstream"), kafka_bootstrap, 25)
    ports = {"front": free_port(), "conv": free_port()}

    def spawn(name: str, roles: str) -> None:
        stack.spawn(name, "worker", "--roles", roles, env={"CHATWATCH_WORKER_PORT": str(ports[name])})
        stack.wait_until(f"http://127.0.0.1:{ports[name]}/ready", 150)

    try:
        asyncio.run(ensure_topics(Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=stack.topic_prefix,
                                           topic_partitions=stack.partitions)))
        stack.spawn("webhook")
        stack.wait_until(f"http://127.0.0.1:{stack.webhook_port}/ready", 150)
        spawn("conv", "conversation")
        spawn("front", "normalize,scan")
        run, answered, silent = uuid.uuid4().hex[:8], new_customer(), new_customer()
        asked = time.time()
        say(stack, answered, f"wamid.{run}.a1", "Oi, quero abrir uma conta")
        say(stack, silent, f"wamid.{run}.s1", "Hola, quiero un préstamo")
        changelog = f"{stack.topic_prefix}-worker-conversations-changelog"
        states = asyncio.run(read_topic(stack.kafka_bootstrap, changelog, 2, 60, where=lambda s: s["n"] == 1))
        assert len(states) == 2  # both conversations are in the conversation worker's state
        stack.signal("front", signal.SIGTERM)
        assert stack.processes["front"].wait(60) == 0
        say(stack, answered, f"wamid.{run}.a2", "Oi! Nosso aviso de privacidade: https://exemplo.com.br/lgpd",
            outbound=True)  # in time, but nobody normalizes it now
        assert time.time() < asked + 20, "the notice must be sent before the deadline for this test to mean anything"
        time.sleep(max(0.0, asked + 25 + 10 - time.time()))  # the deadline and the grace (1 s) pass
        early = stack.read("alerts", 1, 3, where=lambda a: a["rule_id"] == RULE and run in a["message_id"])
        assert early == [], "judged by the wall clock while the notice waited in the raw topic"
        spawn("front", "normalize,scan")
        alerts = stack.read("alerts", 1, 90, settle_s=8,
                            where=lambda a: a["rule_id"] == RULE and run in a["message_id"])
        assert [a["message_id"] for a in alerts] == [f"wamid.{run}.s1"]
    finally:
        stack.stop()
