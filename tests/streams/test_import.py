"""`chatwatch import` on the real broker: a chat export goes through the worker's scan path; its
alerts are marked historical; importing it again gives the same messages and alert ids."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from chatwatch.streams.demo.stack import LocalStack

EXPORT = """\
03/11/2026 09:02 - Cliente {run}: Bom dia! Meu pedido não chegou
03/11/2026 09:05 - Carlos Loja: Me chama no privado, meu zap pessoal
03/11/2026 09:06 - Cliente {run}: ok, obrigado
"""


def run_import(stack: LocalStack, path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatwatch.cli", "import", str(path), "--employee", "Carlos Loja",
                           "--number", "5511940001111", "--tz", "America/Sao_Paulo", *extra],
                          env=stack.env, capture_output=True, text=True, timeout=120)


def test_an_imported_export_is_scanned_and_its_alerts_are_historical(stack: LocalStack, tmp_path: Path):
    run = uuid.uuid4().hex[:8]
    path = tmp_path / f"WhatsApp Chat with Cliente {run}.txt"
    path.write_text(EXPORT.format(run=run), encoding="utf-8")
    done = run_import(stack, path)
    assert done.returncode == 0, done.stderr
    assert "3 messages" in done.stdout

    scans = stack.read("scans", 3, 90, where=lambda r: r["message"]["details"].get("export_file") == path.stem)
    assert {r["message"]["origin"]["channel"] for r in scans} == {"chat_export"}
    assert all(r["message"]["historical"] for r in scans)
    (alert,) = stack.read("alerts", 1, 60, where=lambda a: a["rule_id"] == "off_channel.personal_contact"
                          and a["message_id"] in {r["message"]["message_id"] for r in scans})
    assert alert["historical"] is True and alert["direction"] == "outbound"

    assert run_import(stack, path).returncode == 0  # the same file again: same ids, same alert id
    again = stack.read("alerts", 2, 60, where=lambda a: a["message_id"] == alert["message_id"]
                       and a["rule_id"] == alert["rule_id"], settle_s=3)
    assert {a["alert_id"] for a in again} == {alert["alert_id"]}


def test_an_export_with_no_messages_is_refused(stack: LocalStack, tmp_path: Path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\nnot a chat\n", encoding="utf-8")
    done = run_import(stack, path)
    assert done.returncode == 2 and "no WhatsApp messages found" in " ".join(done.stderr.split())
