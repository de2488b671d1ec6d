"""The demo's console: its first users, and a check that a person can sign in and see the alerts.

Users are created before the worker starts (the embedded ClickHouse folder is free then); the
worker serves the console (CONSOLE_IN_WORKER). The check signs in over HTTP like a browser would
(cookie, CSRF token from the form) and reads the queue's alert count.
"""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path

from chatwatch.console.users import Users
from chatwatch.sinks.clickhouse.client import ChdbClient
from chatwatch.sinks.clickhouse.ddl import Renderer
from chatwatch.sinks.clickhouse.migrate import migrate

PEOPLE = Path(__file__).resolve().parent / "people.yaml"
USERS = (("admin", "admin", []), ("gerente.mx", "manager", ["sales-mx"]))


def first_users(clickhouse_path: Path) -> dict[str, str]:
    """user name -> random password, for the demo's admin and a manager of the Mexican team."""
    client = ChdbClient(clickhouse_path, "chatwatch")
    try:
        migrate(client, Renderer("chatwatch"))
        users = Users(client)
        return {name: users.add(name, role, "demo", teams=teams) for name, role, teams in USERS}
    finally:
        client.close()


def queue_count(url: str, username: str, password: str) -> int:
    """Sign in and return how many alerts the queue lists (all statuses)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = opener.open(f"{url}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token}).encode()
    page = opener.open(urllib.request.Request(f"{url}/login?next=/queue", data=body,
                                              headers={"Accept-Language": "en"}), timeout=10).read().decode()
    found = re.search(r'id="result-count">(\d+)', page)
    return int(found.group(1)) if found else -1


def wait_for_alerts(url: str, username: str, password: str, want: int, timeout_s: float = 60) -> int:
    """The queue's count once it reaches `want` (the archive writes in batches), or the last seen."""
    deadline, seen = time.monotonic() + timeout_s, -1
    while time.monotonic() < deadline:
        seen = queue_count(url, username, password)
        if seen >= want:
            break
        time.sleep(1)
    return seen
