"""The rule set a worker runs, and its safe replacement while running.

A new set is loaded, validated and compiled completely before it replaces the running one in a
single reference swap, so a message is always scanned by one whole rule set. A set that does
not load is rejected with a log line listing every problem (file:line:column) and a metric,
and the previous rules keep running. Triggers: a change of the folder's content (polled) or
SIGHUP.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

from chatwatch.detectors.scanner import Scanner
from chatwatch.rules import RulePackError, load_rules_dir
from chatwatch.rules.loader import pack_files
from chatwatch.streams import metrics

log = logging.getLogger(__name__)


def fingerprint(rules_dir: Path) -> str:
    """Hash of every pack file's path and content: changes exactly when what would load changes."""
    digest = hashlib.sha256()
    files = pack_files(rules_dir) if rules_dir.is_dir() else [rules_dir]
    for f in files:
        digest.update(f.name.encode() if not rules_dir.is_dir() else str(f).encode())
        try:
            digest.update(f.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    return digest.hexdigest()


class ActiveRules:
    def __init__(self, rules_dir: Path):
        """Loads the folder; a RulePackError here propagates (a worker must not start without rules)."""
        self.rules_dir = rules_dir
        self.last_error: str | None = None
        self._fingerprint = fingerprint(rules_dir)
        self.scanner = self._build()
        self._publish()

    def _build(self) -> Scanner:
        return Scanner(load_rules_dir(self.rules_dir))

    def _publish(self) -> None:
        self.loaded_at = time.time()
        versions = self.scanner.ruleset.versions()
        metrics.rule_packs.clear()
        for pack_id, version in versions.items():
            metrics.rule_packs.labels(pack_id, version).set(1)
        metrics.rules_loaded.set(len(self.scanner.ruleset.rules()))
        metrics.rules_last_reload.set(self.loaded_at)
        metrics.rules_reload_failing.set(0)
        log.info("rules active: %s (%d rules, %d terms)", ", ".join(f"{p}@{v}" for p, v in versions.items()) or "none",
                 len(self.scanner.ruleset.rules()), self.scanner.term_count)

    def reload(self, reason: str = "requested") -> bool:
        """Try the folder as it is now; True when the new set is running."""
        new_fingerprint = fingerprint(self.rules_dir)
        try:
            scanner = self._build()
        except RulePackError as exc:
            self._fingerprint = new_fingerprint  # do not retry the same broken content in a loop
            self.last_error = str(exc)
            metrics.rules_reloads.labels("rejected").inc()
            metrics.rules_reload_failing.set(1)
            log.error("rule reload (%s) rejected; previous rules keep running. %d problem(s):\n%s", reason,
                      len(exc.problems), exc)
            return False
        except Exception as exc:
            self._fingerprint = new_fingerprint
            self.last_error = f"{type(exc).__name__}: {exc}"
            metrics.rules_reloads.labels("error").inc()
            metrics.rules_reload_failing.set(1)
            log.exception("rule reload (%s) failed; previous rules keep running", reason)
            return False
        self.scanner = scanner  # the swap: one reference assignment
        self._fingerprint = new_fingerprint
        self.last_error = None
        metrics.rules_reloads.labels("ok").inc()
        self._publish()
        return True

    def reload_if_changed(self) -> bool | None:
        """None when nothing changed; otherwise whether the new content is now running."""
        if fingerprint(self.rules_dir) == self._fingerprint:
            return None
        return self.reload("folder changed")

    def info(self) -> dict[str, Any]:
        return {
            "rules_dir": str(self.rules_dir),
            "packs": [{"id": p.pack.id, "version": p.pack.version, "rules": len(p.rules)}
                      for p in self.scanner.ruleset.packs],
            "rules_enabled": len(self.scanner.ruleset.rules()),
            "terms": self.scanner.term_count,
            "loaded_at": self.loaded_at,
            "last_reload_error": self.last_error,
        }
