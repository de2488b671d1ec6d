"""Metrics of manager notifications (bounded labels: channel, receiver name from the config, reason code)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

notifications_sent = Counter("chatwatch_notifications_sent_total", "Notifications delivered.", ["channel"])
notifications_failed = Counter(
    "chatwatch_notifications_failed_total", "Notifications given up (dead-lettered).", ["channel", "reason"])
notifications_retried = Counter("chatwatch_notifications_retried_total", "Delivery attempts retried.", ["channel"])
notification_latency = Histogram(
    "chatwatch_notification_delivery_seconds", "From the first attempt to delivery.", ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
notification_queue = Gauge("chatwatch_notification_queue_depth", "Notifications waiting per receiver.", ["receiver"])
notifications_silenced = Counter("chatwatch_notifications_silenced_total", "Alerts dropped by a silence.")
notification_outbox = Gauge("chatwatch_notification_outbox", "Notifications due but not yet accepted by their channel.")
notifications_resumed = Counter(
    "chatwatch_notifications_resumed_total", "Outbox entries handed over again (left unsent by a crash or rollout).")
