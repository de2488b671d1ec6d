"""Kafka over SASL_SSL, as managed Kafka requires: a local broker with a SASL_SSL listener (made by
scripts/kafka-local: throwaway CA, PLAIN and SCRAM users) and chatwatch configured only through
environment and secret files. The processes get the SASL port alone; the test reads results over
the broker's plaintext listener."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import uuid
import warnings
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

from chatwatch.settings import Settings
from chatwatch.streams.demo.stack import LocalStack, free_port, read_topic
from chatwatch.streams.topics import TopicNames, ensure_topics
from tests.conftest import REPO
from tests.streams.test_pipeline import text

PASSWORD = "s3cret-" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("sasl-kafka")
    ports = {"KAFKA_PORT": free_port(), "KAFKA_CONTROLLER_PORT": free_port(), "KAFKA_SASL_PORT": free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "KAFKA_STATE_DIR": str(state),
           "KAFKA_SASL_USER": "cw", "KAFKA_SASL_PASSWORD": PASSWORD}
    tool = [str(REPO / "scripts" / "kafka-local")]
    subprocess.run([*tool, "start"], env=env, check=True, capture_output=True, timeout=180)
    secrets = tmp_path_factory.mktemp("secrets")
    (secrets / "kafka-password").write_text(PASSWORD + "\n")
    try:
        yield {"plain": f"127.0.0.1:{ports['KAFKA_PORT']}", "sasl": f"127.0.0.1:{ports['KAFKA_SASL_PORT']}",
               "tls": state / "tls", "password_file": secrets / "kafka-password"}
    finally:
        subprocess.run([*tool, "stop"], env=env, capture_output=True, timeout=120)


def sasl_env(broker: dict, mechanism: str, password_file: Path | None = None) -> dict[str, str]:
    tls = broker["tls"]
    return {"CHATWATCH_KAFKA_BOOTSTRAP": broker["sasl"], "CHATWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "CHATWATCH_KAFKA_SASL_MECHANISM": mechanism, "CHATWATCH_KAFKA_SASL_USERNAME": "cw",
            "CHATWATCH_KAFKA_SASL_PASSWORD_FILE": str(password_file or broker["password_file"]),
            "CHATWATCH_KAFKA_SSL_CAFILE": str(tls / "ca.pem"), "CHATWATCH_KAFKA_SSL_CERTFILE": str(tls / "client.pem"),
            "CHATWATCH_KAFKA_SSL_KEYFILE": str(tls / "client.key")}


def settings_for(env: dict[str, str], prefix: str) -> Settings:
    old = dict(os.environ)
    try:
        os.environ.update({**env, "CHATWATCH_TOPIC_PREFIX": prefix})
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(old)


async def topics_on(bootstrap: str, want: str) -> set[str]:
    """Topic names, asked until `want` shows up (metadata of a new topic takes a moment) or 15 s passed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for _ in range(30):
            names = set(await admin.list_topics())
            if want in names:
                break
            await asyncio.sleep(0.5)
        return names
    finally:
        await admin.close()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_topic_setup_authenticates_with_each_mechanism(sasl_broker, mechanism):
    prefix = f"sec-{uuid.uuid4().hex[:6]}"
    settings = settings_for(sasl_env(sasl_broker, mechanism), prefix)
    created = asyncio.run(ensure_topics(settings))
    raw = TopicNames.from_settings(settings).raw
    assert raw in created
    assert raw in asyncio.run(topics_on(sasl_broker["plain"], raw))


def test_a_wrong_password_is_refused_and_the_log_says_why(sasl_broker, tmp_path, caplog):
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password")
    settings = settings_for(sasl_env(sasl_broker, "SCRAM-SHA-512", wrong), f"sec-{uuid.uuid4().hex[:6]}")
    with pytest.raises(KafkaConnectionError):
        asyncio.run(asyncio.wait_for(ensure_topics(settings), 30))
    assert "SaslAuthenticationFailed" in caplog.text and "not-the-password" not in caplog.text
    # aiokafka leaves the refused connection's socket to the garbage collector; collect it here, where the
    # refusal is expected, so its ResourceWarning does not land in whichever test runs next
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def test_receiver_and_worker_over_sasl_ssl_alert(sasl_broker, tmp_path):
    stack = LocalStack(kafka_bootstrap=sasl_broker["sasl"], log_dir=tmp_path,
                       extra_env={**sasl_env(sasl_broker, "SCRAM-SHA-512"), "CHATWATCH_CLICKHOUSE_ENABLED": "false",
                                  "CHATWATCH_PII_NER": "false"})
    wamid = f"wamid.{uuid.uuid4().hex}"
    with stack:
        assert stack.post(text(wamid, "Escríbeme a mi número personal", outbound=True))[0] == 200
        alerts = asyncio.run(read_topic(sasl_broker["plain"], stack.topic("alerts"), 1, 90,
                                        where=lambda a: a["message_id"] == wamid))
    assert len(alerts) == 1 and alerts[0]["rule_id"] == "off_channel.personal_contact"
    log = (tmp_path / "worker.log").read_text() + (tmp_path / "webhook.log").read_text()
    assert PASSWORD not in log
