"""Runs the real chatwatch processes (worker + webhook receiver) against a Kafka broker.

Used by `chatwatch demo` and by the integration tests: both start the same commands a
deployment runs, on free loopback ports, wait for readiness (no fixed sleeps), and stop them.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from chatwatch.streams.ingest.whatsapp_webhook import SIGNATURE_HEADER, sign


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


@dataclass
class LocalStack:
    kafka_bootstrap: str
    log_dir: Path
    topic_prefix: str = field(default_factory=lambda: f"cw-{secrets.token_hex(4)}")
    app_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    verify_token: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    rules_dir: Path | None = None
    partitions: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    worker_port: int = field(default_factory=free_port)
    webhook_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATWATCH_")}
        env.update(
            CHATWATCH_KAFKA_BOOTSTRAP=self.kafka_bootstrap,
            CHATWATCH_TOPIC_PREFIX=self.topic_prefix,
            CHATWATCH_TOPIC_PARTITIONS=str(self.partitions),
            CHATWATCH_WORKER_PORT=str(self.worker_port),
            CHATWATCH_WEBHOOK_PORT=str(self.webhook_port),
            CHATWATCH_APP_SECRET=self.app_secret,
            CHATWATCH_VERIFY_TOKEN=self.verify_token,
            CHATWATCH_CLICKHOUSE_PATH=str(self.clickhouse_path),
            CHATWATCH_DATA_DIR=str(self.log_dir / "worker-data"),
        )
        if self.rules_dir is not None:
            env["CHATWATCH_RULES_DIR"] = str(self.rules_dir)
        env.update(self.extra_env)
        return env

    def signal(self, name: str, sig: int) -> None:
        self.processes[name].send_signal(sig)

    @property
    def clickhouse_path(self) -> Path:
        """The embedded ClickHouse of this stack's worker (readable once the worker stopped)."""
        return self.log_dir / "clickhouse"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}/webhooks/whatsapp"

    @property
    def worker_url(self) -> str:
        return f"http://127.0.0.1:{self.worker_port}"

    def start(self, timeout_s: float = 150.0, wait_ready: bool = True) -> None:
        for name in ("webhook", "worker"):
            self.spawn(name)
        if wait_ready:
            self.wait_until(f"http://127.0.0.1:{self.webhook_port}/ready", timeout_s)
            self.wait_until(f"{self.worker_url}/ready", timeout_s)

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        """Start one process, e.g. again after it was killed: `chatwatch <name> args` ("webhook", "worker"),
        or, when `args` are given, `chatwatch args` under that name (several workers with other roles)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:  # the child keeps its own descriptor
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "chatwatch.cli", *(args or (name,))], env={**self.env, **(env or {})},
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )

    def wait_until(self, url: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}\n"
                                       + self.tail(name))
            if http_status(url) == 200:
                return
            time.sleep(0.5)
        raise TimeoutError(f"{url} not ready after {timeout_s:.0f}s; logs in {self.log_dir}")

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()

    def topic(self, suffix: str) -> str:
        return f"{self.topic_prefix}.{suffix}"

    def post(self, body: bytes, signature: str | None = "auto", timeout: float = 15.0) -> tuple[int, str]:
        """POST a body to the webhook, signed with the stack's secret unless told otherwise."""
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            signature = sign(body, self.app_secret.encode())
        if signature is not None:
            headers[SIGNATURE_HEADER] = signature
        req = urllib.request.Request(self.webhook_url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def read(self, suffix: str, want: int, timeout_s: float = 60.0,
             where: Callable[[dict[str, Any]], bool] = lambda r: True, settle_s: float = 0.0) -> list[dict[str, Any]]:
        """JSON records of a topic (from the start) that satisfy `where`, until `want` or the timeout;
        then, with `settle_s`, on until the topic has been quiet that long (so extras show up too)."""
        return asyncio.run(read_topic(self.kafka_bootstrap, self.topic(suffix), want, timeout_s, where,
                                      settle_s=settle_s))

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def read_topic(bootstrap: str, topic: str, want: int, timeout_s: float,
                     where: Callable[[dict[str, Any]], bool] = lambda r: True, raw: bool = False,
                     settle_s: float = 0.0) -> list[Any]:
    """Read a topic from the start until `want` matching records arrived or the timeout passed."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    found: list[Any] = []
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            if len(found) >= want and time.monotonic() - quiet_since >= settle_s:
                break
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for r in records:
                    value = r.value if raw else json.loads(r.value)
                    if raw or where(value):
                        found.append(value)
                        quiet_since = time.monotonic()
    finally:
        await consumer.stop()
    return found
