"""Log output for every process: text for people, or one JSON object per line for log pipelines
(`CHATWATCH_LOG_FORMAT=json`). JSON lines carry stable fields — ts, level, logger, message, and when
the call names them stage, topic, partition, offset, reason, error_class — and, like the text,
never message text (log calls name fields and codes, not values)."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

FIELDS = ("stage", "topic", "partition", "offset", "reason", "error_class", "agent", "attempt")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                               "level": record.levelname.lower(), "logger": record.name,
                               "message": record.getMessage()}
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            out.setdefault("error_class", record.exc_info[0].__name__)
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """A logging.config.dictConfig for the root logger on stderr (Faust's worker takes it as is)."""
    formatter = {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {
        "format": "[%(asctime)s] %(levelname)s %(name)s: %(message)s"}
    return {"version": 1, "disable_existing_loggers": False, "formatters": {"main": formatter},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}},
            "root": {"level": level.upper(), "handlers": ["stderr"]}}


def setup(level: str, fmt: str = "text") -> None:
    logging.config.dictConfig(logging_config(level, fmt))


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a log call: the stable fields JSON lines carry (None values are left out)."""
    return {"extra": {k: v for k, v in values.items() if v is not None}}
