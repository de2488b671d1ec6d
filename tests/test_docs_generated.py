"""The docs' tables that come from the code, and the chart's role sets, agree with the code.

Also the example of extending the worker: a reader of the alerts topic added as ONE module in
streams/agents/ (here written to a temporary folder on the package path) becomes a role the
worker can run, appears in `chatwatch worker --help`, in the topic and role tables (the docs check
then fails until `make docs` is run) and in a chart Deployment's role set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from chatwatch.cli import cli
from chatwatch.cli import docs as docs_cli
from chatwatch.streams import agents, roles

REPO = Path(__file__).resolve().parent.parent

SIEM_MODULE = '''
"""siem: alerts -> one JSON line each in a file a SIEM agent tails (an example role)."""

from typing import Any

from chatwatch.streams.agents.outputs import batch_agent, per_record
from chatwatch.streams.agents.role import Role, WorkerContext


def register(app: Any, ctx: WorkerContext) -> None:
    path = ctx.settings.data_dir / "siem.jsonl"

    def append(record: Any) -> list:
        with path.open("ab") as out:
            out.write((record.value or b"") + b"\\n")
        return []

    batch_agent(app, ctx.topics.alerts, "chatwatch.siem", "siem", per_record(append), 500, 0.05,
                ctx.topics.deadletter)


ROLE = Role(name="siem", order=60, summary="alerts -> a JSON-lines file for a SIEM agent", agents=("siem",),
            reads=("alerts",), writes=(), deployment="archive", register=register)
'''


def chart_role_sets() -> dict[str, list[str]]:
    values = yaml.safe_load((REPO / "helm/chatwatch/values.yaml").read_text())
    return {name: values[name]["roles"] for name in ("scan", "archive")}


def test_the_docs_tables_are_what_the_code_says():
    assert docs_cli.stale(REPO) == [], "run `make docs`"
    found = {name for rel in docs_cli.DOCS if (REPO / rel).is_file()
             for name in docs_cli.blocks_in((REPO / rel).read_text())}
    assert found == set(docs_cli.GENERATORS)  # every table is somewhere in the docs


def test_the_check_fails_on_a_table_edited_by_hand(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    text = (REPO / "docs/architecture.md").read_text()
    (tmp_path / "docs/architecture.md").write_text(text.replace("| `scan` | scan |", "| `scan` | scanner |", 1))
    assert docs_cli.stale(tmp_path) == ["docs/architecture.md"]
    result = CliRunner().invoke(cli, ["docs", "--check", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert CliRunner().invoke(cli, ["docs", "--root", str(tmp_path)]).exit_code == 0
    assert docs_cli.stale(tmp_path) == [] and (tmp_path / "docs/architecture.md").read_text() == text


def test_an_unknown_block_is_an_error():
    with pytest.raises(ValueError, match="unknown generated block 'nope'"):
        docs_cli.regenerate("<!-- generated: nope -->\nx\n<!-- end generated -->\n", "README.md")


def test_the_chart_runs_every_role_once_in_the_deployment_its_role_says():
    assert chart_role_sets() == roles.deployments()


@pytest.fixture
def siem_role(tmp_path: Path):
    folder = tmp_path / "more_agents"
    folder.mkdir()
    (folder / "siem.py").write_text(textwrap.dedent(SIEM_MODULE))
    agents.__path__.append(str(folder))
    roles.all_roles.cache_clear()
    yield
    agents.__path__.remove(str(folder))
    roles.all_roles.cache_clear()


def test_a_new_alerts_reader_is_one_module(siem_role, tmp_path: Path):
    assert roles.names() == ["normalize", "scan", "conversation", "archive", "notify", "siem"]
    assert [r.name for r in roles.select("siem,archive")] == ["archive", "siem"]
    assert "| `<prefix>.alerts` |" in roles.topics_table()
    alerts_row = next(line for line in roles.topics_table().splitlines() if line.startswith("| `<prefix>.alerts`"))
    assert alerts_row.endswith("| `archive`, `notify`, `siem` |")
    code = (f"import sys; from chatwatch.streams import agents; agents.__path__.append({str(tmp_path / 'more_agents')!r}); "
            "from chatwatch.cli import main; sys.argv = ['chatwatch', 'worker', '--help']; main()")
    help_text = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                               env={**os.environ, "COLUMNS": "200", "TERM": "dumb"}).stdout
    assert "siem: alerts -> a JSON-lines file for a SIEM agent" in help_text and "siem (default" in help_text
    assert roles.deployments()["archive"] == ["archive", "notify", "siem"]
    assert chart_role_sets() != roles.deployments()  # the chart check asks for it in values.yaml
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    assert docs_cli.stale(tmp_path) == ["docs/architecture.md"]  # ... and the docs check for `make docs`


def test_unknown_roles_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown role\\(s\\) scna; choose from normalize, scan, conversation"):
        roles.select("normalize,scna")
    assert [r.name for r in roles.select(None)] == roles.names()
    assert [r.name for r in roles.select(" notify , scan ")] == ["scan", "notify"]
