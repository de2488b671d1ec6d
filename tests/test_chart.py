"""The Helm chart, rendered by the real helm (`make helm` builds it): it lints, and rule packs given
in values reach the worker as a ConfigMap volume that the worker's own loader reads, without a
checksum annotation that would restart the pods on every rules change."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from chatwatch.streams.active_rules import ActiveRules
from tests.conftest import REPO
from tests.streams.test_rule_reload import PACK, configmap_swap

CHART = REPO / "helm" / "chatwatch"


@pytest.fixture(scope="module")
def helm() -> str:
    found = os.environ.get("HELM_BIN") or shutil.which("helm")
    if not found or not Path(found).exists():
        pytest.skip("helm not built: `make helm` (make test builds it)")
    return found


def render(helm: str, folder: Path, values: dict) -> list[dict]:
    (folder / "values.yaml").write_text(yaml.safe_dump(values))
    out = subprocess.run([helm, "template", "t", str(CHART), "-f", str(folder / "values.yaml")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def test_the_chart_lints(helm: str):
    out = subprocess.run([helm, "lint", str(CHART)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_rule_packs_reach_the_worker_as_a_configmap_its_loader_reads(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"rulePacks": {"live.yaml": PACK.format(version=7, word="alfa")}})
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    worker = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "t-worker")
    pod = worker["spec"]["template"]
    assert not any(k.startswith("checksum/") for k in (pod["metadata"].get("annotations") or {}))
    container = pod["spec"]["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "rules")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CHATWATCH_RULES_DIR"] == mount["mountPath"]
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "rules")
    assert volume["configMap"]["name"] == config["metadata"]["name"]
    # what the kubelet makes of that ConfigMap, read by the worker's loader
    volume_dir = tmp_path / "rules"
    volume_dir.mkdir()
    configmap_swap(volume_dir, config["data"], "2026_11_24_10_00_00.1")
    assert ActiveRules(volume_dir).scanner.ruleset.versions() == {"live": "7"}
