"""Where messages come from: one module per source, each ending with `SOURCE = Source(...)`.

A source says how the receiver authenticates its webhooks (a signature scheme, a bearer token…), how
to key its raw records by conversation, and how normalize turns a stored body into canonical records
(a pure parser). The receiver mounts one route per enabled source (`CHATWATCH_WEBHOOK_SOURCES`) and
writes the source's name on every raw record (header `source`); normalize picks the parser by it.
Adding a source is one module here, its tests, its settings (chatwatch/settings/) and its docs.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from pydantic import ValidationError

from chatwatch.records import Origin, validation_summary
from chatwatch.settings import Settings
from chatwatch.streams.ingest.whatsapp_webhook import Identities, ParseResult


@dataclass(frozen=True)
class Incoming:
    """One webhook request as a source's `authenticate` sees it."""

    headers: Mapping[str, str]  # case-insensitive (the receiver's)
    body: bytes
    url: str  # as the sender called it (some schemes sign the URL)


@dataclass(frozen=True)
class Source:
    name: str  # on every raw record (header `source`) and in Origin.channel
    title: str
    path: Callable[[Settings], str]  # where the receiver mounts its POST route
    missing: Callable[[Settings], str | None]  # what the source cannot run without (None: ready)
    authenticate: Callable[[Incoming, Settings], str | None]  # None: accepted; else why refused (401)
    routing_key: Callable[[bytes, Settings], bytes | None]  # the conversation key, read cheaply
    parse: Callable[[bytes, Origin, Settings, Identities | None], ParseResult]
    verify: Callable[[Mapping[str, str], Settings], str | None] | None = None  # GET handshake: the answer


class MissingData(ValueError):
    """A parser's own reason an item is unusable, naming fields, never values: shown as it is."""


def item_reason(exc: Exception, noun: str = "field") -> str:
    """Why one item of a body is unusable, for its dead letter: fields named, values never shown."""
    if isinstance(exc, ValidationError):
        return validation_summary(exc, 300)
    if isinstance(exc, KeyError):
        return f"missing {noun} {exc.args[0]!r}"
    return str(exc) if isinstance(exc, MissingData) else type(exc).__name__


@cache
def all_sources() -> dict[str, Source]:
    found: dict[str, Source] = {}
    for module in pkgutil.iter_modules(__path__):
        source = getattr(importlib.import_module(f"{__name__}.{module.name}"), "SOURCE", None)
        if isinstance(source, Source):
            if source.name in found:
                raise RuntimeError(f"two sources named {source.name}")
            found[source.name] = source
    return found


def enabled(settings: Settings) -> list[Source]:
    """The sources `CHATWATCH_WEBHOOK_SOURCES` names; an unknown name is an error."""
    names = [n.strip() for n in settings.webhook_sources.split(",") if n.strip()]
    unknown = sorted(set(names) - set(all_sources()))
    if unknown:
        raise ValueError(f"webhook sources: unknown {', '.join(unknown)}; known: {', '.join(sorted(all_sources()))}")
    return [all_sources()[n] for n in names]


def source_of(name: str | None) -> Source | None:
    """The source a raw record names (records written before sources had names are the Cloud API's)."""
    return all_sources().get(name or "whatsapp_cloud_api")
