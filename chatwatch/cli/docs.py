"""`chatwatch docs [--check]`: rewrite the tables the docs take from the code (topics, roles, settings).

A generated block sits between `<!-- generated: NAME -->` and `<!-- end generated -->`; the text in
between is replaced by what the code says. `make test` runs the check (tests/test_docs_generated.py),
so a role, topic or setting added without its docs fails the build instead of drifting.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import typer

from chatwatch.cli.root import cli, console, err
from chatwatch.settings.reference import settings_reference
from chatwatch.streams import roles

BLOCK = re.compile(r"(<!-- generated: ([a-z-]+) -->\n)(.*?)(<!-- end generated -->)", re.S)
GENERATORS: dict[str, Callable[[], str]] = {
    "topics": roles.topics_table,
    "roles": roles.roles_table,
    "settings": settings_reference,
}
DOCS = ("README.md", "docs/architecture.md", "docs/operations.md", "docs/rules.md")


def regenerate(text: str, where: str = "") -> str:
    """`text` with every generated block rewritten; an unknown block name is an error."""

    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in GENERATORS:
            raise ValueError(f"{where}: unknown generated block {name!r}; known: {', '.join(GENERATORS)}")
        return match.group(1) + GENERATORS[name]() + match.group(4)

    return BLOCK.sub(fill, text)


def blocks_in(text: str) -> list[str]:
    return [m.group(2) for m in BLOCK.finditer(text)]


def stale(root: Path) -> list[str]:
    """The docs under `root` whose generated blocks differ from the code."""
    return [rel for rel in DOCS if (root / rel).is_file()
            and regenerate((root / rel).read_text(encoding="utf-8"), rel) != (root / rel).read_text(encoding="utf-8")]


@cli.command(hidden=True)
def docs(check: bool = typer.Option(False, help="Only report stale docs (exit 1), do not write."),
         root: Path = typer.Option(Path("."), help="The repository.")) -> None:
    """Rewrite the docs' generated tables (topics, roles, settings) from the code."""
    outdated = stale(root)
    if check:
        for rel in outdated:
            err.print(f"[red]{rel}: generated tables differ from the code; run `make docs`[/]")
        raise typer.Exit(1 if outdated else 0)
    for rel in outdated:
        path = root / rel
        path.write_text(regenerate(path.read_text(encoding="utf-8"), rel), encoding="utf-8")
        console.print(f"rewrote {rel}")
