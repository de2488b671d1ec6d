"""Which ClickHouse failures are an outage (wait and retry) and which are the data (set the row aside).

The same classes for chdb and a server: ClickHouse error codes appear in both ("Code: 252."), a
server adds HTTP statuses and connection errors. Retrying a rejected row forever would stall the
archive; dead-lettering rows during an outage would lose them from the archive — so the default
for an unknown code is "the data", and the outage list is explicit.
"""

from __future__ import annotations

import re

# ClickHouse error codes that say "not now" rather than "not this": resources, merges, replicas, keeper, disk.
TRANSIENT_CODES = {
    159: "TIMEOUT_EXCEEDED", 173: "CANNOT_ALLOCATE_MEMORY", 202: "TOO_MANY_SIMULTANEOUS_QUERIES",
    209: "SOCKET_TIMEOUT", 210: "NETWORK_ERROR", 225: "NO_ZOOKEEPER", 236: "ABORTED", 241: "MEMORY_LIMIT_EXCEEDED",
    242: "TABLE_IS_READ_ONLY", 243: "NOT_ENOUGH_SPACE", 252: "TOO_MANY_PARTS", 279: "ALL_CONNECTION_TRIES_FAILED",
    319: "UNKNOWN_STATUS_OF_INSERT", 394: "QUERY_WAS_CANCELLED", 999: "KEEPER_EXCEPTION",
    425: "SYSTEM_ERROR", 1000: "POCO_EXCEPTION",
}
# Operating-system trouble under an embedded data folder (made read-only, full, permissions changed).
TRANSIENT_TEXT = re.compile(r"Permission denied|Read-only file system|No space left|Cannot open file|"
                            r"Cannot write to file|Too many open files|errno: (?:13|28|30|24)", re.IGNORECASE)
_CODE = re.compile(r"\bCode:\s*(\d+)|exception, code: (\d+)")
_STATUS = re.compile(r"HTTP status (\d{3})")


class ClickHouseError(Exception):
    """Any failure talking to ClickHouse; `retryable` when trying again may help, `error_class` names it."""

    def __init__(self, message: str, retryable: bool = False, error_class: str = "rejected"):
        super().__init__(message)
        self.retryable = retryable
        self.error_class = error_class

    def summary(self) -> str:
        """What logs and dead letters may say: the class and code, never the server's text (a parse error
        quotes the row it failed on, and with ARCHIVE_TEXT=raw that row holds a message's text)."""
        return self.error_class


def classify(message: str, code: int | None = None, status: int | None = None,
             connection: bool = False) -> ClickHouseError:
    """A ClickHouseError with its class from a failure's message (and code/status when the driver has them)."""
    text = message.splitlines()[0][:500] if message else "ClickHouse error"
    if connection:
        return ClickHouseError(text, True, "unreachable")
    if code is None:
        found = _CODE.search(message or "")
        code = int(found.group(1) or found.group(2)) if found else None
    if code in TRANSIENT_CODES:
        return ClickHouseError(text, True, TRANSIENT_CODES[code].lower())
    if status is None:
        found = _STATUS.search(message or "")
        status = int(found.group(1)) if found else None
    if status is not None and (status >= 500 or status in (408, 429)):
        return ClickHouseError(text, True, f"http_{status}")
    if TRANSIENT_TEXT.search(message or ""):
        return ClickHouseError(text, True, "storage")
    return ClickHouseError(text, False, f"code_{code}" if code is not None else "rejected")
