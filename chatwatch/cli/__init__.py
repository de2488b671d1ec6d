"""The `chatwatch` command: one module per command group, each registering itself on the root app.

    root.py     the root app, consoles, settings loading (every group uses it)
    run.py      worker, webhook, topics, demo
    rules.py    rules validate | test | explain
    pii.py      pii detect
    archive.py  db migrate | query, report, hold, erase, scan (retro-scan)
    notify.py   notify test
    console.py  console (the web console), users add | list | disable | enable | reset
    capture.py  import (chat exports), webhook parse
    docs.py     docs (hidden: rewrites the docs' tables taken from the code)
"""

# Each module registers its commands on `cli` when imported; this order is the order of `--help`.
from chatwatch.cli import run, rules, pii, archive, notify, console, capture, docs  # noqa: I001
from chatwatch.cli.root import cli

__all__ = ["archive", "capture", "cli", "console", "docs", "main", "notify", "pii", "rules", "run"]


def main() -> None:
    cli()
