"""The archive: ClickHouse (a server or embedded chdb), retention, and how records are written."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from chatwatch.settings.base import SettingsPart


class ArchiveSettings(SettingsPart):
    """Archive: the ClickHouse that keeps messages and alerts, retention, and the record agent's inserts (`sinks/clickhouse/`)."""

    FILE_SECRETS = ("clickhouse_password",)

    clickhouse_enabled: bool = Field(True, description="Archive messages and alerts in ClickHouse (record agent).")
    clickhouse_url: str | None = Field(None, description="ClickHouse server (HTTP/HTTPS), e.g. "
                                    "https://ch.example:8443; unset: embedded chdb in `CLICKHOUSE_PATH`.")
    clickhouse_path: Path = Field(Path("var/clickhouse"), description="Data folder of the "
                                  "embedded ClickHouse (chdb), used when `CLICKHOUSE_URL` is unset.")
    clickhouse_database: str = Field("chatwatch", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                     description="Database holding the archive tables.")
    clickhouse_user: str = Field("default", description="User on the ClickHouse server.")
    clickhouse_password: SecretStr | None = Field(None, description="Password on the ClickHouse server.")
    clickhouse_password_file: Path | None = Field(None, description="File holding the ClickHouse password (wins).")
    clickhouse_cluster: str | None = Field(None, description="Cluster name: Replicated* "
                                              "tables on every node plus Distributed tables over them.")
    retention_days: int = Field(1825, ge=1, description="Archive rows older than this many "
                                   "days are deleted (TTL), unless under legal hold.")
    archive_text: Literal["redacted", "raw", "none"] = Field(
        "redacted", description="Message text in the archive: `redacted` (PII replaced by its type), `raw` or `none`.")
    record_batch_size: int = Field(20000, ge=1, description="Records written to ClickHouse per insert.")
    record_batch_wait_s: float = Field(1.0, gt=0, description="Longest wait to fill an insert batch.")
