"""notify: alerts -> routed, grouped notifications to managers (e-mail, Slack, Teams, webhooks).

Alerts are forwarded to a one-partition topic so a single worker owns the notification state,
kept in a Faust table with a changelog (restarts and rebalances restore it). A timer hands due
notifications to per-receiver sender tasks; deliveries that fail after their retries go to the
notifications dead-letter topic. `POST /ack/{alert_id}?x=…&t=…` (a signed, expiring link's
arguments; the console posts it after a person confirmed) acknowledges a critical alert so it does
not escalate. The people directory is reloaded when its file changes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from pydantic import ValidationError

from chatwatch.people import load_directory
from chatwatch.records import Alert, validation_summary
from chatwatch.settings import Settings
from chatwatch.sinks.notifications.config import load_config
from chatwatch.sinks.notifications.notifier import Notifier
from chatwatch.sinks.notifications.render import to_json
from chatwatch.streams.agents.outputs import Delivery, Output, batch_agent, bytes_topic, dead_letter_output, per_record
from chatwatch.streams.agents.role import Role, WorkerContext
from chatwatch.streams.agents.state_table import StateTable
from chatwatch.streams.deadletter import Reason
from chatwatch.streams.topics import TopicNames

log = logging.getLogger(__name__)
STAGE = "notify"
HISTORICAL = b'"historical":true'  # as Alert.to_bytes writes it; a JSON string value cannot hold it unescaped


def register_agents(app: Any, topics: TopicNames, settings: Settings) -> Notifier:
    config = load_config(settings.notify_config)
    directory_path = settings.people_file or config.directory  # one directory for scan, notify and the console

    table = app.tables.add(StateTable(app, name="notify-state", default=None, partitions=1, use_partitioner=True,
                                      beacon=app.tables.beacon, changelog_name=f"{settings.base_group_id}-notify-state"
                                      "-changelog", schema=faust.Schema(key_serializer="json", value_serializer="json")))
    deliver = Delivery(app, STAGE, topics.deadletter)

    async def dead_letter(notification: dict, reason: str) -> None:
        await deliver([dead_letter_output(STAGE, Reason.delivery_failed, reason, to_json(notification),
                                          topics.notify_deadletter, "notify", None, None)])

    key = settings.notify_ack_key.get_secret_value().encode() if settings.notify_ack_key else b""
    notifier = Notifier(config, load_directory(directory_path), table, dead_letter, ack_key=key,
                        ack_link_days=settings.notify_ack_link_days)
    directory_stamp = {"mtime": _mtime(directory_path)}

    def forward(record: Any) -> list[Output]:
        value = record.value or b""
        if settings.history_alerts == "report" and HISTORICAL in value:
            return []  # an alert on a past message: archived and reported, not pushed to managers now
        return [Output(topics.notify, b"notify", value)]

    batch_agent(app, topics.alerts, "chatwatch.notify-forward", "notify_forward", per_record(forward), 500, 0.02,
                topics.deadletter)


    @app.agent(bytes_topic(app, topics.notify, partitions=1), name="chatwatch.notify")
    async def notify(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            try:
                alert = Alert.model_validate_json(msg.value or b"")
            except ValidationError as exc:
                detail = validation_summary(exc)
                await deliver([dead_letter_output(STAGE, Reason.invalid_record, detail, msg.value or b"",
                                                  topics.deadletter, msg.topic, msg.partition, msg.offset)])
                continue
            notifier.on_alert(alert)

    @app.timer(settings.notify_tick_s)
    async def tick() -> None:
        if not owns_notifications(app, topics):
            return  # a standby copy of the table, or a rebalance: the owner alone sends
        stamp = _mtime(directory_path)
        if stamp != directory_stamp["mtime"]:
            directory_stamp["mtime"] = stamp
            try:
                notifier.directory = load_directory(directory_path)
                log.info("people directory reloaded from %s", directory_path)
            except Exception:
                log.exception("people directory %s is invalid; keeping the previous one", directory_path)
        await notifier.tick()

    @app.page("/ack/{alert_id}")
    class Ack(faust.web.View):  # POST only: a link fetched by a mail scanner must not acknowledge anything
        async def post(self, request: Any, alert_id: str) -> Any:
            if not owns_notifications(app, topics):
                return self.text("this worker does not own notifications now; retry shortly\n", status=503)
            ok = notifier.ack(alert_id, request.query.get("x", ""), request.query.get("t", ""))
            return self.text("acknowledged\n" if ok else "invalid link\n", status=200 if ok else 403)

    return notifier


def owns_notifications(app: Any, topics: TopicNames) -> bool:
    """Is this process the active owner of the one notify partition (not a standby, not mid-rebalance)?"""
    if app.rebalancing:
        return False
    return any(tp.topic == topics.notify for tp in app.assignor.assigned_actives())


async def flush(app: Any, notifier: Notifier, topics: TopicNames, grace_s: float) -> None:
    """At shutdown: hand over what is due now and wait (at most `grace_s`) until it is sent. What is not
    sent by then stays in the outbox and the next owner sends it."""
    if not owns_notifications(app, topics):
        return
    queued = await notifier.tick()
    try:
        await asyncio.wait_for(notifier.drain(), grace_s)
        log.info("shutdown: notifications flushed (%d handed over now)", queued)
    except TimeoutError:
        log.warning("shutdown: notifications still being sent after %.0fs; the outbox keeps them for the next "
                    "owner", grace_s)


def _mtime(path) -> float | None:
    try:
        return path.stat().st_mtime if path else None
    except OSError:
        return None


def register(app: Any, ctx: WorkerContext) -> None:
    """The role (nothing without a notifications file): on SIGTERM, what is due is sent first."""
    settings, topics = ctx.settings, ctx.topics
    if settings.notify_config is None:
        log.info("notify role: no CHATWATCH_NOTIFY_CONFIG, nothing to run")
        return
    notifier = register_agents(app, topics, settings)

    async def flush_notifications() -> None:
        await flush(app, notifier, topics, settings.shutdown_grace_s)

    app.before_stop.append(flush_notifications)


ROLE = Role(
    name="notify", order=50, summary="alerts -> manager notifications (routing, grouping, escalation; email, chat, webhooks)",
    agents=("notify-forward", "notify"), reads=("alerts", "notify"), writes=("notify", "notify_deadletter", "deadletter"),
    state="grouping, escalation and outbox state (a changelog-backed table on the one notify partition)",
    deployment="archive", register=register)
