"""Sending: one small sender per channel (a registry, not an if-chain) and retries around them.

Each attempt has its own timeout; failures retry with exponential backoff and jitter; a
notification that still fails after `max_attempts`, or that the channel rejects outright
(HTTP 4xx other than 408/429), is returned as failed for the notifications dead-letter topic.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiosmtplib

from chatwatch.sinks.notifications import metrics, render
from chatwatch.sinks.notifications.config import Receiver

log = logging.getLogger(__name__)


class SendError(Exception):
    def __init__(self, reason: str, retryable: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


async def send_email(r: Receiver, payload: Any) -> None:
    s = r.email

    password = os.environ.get(s.password_env or "", "") or None
    try:
        await aiosmtplib.send(payload, hostname=s.host, port=s.port, start_tls=s.starttls and not s.tls, use_tls=s.tls,
                              username=s.username, password=password, timeout=r.timeout_s)
    except aiosmtplib.SMTPResponseException as exc:
        raise SendError(f"smtp {exc.code}: {smtp_reason(exc, s)}", retryable=exc.code >= 400 and exc.code < 500) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        code, why = smtp_problem(exc, s)
        raise SendError(f"{code}: {why}", retryable=code in ("smtp_unreachable", "smtp_timeout")) from None


def smtp_reason(exc: aiosmtplib.SMTPResponseException, s) -> str:
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return f"the server refused the login of {s.username!r} (check the user and the password in {s.password_env})"
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return f"the server refused the sender {s.sender!r} (it may only accept its own domains)"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused | aiosmtplib.SMTPRecipientRefused):
        return "the server refused the recipient(s)"
    return (exc.message or "").strip()[:200] or type(exc).__name__


def smtp_problem(exc: BaseException, s) -> tuple[str, str]:
    """(code, what a person can act on) for a failure before the server answered with a status."""
    text = str(exc)
    where = f"{s.host}:{s.port}"
    if "STARTTLS" in text.upper():
        return "smtp_no_starttls", (f"{where} does not offer STARTTLS: use port 465 with `tls: true`, or "
                                    "`starttls: false` only on a trusted network")
    if isinstance(exc, ssl.SSLError) or "CERTIFICATE" in text.upper() or "SSL" in text.upper():
        return "smtp_tls", f"TLS with {where} failed ({text[:160]}): a certificate not trusted, or TLS on a plain port?"
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return "smtp_timeout", f"{where} did not answer in time"
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected | OSError):
        return "smtp_unreachable", f"cannot connect to {where} ({text[:160] or type(exc).__name__})"
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return "smtp_not_supported", text[:200]
    return "smtp_error", f"{type(exc).__name__}: {text[:200]}"


async def post_json(r: Receiver, payload: Any) -> None:
    body = render.to_json(payload)
    headers = {"Content-Type": "application/json"}
    if r.channel.value == "webhook" and r.secret():
        headers.update(render.sign_webhook(body, r.secret()))
    url = r.webhook_url()
    if not url:
        raise SendError("no webhook url configured", retryable=False)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=r.timeout_s)) as session:
            async with session.post(url, data=body, headers=headers) as resp:
                if resp.status >= 300:
                    retryable = resp.status >= 500 or resp.status in (408, 429)
                    hint = HTTP_HINTS.get(resp.status, (await resp.text())[:120].strip())
                    raise SendError(f"http {resp.status}: {hint}", retryable=retryable)
    except TimeoutError:
        raise SendError("http_timeout: no answer in time") from None
    except aiohttp.ClientConnectorError as exc:
        raise SendError(f"http_unreachable: cannot connect to {exc.host}:{exc.port}") from None
    except aiohttp.ClientError as exc:
        raise SendError(f"http_error: {type(exc).__name__}") from None


HTTP_HINTS = {
    400: "the receiver rejected the payload", 401: "not authorized: the URL's token or secret is wrong",
    403: "forbidden: the webhook is disabled or the token lacks permission",
    404: "no such webhook: the URL is wrong or the webhook was deleted", 410: "the webhook was removed",
    413: "payload too large", 429: "rate limited by the receiver",
}


SENDERS: dict[str, Callable[[Receiver, Any], Awaitable[None]]] = {
    "email": send_email, "slack": post_json, "teams": post_json, "webhook": post_json,
}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    attempts: int
    reason: str = ""


async def deliver(r: Receiver, payload: Any, sleep: Callable = asyncio.sleep, base_delay_s: float = 0.5) -> Outcome:
    channel = r.channel.value
    started = time.perf_counter()
    for attempt in range(1, r.max_attempts + 1):
        try:
            await asyncio.wait_for(SENDERS[channel](r, payload), timeout=r.timeout_s + 1)
            metrics.notifications_sent.labels(channel).inc()
            metrics.notification_latency.labels(channel).observe(time.perf_counter() - started)
            return Outcome(True, attempt)
        except (TimeoutError, SendError) as exc:
            reason = exc.reason if isinstance(exc, SendError) else "timeout"
            retryable = exc.retryable if isinstance(exc, SendError) else True
            if not retryable or attempt == r.max_attempts:
                metrics.notifications_failed.labels(channel, reason.split(":")[0].split()[0]).inc()
                log.warning("notification to %s failed after %d attempt(s): %s", r.name, attempt, reason)
                return Outcome(False, attempt, reason)
            metrics.notifications_retried.labels(channel).inc()
            await sleep(base_delay_s * 2 ** (attempt - 1) * (0.5 + random.random()))
    return Outcome(False, r.max_attempts, "exhausted")
