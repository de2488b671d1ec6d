"""Builds the Faust worker app from Settings: topics, agents, and the HTTP pages SREs need.

Pages on the worker's web port:
  /metrics   Prometheus exposition
  /healthz   200 while the process runs
  /ready     200 once partitions are assigned and no rebalance is in progress (503 before)
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from detectors.scanner import Scanner
from rules import load_rules_dir
from sinks import metrics
from streams.agents import normalize, scan
from streams.settings import Settings
from streams.topics import TopicNames

log = logging.getLogger(__name__)


def load_scanner(settings: Settings) -> Scanner:
    """Load and compile the rules folder; a RulePackError propagates with file:line detail."""
    ruleset = load_rules_dir(settings.rules_dir)
    scanner = Scanner(ruleset)
    metrics.rule_packs.clear()
    for pack_id, version in ruleset.versions().items():
        metrics.rule_packs.labels(pack_id, version).set(1)
    metrics.rules_loaded.set(len(ruleset.rules()))
    log.info("rules loaded: %s", ", ".join(f"{p}@{v}" for p, v in ruleset.versions().items()) or "none")
    return scanner


def create_app(settings: Settings, scanner: Scanner | None = None) -> faust.App:
    topics = TopicNames.from_settings(settings)
    app = faust.App(
        settings.group_id,
        broker=[f"kafka://{hp.strip()}" for hp in settings.kafka_bootstrap.split(",")],
        autodiscover=False,
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
        web_host=settings.worker_host,
        web_bind=settings.worker_host,
        web_port=settings.worker_port,
        web_in_thread=False,
        broker_commit_every=500,
        broker_commit_interval=1.0,
        producer_acks=-1,
    )
    state: dict[str, Any] = {"scanner": scanner or load_scanner(settings)}
    normalize.register(app, topics)
    scan.register(app, topics, lambda: state["scanner"])
    _register_pages(app)
    return app


def _register_pages(app: faust.App) -> None:
    @app.page("/metrics")
    async def prometheus(self: Any, request: Any) -> Any:
        return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(self: Any, request: Any) -> Any:
        return self.json({"status": "ok"})

    @app.page("/ready")
    async def ready(self: Any, request: Any) -> Any:
        assigned = sorted({tp.topic for tp in app.consumer.assignment()}) if app.consumer else []
        ok = bool(assigned) and not app.rebalancing
        return self.json({"ready": ok, "topics": assigned}, status=200 if ok else 503)
