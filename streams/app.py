"""Builds the Faust worker app from Settings: the selected roles (streams/roles.py), and the HTTP pages SREs need.

Pages on the worker's web port:
  /metrics   Prometheus exposition
  /healthz   200 while the process runs; 503 when a partition is stuck or NER children keep dying
  /ready     200 once partitions are assigned and no rebalance is in progress (503 before)
  /rules     the running rule packs (ids, versions), when they loaded, the last rejected reload
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chatwatch import logs
from chatwatch.settings import Settings
from chatwatch.streams import deadletter, roles
from chatwatch.streams.active_rules import ActiveRules
from chatwatch.streams.agents.role import WorkerContext
from chatwatch.streams.kafka_security import ssl_context
from chatwatch.streams.topics import TopicNames, wait_for_topics
from chatwatch.streams.watchdog import PartitionWatchdog

log = logging.getLogger(__name__)


def faust_credentials(settings: Settings) -> Any:
    """`broker_credentials` from the same TLS/SASL settings every other Kafka client uses (None: plaintext)."""
    context = ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL_"):
        return faust.SASLCredentials(username=settings.kafka_sasl_username, password=settings.kafka_sasl_password_text,
                                     ssl_context=context, mechanism=settings.kafka_sasl_mechanism)
    return faust.SSLCredentials(context) if context is not None else None


class WorkerApp(faust.App):
    """A Faust app that runs `before_stop` callbacks first when it stops (SIGTERM): Faust then waits
    for every event handed to an agent to be acked, so pending archive batches and in-flight outputs
    are written; the callbacks add what Faust does not know about (due notifications)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.before_stop: list[Callable[[], Awaitable[None]]] = []

    async def on_stop(self) -> None:
        for callback in self.before_stop:
            try:
                await callback()
            except Exception:
                log.exception("shutdown step %s failed", getattr(callback, "__name__", callback))
        await super().on_stop()


def create_app(settings: Settings, active: ActiveRules | None,
               attach: Callable[[WorkerApp, WorkerContext], None] | None = None) -> tuple[WorkerApp, WorkerContext]:
    """The worker app for the configured roles: only the agents, models and connections those roles need.
    `attach` adds what runs beside the roles in this process (the CLI's: the console on the archive's client)."""
    selected = roles.select(settings.worker_roles)
    ctx = WorkerContext(settings, TopicNames.from_settings(settings), roles.group_id(settings, selected), active)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    deadletter.limit_payload(settings.deadletter_max_payload_bytes)
    app = WorkerApp(
        ctx.group_id,
        broker=[f"kafka://{hp.strip()}" for hp in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
        autodiscover=False,
        store="memory://",
        datadir=str(settings.data_dir / ctx.group_id),
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
        # A killed worker's partitions move after the session timeout (Faust's default: 60 s). Heartbeats
        # run on the consumer's own thread, so a busy event loop does not miss them.
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=settings.kafka_session_timeout_s / 4,
        broker_commit_every=500,
        broker_commit_interval=1.0,
        producer_acks=-1,
        consumer_max_fetch_size=max(settings.raw_record_max_bytes, 4 * 1024 * 1024),
        # Faust's own pages would show table contents (notification state: snippets, names) to anyone
        # on the port: only /metrics, /healthz, /ready and /rules are served.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
    )
    log.info("worker roles: %s (consumer group %s)", ", ".join(r.name for r in selected), ctx.group_id)
    for role in selected:
        if role.needs_rules and active is None:
            raise ValueError(f"the {role.name} role needs rule packs")
        role.register(app, ctx)
    if any(role.needs_rules for role in selected):
        _register_rule_reload(app, active, settings.rules_reload_interval_s)
    if attach is not None:
        attach(app, ctx)
    watchdog = _register_watchdog(app, ctx.topics, settings.stuck_partition_after_s)
    _register_pages(app, active, watchdog, ctx.health)
    return app, ctx


def run_worker(settings: Settings, rules: ActiveRules | None, loglevel: str,
               attach: Callable[[WorkerApp, WorkerContext], None] | None = None) -> None:
    """Wait for Kafka and create the topics, build the app, run what the roles need done first (e.g. read
    the identity links), then run it until SIGTERM/SIGINT (Faust's worker owns the loop)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(wait_for_topics(settings))
    app, ctx = create_app(settings, rules, attach)
    for step in ctx.before_start:
        loop.run_until_complete(step())
    faust.Worker(app, loglevel=loglevel, loop=loop,
                 logging_config=logs.logging_config(loglevel, settings.log_format)).execute_from_commandline()


def _register_rule_reload(app: faust.App, active: ActiveRules, interval_s: float) -> None:
    @app.task
    async def on_sighup() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, active.reload, "SIGHUP")

    if interval_s > 0:
        @app.timer(interval_s)
        async def watch_rules() -> None:
            # Loading is CPU work of a few ms for real packs; a thread keeps the agents responsive.
            await asyncio.to_thread(active.reload_if_changed)


def _register_watchdog(app: faust.App, topics: TopicNames, stuck_after_s: float) -> PartitionWatchdog | None:
    if stuck_after_s <= 0:
        return None
    watchdog = PartitionWatchdog(stuck_after_s)
    watched = {*topics.all(), topics.notify}  # what agents read (not changelogs: Faust commits none for them)

    @app.timer(max(1.0, min(30.0, stuck_after_s / 5)))
    async def watch_partitions() -> None:
        consumer = app.consumer
        tps = [tp for tp in consumer.assignment() if tp.topic in watched]
        if not tps or app.rebalancing:
            return
        ends = await consumer.highwaters(*tps)
        positions = {(tp.topic, tp.partition): (consumer._committed_offset.get(tp), ends[tp]) for tp in tps if tp in ends}
        for topic, partition in watchdog.observe(positions):
            log.error("partition %s[%d] is stuck: records wait and its committed offset has not moved for %.0fs",
                      topic, partition, stuck_after_s)

    return watchdog


def _register_pages(app: faust.App, active: ActiveRules | None, watchdog: PartitionWatchdog | None,
                    health: dict[str, Callable[[], bool]]) -> None:
    @app.page("/rules")
    async def rules_info(self: Any, request: Any) -> Any:
        return self.json(active.info() if active else {"packs": [], "note": "this worker has no scan role"})

    @app.page("/metrics")
    async def prometheus(self: Any, request: Any) -> Any:
        return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(self: Any, request: Any) -> Any:
        stuck = [f"{topic}[{partition}]" for topic, partition in (watchdog.stuck if watchdog else [])]
        failing = [name for name, healthy in health.items() if not healthy()]  # e.g. NER children that keep dying
        status = "stuck" if stuck else f"{failing[0]}_unavailable" if failing else "ok"
        parts = {name: "unavailable" if name in failing else "ok" for name in health}
        return self.json({"status": status, "stuck_partitions": stuck, "ner": "ok", **parts},
                         status=503 if stuck or failing else 200)

    @app.page("/ready")
    async def ready(self: Any, request: Any) -> Any:
        assigned = sorted({tp.topic for tp in app.consumer.assignment()}) if app.consumer else []
        ok = bool(assigned) and not app.rebalancing
        return self.json({"ready": ok, "topics": assigned}, status=200 if ok else 503)
