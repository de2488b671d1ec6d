"""Acknowledge links: signed, expiring URLs to the console's acknowledge page for one alert.

The link carries the alert id, an expiry (epoch seconds) and an HMAC of both under the
deployment's NOTIFY_ACK_KEY, so it cannot be made for another alert or stretched. Following it
only shows a page; acknowledging is that page's POST (a person, logged in, with a CSRF token):
mail scanners that fetch every link change nothing.
"""

from __future__ import annotations

import hashlib
import hmac


def token(key: bytes, alert_id: str, expires: int) -> str:
    return hmac.new(key, f"{alert_id}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def link(base_url: str, key: bytes, alert_id: str, now: float, days: float) -> str:
    expires = int(now + days * 86400)
    return f"{base_url.rstrip('/')}/ack/{alert_id}?x={expires}&t={token(key, alert_id, expires)}"


def valid(key: bytes, alert_id: str, expires: str, given: str, now: float) -> bool:
    if not key or not expires.isdigit() or int(expires) < now:
        return False
    return hmac.compare_digest(token(key, alert_id, int(expires)), given)
