"""The webhook receiver: authenticate, store the raw body on Kafka, answer — for every enabled source.

It does not parse messages: the body goes to the raw topic byte for byte, with its source's name in
the record header `source` (so nothing is lost and normalize parses it with that source's parser, or
dead-letters what it cannot read). It answers 200 only once Kafka has acknowledged the record
(acks=all), 401 when the source's authentication fails (nothing is produced), 413 over the size
cap, and 503 when Kafka cannot take the record, so the sender retries.

It starts without Kafka: /ready and POSTs answer 503 until the topics exist and the producer is
connected (retried with backoff).

Routes: POST (and, for a source with a handshake, GET) on each enabled source's path
(streams/ingest/sources/, docs/sources.md), GET /metrics, GET /healthz, GET /ready.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chatwatch.settings import Settings
from chatwatch.streams import metrics
from chatwatch.streams.ingest import sources
from chatwatch.streams.ingest.sources import Incoming, Source
from chatwatch.streams.kafka_security import aiokafka_options
from chatwatch.streams.topics import TopicNames, until_kafka_answers, wait_for_topics

log = logging.getLogger(__name__)
PRODUCER = web.AppKey("producer", AIOKafkaProducer)


def create_webhook_app(settings: Settings) -> web.Application:
    enabled = sources.enabled(settings)
    for source in enabled:
        if (missing := source.missing(settings)) is not None:
            raise ValueError(f"{source.name}: {missing}")
    app = web.Application(client_max_size=settings.webhook_max_body_bytes)
    raw_topic = TopicNames.from_settings(settings).raw

    ready = asyncio.Event()

    async def start_producer() -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            **aiokafka_options(settings),
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=int(settings.webhook_produce_timeout_s * 1000),
            max_request_size=settings.raw_record_max_bytes,
            client_id="chatwatch-webhook",
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def connect(app: web.Application) -> None:
        """Topics, then the producer, each retried until Kafka answers; POSTs get 503 until then."""
        await wait_for_topics(settings)
        app[PRODUCER] = await until_kafka_answers(start_producer, "webhook producer")
        ready.set()
        log.info("webhook ready: Kafka at %s takes records", settings.kafka_bootstrap)

    async def producer_ctx(app: web.Application):
        connecting = asyncio.create_task(connect(app))
        yield
        connecting.cancel()
        if ready.is_set():
            await app[PRODUCER].stop()

    app.cleanup_ctx.append(producer_ctx)

    def answer(method: str, status: int, text: str = "") -> web.Response:
        metrics.webhook_requests.labels(method, str(status)).inc()
        return web.Response(status=status, text=text)

    def handshake(source: Source):
        async def verify(request: web.Request) -> web.Response:
            challenge = source.verify(request.query, settings) if source.verify else None
            if challenge is None:
                log.warning("%s webhook verification refused (mode=%s)", source.name, request.query.get("hub.mode"))
                return answer("GET", 403, "forbidden")
            return answer("GET", 200, challenge)

        return verify

    def receiver(source: Source):
        async def notify(request: web.Request) -> web.Response:
            if request.content_length is not None and request.content_length > settings.webhook_max_body_bytes:
                return answer("POST", 413, "payload too large")
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return answer("POST", 413, "payload too large")
            refused = source.authenticate(Incoming(request.headers, body, str(request.url)), settings)
            if refused is not None:
                log.warning("%s webhook POST refused from %s: %s", source.name, request.remote, refused)
                return answer("POST", 401, "invalid signature")
            if not ready.is_set():
                return answer("POST", 503, "starting: Kafka not reachable yet")
            headers = [("source", source.name.encode())]
            try:
                await asyncio.wait_for(
                    request.app[PRODUCER].send_and_wait(raw_topic, value=body, key=source.routing_key(body, settings),
                                                        headers=headers),
                    timeout=settings.webhook_produce_timeout_s,
                )
            except (TimeoutError, KafkaError) as exc:
                log.error("could not store %s webhook payload on %s: %s", source.name, raw_topic, type(exc).__name__)
                return answer("POST", 503, "temporarily unavailable")
            metrics.payloads_received.inc()
            return answer("POST", 200, "ok")

        return notify

    async def prometheus(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readiness(request: web.Request) -> web.Response:
        return web.json_response({"ready": ready.is_set()}, status=200 if ready.is_set() else 503)

    for source in enabled:
        if source.verify is not None:
            app.router.add_get(source.path(settings), handshake(source))
        app.router.add_post(source.path(settings), receiver(source))
        log.info("webhook source %s on %s", source.name, source.path(settings))
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/ready", readiness)
    return app


def run_webhook(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT; Kafka is waited for in the background. ValueError: unusable configuration."""
    app = create_webhook_app(settings)
    web.run_app(app, host=settings.webhook_host, port=settings.webhook_port, print=None, access_log=None)
