"""What a worker role is, and what it is handed when the worker is built.

A role is a component (after Vector's sinks): its agents module ends with `ROLE = Role(...)`, which
says what the role reads and writes and how it is built; `streams/roles.py` finds every `ROLE` in
this package. Everything else — the worker, `chatwatch worker --help`, the docs' topic and role
tables, the chart's role sets — is derived from those declarations, so adding a reader of the alerts
topic is one module here, its tests and its docs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from chatwatch.settings import Settings
from chatwatch.streams.active_rules import ActiveRules
from chatwatch.streams.topics import TopicNames


@dataclass
class WorkerContext:
    """What every role's `register(app, ctx)` gets, and where it leaves what the worker needs from it.
    (Work to do first on SIGTERM goes to `app.before_stop`, which the app runs.)"""

    settings: Settings
    topics: TopicNames
    group_id: str  # this process's consumer group (one per role set)
    rules: ActiveRules | None  # the running rule packs, for roles with `needs_rules`
    before_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # run before Faust starts
    health: dict[str, Callable[[], bool]] = field(default_factory=dict)  # name -> healthy? (/healthz)
    clickhouse: Any = None  # the archive's ClickHouse client, once a role opened it (the console shares it)


@dataclass(frozen=True)
class Role:
    """One worker role. Topics are `TopicNames` attribute names (`"alerts"`), so the prefix stays a setting."""

    name: str
    order: int  # place in the pipeline: role sets, group ids and tables list roles in this order
    summary: str  # one line for `chatwatch worker --help` and the docs
    agents: tuple[str, ...]  # the Faust agents it runs (their names without `chatwatch.`)
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    deployment: str  # the Helm Deployment that runs it: `scan` (scales out) or `archive` (owns the data)
    register: Callable[[Any, WorkerContext], None]
    state: str = ""  # what it keeps between records, if anything
    needs_rules: bool = False  # the worker loads the rule packs (and reloads them) when a role needs them
