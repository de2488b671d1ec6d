"""JSON log lines: stable fields, one object per line, never the payload."""

from __future__ import annotations

import io
import json
import logging
import logging.config

from chatwatch import logs
from chatwatch.streams.agents.outputs import dead_letter_output


def test_a_dead_letter_logs_its_coordinates_as_fields_and_not_its_payload():
    stream = io.StringIO()
    config = logs.logging_config("info", "json")
    config["handlers"]["stderr"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        body = b'{"text": {"body": "meu CPF 529.982.247-25"}}'
        dead_letter_output("normalize", "invalid_message", "entry[0]: missing field 'id'", body, "t.dlq", "t.raw", 3, 41,
                           error_class="KeyError")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("chatwatch.test").exception("step failed", **logs.fields(stage="scan", topic="t.messages"))
    finally:
        logs.setup("warning", "text")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: first[k] for k in ("level", "stage", "reason", "topic", "partition", "offset", "error_class")} == {
        "level": "warning", "stage": "normalize", "reason": "invalid_message", "topic": "t.raw", "partition": 3,
        "offset": 41, "error_class": "KeyError"}
    assert "529.982.247-25" not in stream.getvalue()
    assert second["error_class"] == "ValueError" and "Traceback" in second["traceback"] and second["stage"] == "scan"
