"""The Helm chart, rendered by the real helm (`make helm` builds it): it lints against its values
schema; one Deployment per role set with probes, a locked-down security context and secrets as
files; rule packs given in values reach the worker as a ConfigMap volume that the worker's own
loader reads, without a checksum annotation that would restart the pods on every rules change; the
PrometheusRule's alerts each have a runbook section (and pass promtool when it is built)."""

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
    worker = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "t-scan")
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


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_a_mistyped_value_is_refused_by_the_schema(helm: str, tmp_path: Path):
    (tmp_path / "values.yaml").write_text("webhok: {replicas: 3}\n")
    out = subprocess.run([helm, "template", "t", str(CHART), "-f", str(tmp_path / "values.yaml")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0 and "webhok" in out.stderr


def test_one_deployment_per_role_set_locked_down_with_probes(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {"secrets": {"name": "cw", "optionalKeys": ["redaction-key"]}})
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {"t-webhook", "t-scan", "t-archive"}
    args = {name: d["spec"]["template"]["spec"]["containers"][0]["args"] for name, d in deployments.items()}
    assert args == {"t-webhook": ["webhook"], "t-scan": ["worker", "--roles", "normalize,scan,conversation"],
                    "t-archive": ["worker", "--roles", "archive,notify"]}
    archive = deployments["t-archive"]["spec"]
    assert archive["replicas"] == 1 and archive["strategy"]["type"] == "Recreate"  # embedded ClickHouse: one owner
    for name, d in deployments.items():
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        (container,) = pod["containers"]
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and sc["capabilities"]["drop"] == ["ALL"]
        assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container), name
        env = container["env"]
        assert not any("valueFrom" in e for e in env), name  # secrets are files, never env values
        files = {e["name"]: e["value"] for e in env if e["name"].endswith("_FILE")}
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert all(any(path.startswith(m + "/") for m in mounts) for path in files.values()), (name, files)
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == "cw"
        writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
        assert "/tmp" in writable, name
    scan_env = {e["name"]: e["value"] for e in deployments["t-scan"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert scan_env["CHATWATCH_REDACTION_KEY_FILE"] == "/var/run/secrets/chatwatch/redaction-key"
    assert set(by_kind(docs, "HorizontalPodAutoscaler")) == {"t-webhook", "t-scan"}
    assert by_kind(docs, "HorizontalPodAutoscaler")["t-scan"]["spec"]["maxReplicas"] <= 8  # never above partitions
    assert set(by_kind(docs, "PodDisruptionBudget")) == {"t-webhook", "t-scan"}  # no PDB on the one archive pod
    assert set(by_kind(docs, "NetworkPolicy")) == {"t-webhook", "t-workers"}


def test_with_a_clickhouse_server_the_archive_scales_and_ingress_and_monitoring_render(helm: str, tmp_path: Path):
    docs = render(helm, tmp_path, {
        "clickhouse": {"url": "https://ch.internal:8443"}, "archive": {"replicas": 3},
        "webhook": {"ingress": {"enabled": True, "host": "wa.example.com", "tlsSecret": "wa-tls"}},
        "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kps"}},
        "notifications": {"config": "receivers: []\n", "secretEnv": {"CW_SMTP_PASSWORD": "smtp-password"}}})
    archive = by_kind(docs, "Deployment")["t-archive"]
    assert archive["spec"]["replicas"] == 3 and "PersistentVolumeClaim" not in {d["kind"] for d in docs}
    assert "t-archive" in by_kind(docs, "PodDisruptionBudget")
    ingress = by_kind(docs, "Ingress")["t-webhook"]["spec"]
    assert ingress["rules"][0]["http"]["paths"][0]["path"] == "/webhooks/whatsapp"
    assert by_kind(docs, "ServiceMonitor")["t"]["metadata"]["labels"]["release"] == "kps"
    rule = by_kind(docs, "PrometheusRule")["t"]
    assert rule["metadata"]["labels"]["release"] == "kps" and rule["spec"]["groups"][0]["rules"]
    env = archive["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "CW_SMTP_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "chatwatch", "key": "smtp-password"}}} in env


def test_the_console_is_served_by_the_archive_pod_or_its_own_deployment(helm: str, tmp_path: Path):
    """Embedded chdb: one process owns the data folder, so the archive pod serves the console; with a
    ClickHouse server the console is a Deployment of its own, telling the archive worker of acks."""
    embedded = render(helm, tmp_path, {"console": {"url": "https://cw.example.com"}})
    assert "t-console" not in by_kind(embedded, "Deployment")
    worker = by_kind(embedded, "Deployment")["t-archive"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in worker["env"]}
    assert env["CHATWATCH_CONSOLE_IN_WORKER"] == "true" and env["CHATWATCH_CONSOLE_URL"] == "https://cw.example.com"
    assert {"name": "console", "containerPort": 8090} in worker["ports"]
    assert by_kind(embedded, "Service")["t-console"]["spec"]["selector"]["app.kubernetes.io/component"] == "archive"

    served = render(helm, tmp_path, {"clickhouse": {"url": "https://ch.internal:8443"},
                                     "secrets": {"optionalKeys": ["console-secret-key"]}})
    console = by_kind(served, "Deployment")["t-console"]
    container = console["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["args"] == ["console"] and console["spec"]["replicas"] == 2
    assert env["CHATWATCH_CONSOLE_SECRET_KEY_FILE"] == "/var/run/secrets/chatwatch/console-secret-key"
    assert env["CHATWATCH_CONSOLE_NOTIFY_URL"] == "http://t-archive:6066"
    assert "CHATWATCH_CONSOLE_IN_WORKER" not in {e["name"] for e in
                                                 by_kind(served, "Deployment")["t-archive"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert by_kind(served, "Service")["t-console"]["spec"]["selector"]["app.kubernetes.io/component"] == "console"


RULES_FILE = CHART / "files" / "prometheus-rules.yaml"


def test_every_alert_has_a_runbook_and_uses_metrics_we_export():
    import re

    operations = (REPO / "docs" / "operations.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
               for h in re.findall(r"^## (.+)$", operations, re.M)}
    ours = {m for path in REPO.glob("*/**/*.py") if ".venv" not in path.parts
            for m in re.findall(r'"(chatwatch_[a-z_]+)"', path.read_text())}
    rules = yaml.safe_load(RULES_FILE.read_text())["groups"][0]["rules"]
    assert len(rules) >= 10
    for rule in rules:
        assert rule["annotations"]["runbook_url"].split("#")[1] in anchors, rule["alert"]
        for metric in re.findall(r"\b(chatwatch_[a-z_]+)", rule["expr"]):
            assert metric in ours, (rule["alert"], metric)


def test_promtool_accepts_the_rules():
    promtool = os.environ.get("PROMTOOL_BIN") or shutil.which("promtool")
    if not promtool or not Path(promtool).exists():
        pytest.skip("promtool not built: `make promtool`")
    out = subprocess.run([promtool, "check", "rules", str(RULES_FILE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


KUBERNETES = "1.30.0"  # the oldest minor the chart supports; every object it renders exists there
# The default values and one values file per topology (helm/chatwatch/ci/, chart-testing's layout).
TOPOLOGIES = {"default": {}, **{p.stem: yaml.safe_load(p.read_text()) for p in sorted((CHART / "ci").glob("*.yaml"))}}


@pytest.mark.parametrize("topology", list(TOPOLOGIES))
def test_rendered_objects_are_valid_kubernetes_for_each_topology(helm: str, tmp_path: Path, topology: str):
    """Strict validation against the Kubernetes schemas kubernetes-validate ships (offline); the
    Prometheus operator's objects (CRDs) have no schema there and are checked by the tests above."""
    import kubernetes_validate

    lint = subprocess.run([helm, "lint", str(CHART), "-f", str(CHART / "ci" / f"{topology}.yaml")]
                          if topology != "default" else [helm, "lint", str(CHART)], capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    docs = render(helm, tmp_path, TOPOLOGIES[topology])
    checked = []
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        checked.append(f"{doc['kind']}/{doc['metadata']['name']}")
    assert len(checked) >= 12, checked


def test_webhook_sources_their_secrets_and_other_settings_reach_the_pods(helm: str, tmp_path: Path):
    from chatwatch.settings import FILE_SECRETS, Settings

    keys = [name.replace("_", "-") for name in FILE_SECRETS]  # every secret a setting reads from a file
    docs = render(helm, tmp_path, {"secrets": {"name": "cw", "optionalKeys": keys},
                                   "webhook": {"sources": ["whatsapp_cloud_api", "chatwoot"]},
                                   "settings": {"CHATWOOT_INBOX_NUMBERS": '{"3": "106540352242922"}'}})
    deployments = by_kind(docs, "Deployment")
    env = {e["name"]: e.get("value") for e in deployments["t-webhook"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CHATWATCH_WEBHOOK_SOURCES"] == "whatsapp_cloud_api,chatwoot"
    assert env["CHATWATCH_CHATWOOT_WEBHOOK_SECRET_FILE"] == "/var/run/secrets/chatwatch/chatwoot-webhook-secret"
    assert env["CHATWATCH_CHATWOOT_INBOX_NUMBERS"] == '{"3": "106540352242922"}'
    scan = {e["name"] for e in deployments["t-scan"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "CHATWATCH_CHATWOOT_INBOX_NUMBERS" in scan  # normalize keys conversations with it too
    chatwatch_vars = {name for d in deployments.values() for c in d["spec"]["template"]["spec"]["containers"]
                      for name in (e["name"] for e in c.get("env", [])) if name.startswith("CHATWATCH_")}
    assert Settings.unknown_environment(dict.fromkeys(chatwatch_vars, "x")) == []  # every variable is a setting
