"""The compliance console: where it listens, its sessions and sign-in limits."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from chatwatch.settings.base import SettingsPart


class ConsoleSettings(SettingsPart):
    """Console: where the compliance console listens, its sessions and sign-in limits (`console/`)."""

    FILE_SECRETS = ("console_secret_key",)

    console_host: str = Field("127.0.0.1", description="Compliance console bind address.")
    console_port: int = Field(8090, description="Compliance console port.")
    console_url: str | None = Field(None, description="Public URL of the console (links in notifications; "
                                    "`https://` makes session cookies Secure); unset: `http://CONSOLE_HOST:CONSOLE_PORT`.")
    console_in_worker: bool = Field(False, description="Serve the console from the worker that runs the archive "
                                    "role: with embedded chdb that process alone can open the data folder.")
    console_notify_url: str | None = Field(None, description="HTTP address (worker port) of the worker running "
                                           "the notify role, told of acknowledgements so escalations stop; unset: "
                                           "this worker's own port when the console runs in the worker.")
    console_secret_key: SecretStr | None = Field(None, description="Signs console sessions and CSRF tokens; set "
                                                 "the same on every console replica. Unset: one is kept in "
                                                 "`DATA_DIR/console-secret-key`.")
    console_secret_key_file: Path | None = Field(None, description="File holding the console secret key (wins).")
    console_session_idle_s: float = Field(1800.0, gt=0, description="A console session unused this long ends.")
    console_session_max_s: float = Field(12 * 3600.0, gt=0, description="A console session ends this long after "
                                         "login, used or not.")
    console_login_limit: str = Field("10 per 5 minutes", description="Login attempts allowed per client address "
                                     "and per user name (Flask-Limiter syntax); more get 429.")
    console_trusted_proxies: int = Field(0, ge=0, description="Reverse proxies in front of the console whose "
                                         "`X-Forwarded-For`/`-Proto` are trusted (an ingress: 1).")
    console_context_messages: int = Field(10, ge=1, le=200, description="Messages shown before and after the "
                                          "flagged one in a case.")
