"""The `chatwatch` command, through its real entry point."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from chatwatch.cli import cli
from chatwatch.rules import SHIPPED_PACKS

runner = CliRunner()


def test_rules_validate_ok():
    result = runner.invoke(cli, ["rules", "validate", str(SHIPPED_PACKS)])
    assert result.exit_code == 0, result.output
    assert "off_channel@" in result.output


def test_rules_validate_reports_file_line_and_exits_1(tmp_path: Path):
    pack = tmp_path / "bad.yaml"
    pack.write_text("pack: {id: x, version: 1, title: X}\nrules:\n  - id: x.r\n    title: R\n    severity: bad\n"
                    "    category: c\n    match: {any: [a]}\n")
    result = runner.invoke(cli, ["rules", "validate", str(pack)])
    assert result.exit_code == 1
    assert f"{pack}:5:15:" in result.output and "x.r" in result.output


def test_rules_test_runs_examples_and_fails_on_a_wrong_one(tmp_path: Path):
    ok = runner.invoke(cli, ["rules", "test", str(SHIPPED_PACKS)])
    assert ok.exit_code == 0 and " 0 failed" in ok.output
    pack = tmp_path / "p.yaml"
    pack.write_text("pack: {id: x, version: 1, title: X}\nrules:\n  - id: x.r\n    title: R\n    severity: low\n"
                    "    category: c\n    match: {any: [senha]}\n    examples: {match: [minha senha], no_match: [a senha]}\n")
    bad = runner.invoke(cli, ["rules", "test", str(pack)])
    assert bad.exit_code == 1
    assert "should not match" in bad.output and "1 passed, 1 failed" in bad.output


def test_worker_refuses_invalid_rules_with_location(tmp_path: Path, monkeypatch):
    (tmp_path / "bad.yaml").write_text("pack: {id: x, version: 1, title: X}\nrules: []\nextra: 1\n")
    monkeypatch.setenv("CHATWATCH_RULES_DIR", str(tmp_path))
    result = runner.invoke(cli, ["worker"])
    assert result.exit_code == 2
    assert "bad.yaml:3:1" in result.output


def test_webhook_refuses_to_start_without_a_secret(monkeypatch):
    monkeypatch.delenv("CHATWATCH_APP_SECRET", raising=False)
    result = runner.invoke(cli, ["webhook"])
    assert result.exit_code == 2
    assert "CHATWATCH_APP_SECRET" in result.output


def test_a_mistyped_variable_is_refused(monkeypatch):
    monkeypatch.setenv("CHATWATCH_KAFKA_BOOTSRAP", "127.0.0.1:1")
    result = runner.invoke(cli, ["topics"])
    assert result.exit_code == 2
    assert "CHATWATCH_KAFKA_BOOTSRAP" in result.output


def test_webhook_parse_prints_what_a_body_becomes(tmp_path: Path):
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "106540352242922", "display_phone_number": "5511940001111"},
        "messages": [{"from": "", "from_user_id": "BR.9f8e", "id": "wamid.P1", "timestamp": "1763560800",
                      "type": "text", "text": {"body": "oi"}}],
        "errors": [{"code": 130429, "title": "Rate limit hit"}]}}]}]}
    (tmp_path / "body.json").write_text(json.dumps(body))
    (tmp_path / "broken.json").write_text("{")
    result = runner.invoke(cli, ["webhook", "parse", str(tmp_path / "body.json")])
    assert result.exit_code == 0
    (line,) = [json.loads(x) for x in result.output.splitlines()]
    assert line["kind"] == "message" and line["record"]["customer_user_id"] == "BR.9f8e"
    assert line["record"]["errors"][0]["code"] == 130429
    broken = runner.invoke(cli, ["webhook", "parse", str(tmp_path / "broken.json")])
    assert broken.exit_code == 1 and json.loads(broken.output)["reason"] == "invalid_json"


def test_import_dry_run_prints_canonical_messages(tmp_path: Path):
    (tmp_path / "chat.txt").write_text("25/11/2026, 14:05 - Ana: meu CPF é 529.982.247-25\n"
                                       "25/11/2026, 14:06 - Loja: obrigado\n", encoding="utf-8")
    result = runner.invoke(cli, ["import", str(tmp_path / "chat.txt"), "--employee", "Loja", "--number", "5511940001111",
                                 "--dry-run"])
    assert result.exit_code == 0, result.output
    first, second = [json.loads(x) for x in result.output.splitlines()]
    assert (first["direction"], second["direction"]) == ("inbound", "outbound")
    assert first["historical"] is True and first["source_type"] == "chat_export"


def test_retro_scan_of_an_export_counts_hits_per_rule(tmp_path: Path):
    lines = [f"25/11/2026, 10:{i:02d} - Loja: {'me chama no meu zap pessoal' if i % 4 == 0 else 'segue o boleto'}"
             for i in range(40)]
    (tmp_path / "chat.txt").write_text("\n".join(["25/11/2026, 09:59 - Ana: oi", *lines]) + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["scan", "--export", str(tmp_path / "chat.txt"), "--employee", "Loja",
                                 "--number", "5511940001111", "-f", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{"):])
    by_rule = {r["rule"]: r for r in report["retro_scan_by_rule"]}
    assert by_rule["off_channel.personal_contact"]["hits"] == 10
    assert by_rule["off_channel.personal_contact"]["conversations"] == 1


def test_secrets_come_from_files_and_a_missing_file_is_named(tmp_path: Path, monkeypatch):
    from chatwatch.settings import Settings

    (tmp_path / "redaction-key").write_text("k3y-from-a-secret\n")
    monkeypatch.setenv("CHATWATCH_REDACTION_KEY_FILE", str(tmp_path / "redaction-key"))
    monkeypatch.setenv("CHATWATCH_ALERT_SNIPPET", "hash")
    assert Settings().redaction_key.get_secret_value() == "k3y-from-a-secret"
    monkeypatch.setenv("CHATWATCH_NOTIFY_ACK_KEY_FILE", str(tmp_path / "absent"))
    result = runner.invoke(cli, ["topics"])
    assert result.exit_code == 2 and "notify_ack_key_file: no such file" in result.output
    assert "k3y-from-a-secret" not in result.output


def test_import_refuses_an_employee_who_writes_nothing_in_the_export(tmp_path: Path):
    (tmp_path / "chat.txt").write_text("25/11/2026, 14:05 - Ana: oi\n25/11/2026, 14:06 - Loja Centro: olá\n",
                                       encoding="utf-8")
    result = runner.invoke(cli, ["import", str(tmp_path / "chat.txt"), "--employee", "Loja", "--number", "5511940001111",
                                 "--dry-run"])
    assert result.exit_code == 2 and "writes nothing here" in result.output and "loja centro" in result.output


def test_rules_test_plays_conversation_examples(tmp_path: Path):
    import shutil

    shutil.copytree(SHIPPED_PACKS, tmp_path / "packs")
    pack = """pack: {id: sla, version: 1, title: SLA}
conversation:
  - id: sla.unanswered
    title: Customer left unanswered
    severity: medium
    category: service
    absence: {after: {from: customer}, expect: {from: employee}, within: {minutes: 15}}
    examples:
      fires: [[{at: "09:00", from: customer, text: "alguém aí?"}]]
      silent: [[{at: "09:00", from: customer, text: "oi"}, {at: "WHEN", from: employee, text: "oi!"}]]
"""
    (tmp_path / "packs" / "sla.yaml").write_text(pack.replace("WHEN", "09:10"))
    ok = runner.invoke(cli, ["rules", "test", str(tmp_path / "packs")])
    assert ok.exit_code == 0 and "sla.unanswered: 2/2" in ok.output
    (tmp_path / "packs" / "sla.yaml").write_text(pack.replace("WHEN", "09:20"))  # the reply comes too late
    late = runner.invoke(cli, ["rules", "test", str(tmp_path / "packs")])
    assert late.exit_code == 1 and "sla.unanswered: 1/2" in late.output


def test_rules_explain_conversation_json_names_the_lines_that_made_an_alert(tmp_path: Path):
    script = tmp_path / "chat.yaml"
    script.write_text('lines:\n  - {at: "12:00", from: customer, text: "Mi tarjeta es 4111 1111 1111 1111"}\n'
                      '  - {at: "12:01", from: employee, text: "Pásame también el código de seguridad"}\n')
    result = runner.invoke(cli, ["rules", "explain", str(SHIPPED_PACKS), "--conversation", str(script), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    (alert,) = [a for a in doc["lines"][1]["conversation_alerts"] if a["rule"] == "payment_data.card_and_code"]
    assert alert["because_of_lines"] == [1, 2] and doc["lines"][1]["at"].startswith("2026-11-18T12:01")
    assert {"rule": "payment_data.card_and_code", "kind": "accumulation", "severity": "critical", "fired": True,
            "state": "events seen: 2 of 2"} in doc["conversation_rules"]


def test_rules_explain_conversation_refuses_unknown_script_keys(tmp_path: Path):
    script = tmp_path / "chat.yaml"
    script.write_text('numero: "5215550001111"\nlines:\n  - {at: "12:00", from: customer, text: "hola"}\n')
    result = runner.invoke(cli, ["rules", "explain", str(SHIPPED_PACKS), "--conversation", str(script)])
    assert result.exit_code == 1 and "unknown key(s) ['numero']" in result.output


def test_rules_explain_conversation_takes_the_business_number(tmp_path: Path):
    """The shipped service-level rule has a Mexico calendar: with the number, its clock follows it."""
    script = tmp_path / "chat.yaml"
    script.write_text('number: "+52 55 1234 5678"\nlines:\n  - {at: "12:00", from: customer, text: "hola"}\n')
    result = runner.invoke(cli, ["rules", "explain", str(SHIPPED_PACKS), "--conversation", str(script), "--json"])
    assert result.exit_code == 0, result.output
    with_number = {r["rule"]: r["state"] for r in json.loads(result.output)["conversation_rules"]}
    script.write_text('lines:\n  - {at: "12:00", from: customer, text: "hola"}\n')
    without = {r["rule"]: r["state"] for r in json.loads(runner.invoke(
        cli, ["rules", "explain", str(SHIPPED_PACKS), "--conversation", str(script), "--json"]).output)["conversation_rules"]}
    assert with_number != without  # a different calendar, a different deadline
