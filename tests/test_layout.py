"""Our top-level packages are ours, and dependencies point one way.

PyPI has distributions that install top-level `rules` and `detectors`; this proves the
imports resolve to this repository. Direction: rules <- detectors <- sinks <- streams, and
only streams/app.py, streams/cli.py and streams/agents/ may import Faust.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("streams", "rules", "detectors", "sinks")
MAY_NOT_IMPORT = {
    "rules": {"detectors", "sinks", "streams", "faust"},
    "detectors": {"sinks", "streams", "faust"},
    "sinks": {"faust"},
}
FAUST_ALLOWED = {"streams/app.py", "streams/cli.py"}


@pytest.mark.parametrize("name", PACKAGES)
def test_package_resolves_inside_the_repository(name: str):
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().is_relative_to(REPO), module.__file__


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_dependency_direction():
    offences = []
    for package, forbidden in MAY_NOT_IMPORT.items():
        for path in (REPO / package).rglob("*.py"):
            bad = _imports(path) & forbidden
            if bad:
                offences.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    for path in (REPO / "streams").rglob("*.py"):
        rel = str(path.relative_to(REPO))
        if "faust" in _imports(path) and rel not in FAUST_ALLOWED and not rel.startswith("streams/agents/"):
            offences.append(f"{rel} imports faust")
    assert not offences, offences


def test_schemas_import_without_faust():
    import subprocess
    import sys

    code = "import sys, streams.schemas, streams.settings, streams.ingest.whatsapp_webhook; print('faust' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"
