"""One namespace, and dependencies that point one way.

Layers, bottom to top (a module may import its own layer and the layers below it, never above
and never beside):

    records   chatwatch (the package itself), chatwatch.records, chatwatch.settings, chatwatch.csv_export,
              chatwatch.people
    rules     chatwatch.rules
    detectors chatwatch.detectors
    sinks     chatwatch.sinks
    console | streams   two applications side by side: the compliance console and the worker (with the
              webhook receiver); neither imports the other
    cli       chatwatch.cli, and chatwatch.streams.demo (the demo runs the whole product: receiver, worker,
              console)

No two modules import each other, directly or around a loop, and only the worker's wiring
(streams/app.py, streams/agents/) imports Faust. `test_checker_reports_an_upward_import_and_a_cycle`
shows the checker failing on a tree that breaks both rules, e.g.

    rules/model.py imports chatwatch.streams.app: rules may not import streams
    cycle: chatwatch.detectors.a -> chatwatch.detectors.b -> chatwatch.detectors.a
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAYERS = ["records", "rules", "detectors", "sinks", "console", "streams", "cli"]
RANK = {"records": 0, "rules": 1, "detectors": 2, "sinks": 3, "console": 4, "streams": 4, "cli": 5}
APPS = ("chatwatch.streams.demo",)  # in streams/ for its scripts' sake, but it drives every part: the cli layer
BOTTOM = {"chatwatch", "chatwatch.records", "chatwatch.settings", "chatwatch.csv_export", "chatwatch.people"}
FAUST_ALLOWED = ("chatwatch.streams.app", "chatwatch.streams.agents")


def package_dirs(root: Path = REPO) -> dict[str, Path]:
    """The setuptools package-dir mapping: import name -> folder (e.g. chatwatch.streams -> streams/)."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    return {name: root / folder for name, folder in config["tool"]["setuptools"]["package-dir"].items()}


def modules(dirs: dict[str, Path]) -> dict[str, Path]:
    """Every module under the mapped folders, by its import name."""
    found: dict[str, Path] = {}
    for package, folder in dirs.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            if any(name.startswith(other + ".") or name == other for other in dirs if len(other) > len(package)):
                continue  # belongs to a more specific mapping
            found[name] = path
    return found


def layer_of(module: str) -> str | None:
    if module.startswith(APPS):
        return "cli"
    if module in BOTTOM or module.startswith(("chatwatch.records.", "chatwatch.settings.")):
        return "records"
    parts = module.split(".")
    if parts[0] != "chatwatch" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return parts[1]


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """chatwatch modules a file imports (module-level or not: a function-level import is still a dependency)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target:
                found.add(target)
    return found


def third_party_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a readable loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def offences(root: Path) -> list[str]:
    """Every upward import, forbidden Faust import and import cycle in the tree at `root`."""
    found = modules(package_dirs(root))
    graph = {name: imports_of(name, path, set(found)) - {name} for name, path in found.items()}
    problems = []
    for name, targets in sorted(graph.items()):
        rel = found[name].relative_to(root)
        mine = layer_of(name)
        for target in sorted(targets):
            theirs = layer_of(target)
            if mine and theirs and (RANK[theirs] > RANK[mine] or (RANK[theirs] == RANK[mine] and theirs != mine)):
                problems.append(f"{rel} imports {target}: {mine} may not import {theirs}")
        if "faust" in third_party_imports(found[name]) and not name.startswith(FAUST_ALLOWED):
            problems.append(f"{rel} imports faust: only {', '.join(FAUST_ALLOWED)} may")
    for loop in cycles(graph):
        problems.append("cycle: " + " -> ".join([*loop, loop[0]]))
    return problems


def test_layers_point_one_way_and_nothing_imports_in_a_circle():
    assert offences(REPO) == []


def test_checker_reports_an_upward_import_and_a_cycle(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    files = {
        "chatwatch/__init__.py": "",
        "chatwatch/records.py": "",
        "rules/__init__.py": "",
        "rules/model.py": "from chatwatch.records import Severity\nfrom chatwatch.streams.app import create_app\n",
        "detectors/__init__.py": "",
        "detectors/a.py": "from chatwatch.detectors import b\n",
        "detectors/b.py": "def f():\n    from chatwatch.detectors.a import g\n",
        "sinks/__init__.py": "",
        "streams/__init__.py": "",
        "streams/app.py": "import faust\nfrom chatwatch.rules import SHIPPED_PACKS\n",
        "streams/topics.py": "import faust\n",
        "streams/server.py": "from chatwatch.console.web import create_app\n",
        "console/__init__.py": "",
        "console/web.py": "",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert offences(tmp_path) == [
        "rules/model.py imports chatwatch.streams.app: rules may not import streams",
        "streams/server.py imports chatwatch.console.web: streams may not import console",
        "streams/topics.py imports faust: only chatwatch.streams.app, chatwatch.streams.agents may",
        "cycle: chatwatch.detectors.a -> chatwatch.detectors.b -> chatwatch.detectors.a",
    ]


@pytest.mark.parametrize("name", ["chatwatch.streams", "chatwatch.rules", "chatwatch.detectors", "chatwatch.sinks",
                                  "chatwatch.console"])
def test_packages_resolve_to_their_folders_in_this_repository(name: str):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve() == package_dirs()[name] / "__init__.py"


def test_records_and_settings_import_without_faust_or_the_layers_above():
    code = ("import sys, chatwatch.records, chatwatch.settings, chatwatch.streams.ingest.whatsapp_webhook; "
            "print(sorted(m for m in sys.modules if m == 'faust' or m.startswith(('chatwatch.sinks', 'chatwatch.cli'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
