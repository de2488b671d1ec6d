"""The worker process: its roles, consumer group, local state, HTTP port, health and shutdown."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from chatwatch.settings.base import SettingsPart


class WorkerSettings(SettingsPart):
    """Worker: what a `chatwatch worker` process runs, where it keeps state, its HTTP port, health and shutdown (`streams/app.py`)."""

    app_id: str | None = Field(None, description="Faust app id = consumer group of an all-roles worker; a "
                               "worker with fewer roles uses `<app id>.<role>-<role>`. Unset: `<prefix>-worker`.")
    worker_roles: str | None = Field(None, description="What `chatwatch worker` runs (`--roles` overrides): a comma "
                                     "list of roles (docs/architecture.md, Roles); unset: all. Processes with the same set form one "
                                     "consumer group; give each role to one set only.")
    shutdown_grace_s: float = Field(15.0, ge=0, description="On SIGTERM, the longest wait for due notifications to "
                                    "be sent before the worker stops (what is left is sent by the next owner).")
    data_dir: Path = Field(Path("var/worker"), description="Faust's local state (table copies), one folder "
                                                            "per consumer group below it.")
    worker_host: str = Field("127.0.0.1", description="Worker HTTP (metrics, health) bind address.")
    worker_port: int = Field(6066, description="Worker HTTP port: /metrics, /healthz, /ready.")
    stuck_partition_after_s: float = Field(300.0, ge=0, description="A partition with waiting records whose "
                                           "committed offset has not moved this long fails /healthz; 0: off.")
