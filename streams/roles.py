"""The worker's roles, found where they are declared, and everything derived from them.

Each agents module in `streams/agents/` that runs a role ends with `ROLE = Role(...)`. This module
collects them and derives what used to be spelled by hand in several places: which roles a
`CHATWATCH_WORKER_ROLES` value selects, the consumer group of a role set, the role list in
`chatwatch worker --help`, the docs' topic and role tables, the chart's role sets (checked by
`tests/test_docs_generated.py`).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from chatwatch.settings import Settings
from chatwatch.streams import agents
from chatwatch.streams.agents.role import Role
from chatwatch.streams.topics import TOPICS


@cache
def all_roles() -> tuple[Role, ...]:
    """Every declared role, in pipeline order."""
    found = []
    for module in pkgutil.iter_modules(agents.__path__):
        role = getattr(importlib.import_module(f"{agents.__name__}.{module.name}"), "ROLE", None)
        if isinstance(role, Role):
            found.append(role)
    names = [r.name for r in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two roles share a name: {sorted(names)}")
    for role in found:
        unknown = [t for t in (*role.reads, *role.writes) if t not in TOPICS]
        if unknown:
            raise RuntimeError(f"role {role.name} names unknown topic(s) {unknown}; topics are {sorted(TOPICS)}")
    return tuple(sorted(found, key=lambda r: (r.order, r.name)))


def names() -> list[str]:
    return [r.name for r in all_roles()]


def select(spec: str | None) -> list[Role]:
    """The roles a comma list names (None or empty: all of them), in pipeline order; unknown names are an error."""
    wanted = [w.strip() for w in (spec or "").split(",") if w.strip()]
    if not wanted:
        return list(all_roles())
    unknown = sorted(set(wanted) - set(names()))
    if unknown:
        raise ValueError(f"worker roles: unknown role(s) {', '.join(unknown)}; choose from {', '.join(names())}")
    return [r for r in all_roles() if r.name in wanted]


def group_id(settings: Settings, selected: list[Role]) -> str:
    """The consumer group (and Faust app id) of a process: one per role set, because every member of a
    Faust group must consume the same topics. All roles keep the plain name (one-process layout)."""
    if {r.name for r in selected} == set(names()):
        return settings.base_group_id
    return settings.base_group_id + "." + "-".join(r.name for r in selected)


def deployments() -> dict[str, list[str]]:
    """Helm Deployment -> the roles it runs (the chart's `roles` values must say the same)."""
    out: dict[str, list[str]] = {}
    for role in all_roles():
        out.setdefault(role.deployment, []).append(role.name)
    return out


def roles_table() -> str:
    """The docs' role table (Markdown)."""
    rows = ["| role | agents | reads | writes | keeps | runs in (chart) |", "|---|---|---|---|---|---|"]
    for r in all_roles():
        rows.append(f"| `{r.name}` | {', '.join(r.agents)} | {_topics(r.reads)} | {_topics(r.writes)} | "
                    f"{r.state or '—'} | `{r.deployment}` |")
    return "\n".join(rows) + "\n"


def topics_table() -> str:
    """The docs' topic table (Markdown): what each topic holds and which roles write and read it."""
    rows = ["| topic | key | holds | written by | read by |", "|---|---|---|---|---|"]
    for field, topic in TOPICS.items():
        writers = [f"`{r.name}`" for r in all_roles() if field in r.writes] + ([topic.writers] if topic.writers else [])
        readers = [f"`{r.name}`" for r in all_roles() if field in r.reads] + ([topic.readers] if topic.readers else [])
        rows.append(f"| `<prefix>.{topic.suffix}` | {topic.key} | {topic.holds} | {', '.join(writers) or '—'}"
                    f" | {', '.join(readers) or '—'} |")
    return "\n".join(rows) + "\n"


def _topics(fields: tuple[str, ...]) -> str:
    return ", ".join(f"`.{TOPICS[f].suffix}`" for f in fields) or "—"
