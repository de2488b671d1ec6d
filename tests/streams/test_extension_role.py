"""A role added as one module runs in a real worker: the SIEM example of docs/extending.md, written to a
temporary folder on the agents package path, reads the alerts topic of the running stack and writes each
alert as one JSON line — nothing else in the code base knows of it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack, free_port
from tests.test_docs_generated import SIEM_MODULE


def test_a_siem_role_in_its_own_module_gets_every_alert_once(stack: LocalStack, tmp_path: Path):
    folder = tmp_path / "more_agents"
    folder.mkdir()
    (folder / "siem.py").write_text(textwrap.dedent(SIEM_MODULE))
    data_dir = tmp_path / "siem-data"
    port = free_port()
    code = (f"import sys; from chatwatch.streams import agents; agents.__path__.append({str(folder)!r}); "
            "from chatwatch.cli import main; sys.argv = ['chatwatch', 'worker', '--roles', 'siem']; main()")
    env = {**stack.env, "CHATWATCH_WORKER_PORT": str(port), "CHATWATCH_DATA_DIR": str(data_dir)}
    with open(tmp_path / "siem.log", "wb") as log:
        worker = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
    try:
        run = uuid.uuid4().hex[:8]
        wamids = [f"wamid.{run}.{i}" for i in range(3)]
        for i, wamid in enumerate(wamids):
            body = envelopes.message(phone_number_id="106540352242922", display="5215550001111",
                                     customer="5215512345678", wamid=wamid, timestamp=1_763_560_800 + i,
                                     text="Mejor escríbeme a mi número personal", outbound=True)
            assert stack.post(envelopes.dumps(body))[0] == 200
        expected = {a["alert_id"] for a in stack.read("alerts", 3, 60, where=lambda a: a["message_id"] in wamids)}
        assert len(expected) == 3
        out = data_dir / "siem.jsonl"
        deadline = time.monotonic() + 90
        got: list[dict] = []
        while time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "siem.log").read_text()[-3000:]
            lines = out.read_text().splitlines() if out.exists() else []
            got = [a for a in map(json.loads, lines) if a["message_id"] in wamids]
            if len(got) >= 3:
                break
            time.sleep(0.5)
        assert sorted(a["alert_id"] for a in got) == sorted(expected)  # each alert once, as the topic has it
        assert "5215512345678" not in out.read_text()  # what the topic carries: the customer's number masked
    finally:
        worker.terminate()
        worker.wait(30)
    assert worker.returncode == 0


