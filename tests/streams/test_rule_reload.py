"""Rules change while the worker runs: a valid set is swapped in whole, an invalid one is refused."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from chatwatch.streams import metrics
from chatwatch.streams.active_rules import ActiveRules
from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack

PACK = """\
pack: {{id: live, version: {version}, title: Live}}
rules:
  - id: live.word
    title: Word
    severity: low
    category: test
    match: {{any: [{word}]}}
"""
BROKEN = "pack: {id: live, version: 99, title: Live}\nrules:\n  - id: live.word\n    severity: nope\n"


def write(folder: Path, text: str) -> None:
    (folder / "live.yaml").write_text(text)


def configmap_swap(folder: Path, files: dict[str, str], stamp: str) -> None:
    """What the kubelet does with a ConfigMap volume: the files in a new `..<stamp>` folder, `..data`
    re-pointed at it in one rename, and the visible names as links through `..data`."""
    data = folder / f"..{stamp}"
    data.mkdir()
    for name, text in files.items():
        (data / name).write_text(text)
    (folder / "..data_tmp").symlink_to(data.name)
    (folder / "..data_tmp").rename(folder / "..data")
    for name in files:
        if not (folder / name).is_symlink():
            (folder / name).symlink_to(Path("..data") / name)


def test_a_configmap_volume_loads_each_pack_once_and_its_swap_reloads(tmp_path: Path):
    configmap_swap(tmp_path, {"live.yaml": PACK.format(version=1, word="alfa")}, "2026_11_24_10_00_00.1")
    active = ActiveRules(tmp_path)  # the hidden copy under ..<stamp> is not a second "live" pack
    assert [p["version"] for p in active.info()["packs"]] == ["1"]
    assert active.reload_if_changed() is None
    configmap_swap(tmp_path, {"live.yaml": PACK.format(version=2, word="beta")}, "2026_11_24_10_05_00.2")
    assert active.reload_if_changed() is True
    assert [p["version"] for p in active.info()["packs"]] == ["2"]


def test_swap_on_change_and_keep_the_old_set_on_a_broken_one(tmp_path: Path):
    write(tmp_path, PACK.format(version=1, word="alfa"))
    active = ActiveRules(tmp_path)
    first = active.scanner
    assert active.reload_if_changed() is None

    write(tmp_path, BROKEN)
    rejected_before = metrics.rules_reloads.labels("rejected")._value.get()
    assert active.reload_if_changed() is False
    assert active.scanner is first
    assert f"{tmp_path / 'live.yaml'}:4:" in active.last_error
    assert metrics.rules_reloads.labels("rejected")._value.get() == rejected_before + 1
    assert metrics.rules_reload_failing._value.get() == 1
    assert active.reload_if_changed() is None  # the same broken content is not retried in a loop

    write(tmp_path, PACK.format(version=2, word="beta"))
    assert active.reload_if_changed() is True
    assert active.scanner.ruleset.versions() == {"live": "2"}
    assert active.last_error is None and metrics.rules_reload_failing._value.get() == 0


@pytest.fixture(scope="module")
def live_stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    rules = tmp_path_factory.mktemp("live-rules")
    write(rules, PACK.format(version=1, word="alfa"))
    stack = LocalStack(kafka_bootstrap=kafka_bootstrap, log_dir=tmp_path_factory.mktemp("live-logs"), rules_dir=rules,
                       extra_env={"CHATWATCH_RULES_RELOAD_INTERVAL_S": "0"})  # SIGHUP only
    with stack:
        yield stack, rules


def rules_info(stack: LocalStack) -> dict:
    with urllib.request.urlopen(f"{stack.worker_url}/rules", timeout=5) as resp:
        return json.loads(resp.read())


def wait_for(predicate, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def post_and_get_alert(stack: LocalStack, text: str, rule_id: str) -> list[dict]:
    wamid = f"wamid.live.{uuid.uuid4().hex}"
    body = envelopes.dumps(envelopes.message(phone_number_id="1", display="52155", customer="5215512345678",
                                             wamid=wamid, timestamp=1_763_560_800, text=text))
    assert stack.post(body)[0] == 200
    return stack.read("alerts", 1, 30, where=lambda a: a["message_id"] == wamid and a["rule_id"] == rule_id)


def test_running_worker_reloads_on_sighup_and_refuses_a_broken_pack(live_stack):
    stack, rules = live_stack
    assert rules_info(stack)["packs"] == [{"id": "live", "version": "1", "rules": 1}]
    assert post_and_get_alert(stack, "palavra alfa aqui", "live.word")

    write(rules, PACK.format(version=2, word="beta"))
    stack.signal("worker", signal.SIGHUP)
    wait_for(lambda: rules_info(stack)["packs"][0]["version"] == "2")
    assert post_and_get_alert(stack, "agora beta", "live.word")

    write(rules, BROKEN)
    stack.signal("worker", signal.SIGHUP)
    wait_for(lambda: rules_info(stack)["last_reload_error"] is not None)
    info = rules_info(stack)
    assert info["packs"][0]["version"] == "2"
    assert re.search(r"live\.yaml:4:\d+: \[rule live\.word\]", info["last_reload_error"])
    with urllib.request.urlopen(f"{stack.worker_url}/metrics", timeout=5) as resp:
        exposition = resp.read().decode()
    assert "chatwatch_rules_reload_failing 1.0" in exposition
    assert 'chatwatch_rules_reloads_total{result="rejected"} 1.0' in exposition
    assert 'chatwatch_rule_pack_info{pack="live",version="2"} 1.0' in exposition
    assert post_and_get_alert(stack, "ainda beta", "live.word")  # the previous rules keep running
