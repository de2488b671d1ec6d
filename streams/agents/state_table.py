"""A Faust table whose changelog keeps the plain worker group's name whatever roles the process runs,
so moving an agent into a process of its own (another consumer group) keeps its state."""

from __future__ import annotations

from typing import Any

import faust


class StateTable(faust.Table):
    def __init__(self, *args: Any, changelog_name: str, **kwargs: Any):
        self._changelog_name = changelog_name
        super().__init__(*args, **kwargs)

    def _changelog_topic_name(self) -> str:
        return self._changelog_name
