"""Serving the console with waitress (a pure-Python, production WSGI server).

Two ways, one application:
- `chatwatch console`: its own process. With a ClickHouse server that is the deployment (the
  chart's console Deployment). With embedded chdb it works only while no worker holds the data
  folder (chdb serves one folder per process).
- CONSOLE_IN_WORKER=true: the worker that runs the archive role serves the console from a thread,
  sharing its ClickHouse client, so embedded chdb needs no second process.
"""

from __future__ import annotations

import logging
import threading

from waitress.server import create_server

from chatwatch.console.casefile import Redactor
from chatwatch.console.web import create_app, public_url
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.rules import SHIPPED_PACKS, RulePackError, RuleSet, load_rules_dir
from chatwatch.settings import Settings
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.notifications.config import people_path

log = logging.getLogger(__name__)


def rules(settings: Settings) -> RuleSet | None:
    try:
        return load_rules_dir(settings.rules_dir or SHIPPED_PACKS)
    except RulePackError as exc:
        log.warning("console: rule packs do not load (%s); cases show no rule descriptions", str(exc)[:200])
        return None


def redactor(settings: Settings) -> Redactor:
    """Only needed when the archive keeps raw text: redacts it for display like the pipeline does."""
    if settings.archive_text != "raw":
        return Redactor(None)
    return Redactor(lambda: PiiDetector(PiiConfig.from_settings(settings)))


class ConsoleServer:
    """The console on a waitress server; `start()` serves from a thread, `serve()` in the caller's."""

    def __init__(self, settings: Settings, client: Client):
        app = create_app(settings, client, rules(settings), redactor(settings), people_path(settings))
        self.server = create_server(app, host=settings.console_host, port=settings.console_port, threads=8,
                                    ident="chatwatch-console")
        self.url = public_url(settings)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.effective_port  # type: ignore[union-attr]

    def serve(self) -> None:
        log.info("console serving on %s", self.url)
        self.server.run()

    def start(self) -> ConsoleServer:
        self._thread = threading.Thread(target=self.serve, name="chatwatch-console", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
