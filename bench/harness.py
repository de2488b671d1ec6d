"""What the benchmarks that run real processes share: their own broker, a topic follower, memory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from chatwatch.streams.demo.stack import free_port

REPO = Path(__file__).resolve().parents[1]


class Broker:
    def __init__(self, state: Path):
        self.port = free_port()
        self.env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(free_port()),
                    "KAFKA_STATE_DIR": str(state)}
        self.bootstrap = f"127.0.0.1:{self.port}"

    def run(self, action: str) -> None:
        subprocess.run([str(REPO / "scripts" / "kafka-local"), action], env=self.env, check=True,
                       capture_output=True, timeout=240)


class TopicCounter:
    """Follows a topic from the start in a thread; keeps what `pick` returns for each record."""

    def __init__(self, bootstrap: str, topic: str, pick):
        self.items: list[Any] = []
        self.stamps: list[int] = []  # Kafka record timestamps (ms), in step with items
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._follow(bootstrap, topic, pick)), daemon=True)
        self._thread.start()

    async def _follow(self, bootstrap: str, topic: str, pick) -> None:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None, metadata_max_age_ms=2000,
                                    fetch_max_bytes=64 * 1024 * 1024)
        while not self._stop.is_set():
            try:
                await consumer.start()
                break
            except Exception:
                await asyncio.sleep(1)
        try:
            while not self._stop.is_set():
                try:
                    batch = await consumer.getmany(timeout_ms=300)
                except Exception:
                    await asyncio.sleep(1)
                    continue
                for records in batch.values():
                    for r in records:
                        value = pick(r.value)
                        if value is not None:
                            self.items.append(value)
                            self.stamps.append(r.timestamp)
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


