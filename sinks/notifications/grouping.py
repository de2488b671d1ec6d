"""Grouping, deduplication, digests, quiet hours and rate limits — pure, with an explicit clock.

A group is (receiver, values of the route's group_by labels). Its state is a plain JSON dict so
the worker can keep it in a Faust table (changelog: survives restarts and rebalances):

  - an alert id already seen by the group is ignored (replays, duplicates);
  - a new group is notified `group_wait` after its first alert (ten hits in a minute -> one
    notification that says 10); later alerts wait until `group_interval` after the last send;
  - a group quiet for `repeat_interval` is forgotten, so a later alert starts a fresh group;
  - digest severities wait for the receiver's next digest time (hourly, or daily at a local hour);
  - quiet hours and the per-receiver hourly rate limit postpone a notification, never drop it;
  - a group is bounded however many alerts pile up (a daily digest, a storm): it counts every
    alert but keeps only the last `PENDING_KEEP` summaries to show.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chatwatch.sinks.notifications.config import Digest, Receiver
from chatwatch.sinks.notifications.router import RouteTarget

SEEN_LIMIT = 2000  # alert ids remembered per group
PENDING_KEEP = 50  # alert summaries kept per pending notification (the count covers all of them)


def new_group(d: RouteTarget, labels: dict[str, Any], digest: bool) -> dict[str, Any]:
    return {"receiver": d.receiver, "key": d.group_key, "labels": {g: labels.get(g) for g in d.group_by},
            "pending": [], "pending_count": 0, "seen": [], "total": 0, "first_pending_at": None, "last_sent_at": None,
            "last_activity_at": None, "wait": d.group_wait_s, "interval": d.group_interval_s,
            "repeat": d.repeat_interval_s, "digest_at": None if not digest else 0.0}


def add(group: dict[str, Any], summary: dict[str, Any], now: float, digest_at: float | None = None) -> bool:
    """Add one alert; False when the group already saw this alert id."""
    if summary["alert_id"] in group["seen"]:
        return False
    group["seen"] = (group["seen"] + [summary["alert_id"]])[-SEEN_LIMIT:]
    group["pending_count"] = pending_count(group) + 1
    group["pending"] = (group["pending"] + [summary])[-PENDING_KEEP:]
    group["total"] += 1
    group["last_activity_at"] = now
    if group["first_pending_at"] is None:
        group["first_pending_at"] = now
    if digest_at is not None:
        group["digest_at"] = digest_at
    return True


def pending_count(group: dict[str, Any]) -> int:
    return group.get("pending_count", len(group["pending"]))  # state written before the count existed


def due_at(group: dict[str, Any]) -> float | None:
    if not group["pending"]:
        return None
    if group.get("digest_at"):
        return group["digest_at"]
    if group["last_sent_at"] is None:
        return group["first_pending_at"] + group["wait"]
    return max(group["first_pending_at"], group["last_sent_at"] + group["interval"])


def expired(group: dict[str, Any], now: float) -> bool:
    return not group["pending"] and group["last_activity_at"] is not None and \
        now - group["last_activity_at"] >= group["repeat"]


def take(group: dict[str, Any], now: float) -> dict[str, Any]:
    """The notification to send now (pending alerts) and the group marked as sent."""
    notification = {"receiver": group["receiver"], "group_key": group["key"], "labels": group["labels"],
                    "alerts": list(group["pending"]), "count": pending_count(group), "total": group["total"],
                    "digest": bool(group.get("digest_at"))}
    group["pending"] = []
    group["pending_count"] = 0
    group["first_pending_at"] = None
    group["last_sent_at"] = now
    group["last_activity_at"] = now
    if group.get("digest_at"):
        group["digest_at"] = 0.0
    return notification


def next_digest(now: float, receiver: Receiver, digest: Digest) -> float:
    local = datetime.fromtimestamp(now, ZoneInfo(receiver.timezone))
    if digest.every == "hourly":
        nxt = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    else:
        nxt = local.replace(hour=digest.at_hour, minute=0, second=0, microsecond=0)
        if nxt <= local:
            nxt += timedelta(days=1)
    return nxt.timestamp()


def allowed_at(receiver: Receiver, severities: Iterable[str], now: float, sent_times: list[float]) -> float:
    """Earliest time this receiver may get a notification: after quiet hours, within its rate limit."""
    at = now
    q = receiver.quiet_hours
    if q is not None and not set(severities) & set(q.except_severities):
        moment = datetime.fromtimestamp(at, ZoneInfo(receiver.timezone))
        if q.contains(moment, receiver.timezone):
            end = moment.replace(hour=q.end.hour, minute=q.end.minute, second=0, microsecond=0)
            if end <= moment:
                end += timedelta(days=1)
            at = end.timestamp()
    recent = sorted(t for t in sent_times if t > at - 3600)
    if len(recent) >= receiver.rate_limit_per_hour:
        at = max(at, recent[len(recent) - receiver.rate_limit_per_hour] + 3600)
    return at
