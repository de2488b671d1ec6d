"""The notification runtime: alerts in, grouped notifications out through per-receiver queues.

State (groups, send times, escalations) lives in a mapping the caller provides — a Faust table
with a changelog in the worker, so restarts and rebalances neither repeat nor lose it; a dict in
tests. Every change is written back (`state[key] = value`) so the changelog sees it.
Each receiver has its own queue and sender task: a slow or failing channel delays only itself.

Delivery is at least once: a due notification is first written to the outbox in that state
(`outbox:<id>`) and removed only after its channel accepted it (or it was dead-lettered). An
outbox entry that no sender holds — left by a crash, a kill or a rollout — is handed over again
on the next tick, with the same notification id; receivers dedupe by it (webhook `id`, e-mail
Message-ID) or by the alert ids the payload carries.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from chatwatch.people import Directory
from chatwatch.records import Alert
from chatwatch.sinks.notifications import ack, grouping, metrics, render
from chatwatch.sinks.notifications.channels import Outcome, deliver
from chatwatch.sinks.notifications.config import NotifyConfig
from chatwatch.sinks.notifications.router import labels_of, route, silenced

log = logging.getLogger(__name__)
OUTBOX = "outbox:"
DeadLetter = Callable[[dict[str, Any], str], Awaitable[None]]


def summary_of(alert: Alert, labels: dict[str, Any], directory: Directory) -> dict[str, Any]:
    employee = directory.name_of(alert.employee_id) or alert.employee_id or alert.business_phone_number_id
    return {"alert_id": alert.alert_id, "rule_id": alert.rule_id, "rule_title": alert.rule_title,
            "severity": alert.severity.value, "category": alert.category, "employee": employee,
            "team": labels.get("team"), "customer_masked": alert.customer_masked,
            "conversation_key": alert.conversation_key, "message_timestamp": alert.message_timestamp.isoformat(),
            "snippet": alert.snippet or "", "terms": [e.term for e in alert.evidence if e.kind == "keyword"],
            "context": [{"direction": c.direction.value, "timestamp": c.timestamp.isoformat(), "text": c.text}
                        for c in alert.context]}


def notification_id(receiver: str, group_key: str, at: float) -> str:
    return hashlib.sha256(f"{receiver}|{group_key}|{at:.6f}".encode()).hexdigest()[:24]


class Notifier:
    def __init__(self, config: NotifyConfig, directory: Directory, state: MutableMapping[str, Any],
                 dead_letter: DeadLetter, ack_key: bytes = b"", clock: Callable[[], float] = time.time,
                 sleep: Callable = asyncio.sleep, ack_link_days: float = 7.0):
        self.config, self.directory, self.state = config, directory, state
        self.dead_letter, self.ack_key, self.clock, self.sleep = dead_letter, ack_key, clock, sleep
        self.ack_link_days = ack_link_days
        self.queues: dict[str, asyncio.Queue] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.outcomes: list[tuple[str, Outcome]] = []  # recent results, for `notify test` and tests
        self.in_flight: set[str] = set()  # outbox ids a sender task holds in this process

    # --- intake ---------------------------------------------------------------------------------

    def on_alert(self, alert: Alert) -> int:
        """Route one alert into its groups; returns how many groups took it (0: silenced or duplicate)."""
        labels = labels_of(alert, self.directory)
        now = self.clock()
        reason = silenced(self.config, labels, alert.created_at)
        if reason:
            metrics.notifications_silenced.inc()
            log.info("alert %s silenced (%s)", alert.alert_id, reason)
            return 0
        summary = summary_of(alert, labels, self.directory)
        digest = self.config.digest
        added = 0
        for d in route(self.config, labels, self.directory):
            receiver = self.config.receiver(d.receiver)
            in_digest = digest is not None and alert.severity.value in digest.severities
            key = "group:" + d.group_key + ("|digest" if in_digest else "")
            group = self.state.get(key) or grouping.new_group(d, labels, in_digest)
            digest_at = grouping.next_digest(now, receiver, digest) if in_digest and not group.get("digest_at") else None
            if grouping.add(group, summary, now, digest_at):
                added += 1
            self.state[key] = group
        esc = self.config.escalation
        if added and esc and alert.severity.value in esc.severities:
            self.state["esc:" + alert.alert_id] = {"deadline": now + esc.after_s, "acked": False, "summary": summary,
                                                   "labels": {k: v for k, v in labels.items() if k != "tags"}}
        return added

    # --- timing ---------------------------------------------------------------------------------

    async def tick(self) -> int:
        """Hand every due notification to its receiver's queue; returns how many were queued."""
        now = self.clock()
        queued = 0
        for key in [k for k in list(self.state.keys()) if str(k).startswith("group:")]:
            group = self.state[key]
            if grouping.expired(group, now):
                del self.state[key]
                continue
            due = grouping.due_at(group)
            if due is None or due > now:
                continue
            receiver = self.config.receiver(group["receiver"])
            sent_key = "sent:" + receiver.name
            sent = [t for t in self.state.get(sent_key, []) if t > now - 3600]
            allowed = grouping.allowed_at(receiver, {a["severity"] for a in group["pending"]}, now, sent)
            if allowed > now:
                continue  # quiet hours or rate limit: it stays pending, nothing is dropped
            notification = grouping.take(group, now)
            self._enqueue(receiver.name, notification)  # the outbox first: a kill before the group is written
            self.state[key] = group                      # sends it twice (ids dedupe), never loses it
            self.state[sent_key] = [*sent, now]
            queued += 1
        queued += self._escalate(now)
        self._resume_outbox()
        return queued

    def _escalate(self, now: float) -> int:
        esc = self.config.escalation
        if esc is None:
            return 0
        queued = 0
        for key in [k for k in list(self.state.keys()) if str(k).startswith("esc:")]:
            entry = self.state[key]
            if entry["acked"]:
                del self.state[key]
            elif entry["deadline"] <= now:
                for name in esc.receivers:
                    notification = {"receiver": name, "group_key": "escalation|" + key, "labels": entry["labels"],
                                    "alerts": [entry["summary"]], "count": 1, "total": 1, "escalation": True}
                    self._enqueue(name, notification)
                    queued += 1
                del self.state[key]
        return queued

    # --- acknowledge ----------------------------------------------------------------------------

    def ack(self, alert_id: str, expires: str, token: str) -> bool:
        """Mark an alert acknowledged (no escalation) when the link's signature and expiry hold. The
        console calls this after a person confirmed on its acknowledge page (see ack.py)."""
        if not ack.valid(self.ack_key, alert_id, expires, token, self.clock()):
            return False
        entry = self.state.get("esc:" + alert_id)
        if entry is not None:
            entry["acked"] = True
            self.state["esc:" + alert_id] = entry
        return True

    def links(self, summary: dict[str, Any]) -> dict[str, str]:
        """'open': the case in the console; 'ack': the console's acknowledge page (signed, expiring)."""
        out = {}
        console = self.config.ack_base_url.rstrip("/")
        if self.config.link_template:
            out["open"] = self.config.link_template.format(**summary)
        elif console:
            out["open"] = f"{console}/cases/{summary['alert_id']}"
        esc = self.config.escalation
        if console and self.ack_key and esc and summary["severity"] in esc.severities:
            out["ack"] = ack.link(console, self.ack_key, summary["alert_id"], self.clock(), self.ack_link_days)
        return out

    # --- sending --------------------------------------------------------------------------------

    def _enqueue(self, receiver: str, notification: dict[str, Any]) -> None:
        now = self.clock()
        notification["id"] = notification_id(receiver, notification["group_key"], now)
        self.state[OUTBOX + notification["id"]] = {"receiver": receiver, "notification": notification, "queued_at": now}
        self._hand_over(receiver, notification)

    def _resume_outbox(self) -> int:
        """Hand over outbox entries no sender holds (what a crash or rollout left unsent)."""
        outbox = [k for k in list(self.state.keys()) if str(k).startswith(OUTBOX)]
        left = [k for k in outbox if k[len(OUTBOX):] not in self.in_flight]
        configured = {r.name for r in self.config.receivers}
        for key in left:
            entry = self.state[key]
            if entry["receiver"] not in configured:
                log.warning("outbox entry %s is for receiver %r, no longer configured; dropped", key, entry["receiver"])
                del self.state[key]
                outbox.remove(key)
                continue
            metrics.notifications_resumed.inc()
            self._hand_over(entry["receiver"], entry["notification"])
        metrics.notification_outbox.set(len(outbox))
        return len(left)

    def _hand_over(self, receiver: str, notification: dict[str, Any]) -> None:
        if receiver not in self.queues:
            self.queues[receiver] = asyncio.Queue()
            self.tasks[receiver] = asyncio.get_running_loop().create_task(self._sender(receiver))
        self.in_flight.add(notification["id"])
        self.queues[receiver].put_nowait(notification)
        metrics.notification_queue.labels(receiver).set(self.queues[receiver].qsize())

    async def _sender(self, name: str) -> None:
        queue = self.queues[name]
        while True:
            notification = await queue.get()
            try:
                outcome = await self.send(name, notification)
                if not outcome.ok:
                    await self.dead_letter(notification, outcome.reason)
                self._done(notification)
            except Exception:
                log.exception("sending to %s failed", name)
                try:
                    await self.dead_letter(notification, "processing_error")
                    self._done(notification)
                except Exception:
                    log.exception("dead-lettering a notification to %s failed; it stays in the outbox", name)
            finally:
                self.in_flight.discard(notification["id"])
                queue.task_done()
                metrics.notification_queue.labels(name).set(queue.qsize())

    def _done(self, notification: dict[str, Any]) -> None:
        self.state.pop(OUTBOX + notification["id"], None)

    async def send(self, name: str, notification: dict[str, Any]) -> Outcome:
        receiver = self.config.receiver(name)
        payload = render.BUILDERS[receiver.channel.value](notification, receiver, self.links)
        outcome = await deliver(receiver, payload, sleep=self.sleep)
        self.outcomes = ([*self.outcomes, (name, outcome)])[-100:]
        return outcome

    async def drain(self) -> None:
        """Wait until every queued notification was sent or dead-lettered (tests, shutdown)."""
        for queue in list(self.queues.values()):
            await queue.join()

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
