"""Builds the Faust worker app from Settings: topics, agents, and the HTTP pages SREs need.

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
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.pii.ner_pool import NerPool
from chatwatch.settings import Settings
from chatwatch.sinks.clickhouse.client import ClickHouseTarget
from chatwatch.sinks.clickhouse.ddl import Renderer
from chatwatch.sinks.clickhouse.guard import ArchiveGuard
from chatwatch.sinks.clickhouse.migrate import migrate
from chatwatch.sinks.clickhouse.writer import ArchiveWriter
from chatwatch.streams import deadletter, identities, metrics
from chatwatch.streams.active_rules import ActiveRules
from chatwatch.streams.agents import conversation, normalize, notify, record, scan
from chatwatch.streams.identities import IdentityLinks
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
        self.identity_links: IdentityLinks | None = None  # the normalize role's, loaded before the worker starts

    async def on_stop(self) -> None:
        for callback in self.before_stop:
            try:
                await callback()
            except Exception:
                log.exception("shutdown step %s failed", getattr(callback, "__name__", callback))
        await super().on_stop()


def create_app(settings: Settings, active: ActiveRules | None) -> faust.App:
    """The worker app for `settings.roles`: only the agents, models and connections those roles need."""
    topics = TopicNames.from_settings(settings)
    roles = settings.roles
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    deadletter.limit_payload(settings.deadletter_max_payload_bytes)
    app = WorkerApp(
        settings.group_id,
        broker=[f"kafka://{hp.strip()}" for hp in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings),
        autodiscover=False,
        store="memory://",
        datadir=str(settings.data_dir / settings.group_id),
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
    log.info("worker roles: %s (consumer group %s)", ", ".join(settings.roles_list), settings.group_id)
    if "normalize" in roles:
        app.identity_links = IdentityLinks()
        normalize.register(app, topics, settings.normalize_batch_size, settings.normalize_batch_wait_s, settings,
                           app.identity_links)
    ner_pool = None
    if "scan" in roles:
        assert active is not None, "the scan role needs rule packs"
        options = scan_options(settings)
        ner_pool = options.ner_pool
        scan.register(app, topics, lambda: active.scanner, options, settings.scan_batch_size,
                      settings.scan_batch_wait_s)
        _register_rule_reload(app, active, settings.rules_reload_interval_s)
    if "conversation" in roles:
        assert active is not None, "the conversation role needs rule packs"
        conversation.register(app, topics, lambda: active.scanner.ruleset, settings)
        if "scan" not in roles:
            _register_rule_reload(app, active, settings.rules_reload_interval_s)
    if "archive" in roles and settings.clickhouse_enabled:
        _register_archive(app, settings, topics)
    if "notify" in roles and settings.notify_config is not None:
        notifier = notify.register(app, topics, settings)
        app.before_stop.append(lambda: notify.flush(app, notifier, topics, settings.shutdown_grace_s))
    watchdog = _register_watchdog(app, topics, settings.stuck_partition_after_s)
    _register_pages(app, active, watchdog, ner_pool)
    return app


def run_worker(settings: Settings, rules: ActiveRules | None, loglevel: str) -> None:
    """Wait for Kafka and create the topics, build the app and run it until SIGTERM/SIGINT (Faust's worker
    owns the loop)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(wait_for_topics(settings))
    app = create_app(settings, rules)
    if app.identity_links is not None:
        loop.run_until_complete(identities.catch_up(app.identity_links, settings, TopicNames.from_settings(settings)
                                                    .identities))
    faust.Worker(app, loglevel=loglevel, loop=loop,
                 logging_config=logs.logging_config(loglevel, settings.log_format)).execute_from_commandline()


def _register_archive(app: faust.App, settings: Settings, topics: TopicNames) -> None:
    """Open ClickHouse, apply pending migrations, start the record agent."""
    client = ClickHouseTarget.from_settings(settings).connect()
    applied = migrate(client, Renderer(settings.clickhouse_database, settings.clickhouse_cluster,
                                       settings.retention_days))
    log.info("ClickHouse %s ready (migrations applied now: %s)",
             settings.clickhouse_url or settings.clickhouse_path, applied or "none")
    record.register(app, topics, ArchiveWriter(client), ArchiveGuard(client), settings.record_batch_size,
                    settings.record_batch_wait_s)
    if settings.console_in_worker:
        # embedded chdb serves its folder to one process: this one, so the console shares its client.
        # Imported here: workers without the console do not load Flask and its kin at start.
        from chatwatch.console.server import ConsoleServer

        server = ConsoleServer(settings, client).start()
        log.info("compliance console on %s (served by this worker)", server.url)

        async def stop_console() -> None:
            await asyncio.to_thread(server.stop)

        app.before_stop.append(stop_console)


def scan_options(settings: Settings) -> scan.ScanOptions:
    """PII detector (models load here, once) and snippet redaction, from settings."""
    detector, pool = None, None
    if settings.pii_enabled:
        config = PiiConfig.from_settings(settings)
        if config.ner and settings.pii_ner_processes > 0:
            pool = NerPool(config.models, settings.pii_ner_processes,  # the models load in the children
                           on_restart=metrics.ner_child_restarts.inc)
            for lang in pool.missing:
                metrics.pii_ner_model_missing.labels(lang).set(1)
            config = config.model_copy(update={"ner": False})
        detector = PiiDetector(config, on_missing_model=lambda lang: metrics.pii_ner_model_missing.labels(lang).set(1))
    key = settings.redaction_key.get_secret_value().encode() if settings.redaction_key else b""
    return scan.ScanOptions(pii=detector, snippet_mode=settings.alert_snippet, redaction_key=key,
                            archive_text=settings.archive_text, recent=scan.RecentLines(), ner_pool=pool)


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
                    ner_pool: NerPool | None = None) -> None:
    @app.page("/rules")
    async def rules_info(self: Any, request: Any) -> Any:
        return self.json(active.info() if active else {"packs": [], "note": "this worker has no scan role"})

    @app.page("/metrics")
    async def prometheus(self: Any, request: Any) -> Any:
        return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(self: Any, request: Any) -> Any:
        stuck = [f"{topic}[{partition}]" for topic, partition in (watchdog.stuck if watchdog else [])]
        ner_failing = ner_pool is not None and not ner_pool.healthy  # its children keep dying
        status = "stuck" if stuck else "ner_unavailable" if ner_failing else "ok"
        return self.json({"status": status, "stuck_partitions": stuck, "ner": "unavailable" if ner_failing else "ok"},
                         status=503 if stuck or ner_failing else 200)

    @app.page("/ready")
    async def ready(self: Any, request: Any) -> Any:
        assigned = sorted({tp.topic for tp in app.consumer.assignment()}) if app.consumer else []
        ok = bool(assigned) and not app.rebalancing
        return self.json({"ready": ok, "topics": assigned}, status=200 if ok else 503)
