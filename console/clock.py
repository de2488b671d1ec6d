"""A clock that never repeats a millisecond, so events written in quick succession keep their order
(ClickHouse keeps DateTime64(3); the latest event of a case is its state)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_MS = timedelta(milliseconds=1)
_lock = threading.Lock()
_last = datetime.now(UTC)


def now() -> datetime:
    global _last
    with _lock:
        _last = max(datetime.now(UTC), _last + _MS)
        return _last
