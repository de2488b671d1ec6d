"""The WhatsApp Cloud API (Meta's webhooks, and BSPs that forward them as they are, e.g. 360dialog):
`X-Hub-Signature-256` with the App Secret, the GET verification handshake, the parser in
streams/ingest/whatsapp_webhook.py. It never says which employee typed a reply: see chatwoot.py."""

from __future__ import annotations

from collections.abc import Mapping

from chatwatch.records import Origin
from chatwatch.settings import Settings
from chatwatch.streams.ingest.routing import routing_key
from chatwatch.streams.ingest.sources import Incoming, Source
from chatwatch.streams.ingest.whatsapp_webhook import (
    SIGNATURE_HEADER,
    Identities,
    ParseResult,
    parse_notification,
    signature_is_valid,
    subscription_challenge,
)


def _missing(settings: Settings) -> str | None:
    return None if settings.app_secret_bytes else "no app secret: set CHATWATCH_APP_SECRET or CHATWATCH_APP_SECRET_FILE"


def _authenticate(request: Incoming, settings: Settings) -> str | None:
    header = request.headers.get(SIGNATURE_HEADER)
    if signature_is_valid(request.body, header, settings.app_secret_bytes or b""):
        return None
    return "no signature" if header is None else "wrong signature"


def _verify(query: Mapping[str, str], settings: Settings) -> str | None:
    token = settings.verify_token_bytes
    return subscription_challenge(dict(query), token) if token else None


def _parse(body: bytes, origin: Origin, settings: Settings, links: Identities | None) -> ParseResult:
    return parse_notification(body, origin, links)


SOURCE = Source(name="whatsapp_cloud_api", title="WhatsApp Cloud API (Meta, 360dialog)",
                path=lambda settings: settings.webhook_path, missing=_missing, authenticate=_authenticate,
                routing_key=lambda body, settings: routing_key(body), parse=_parse, verify=_verify)
