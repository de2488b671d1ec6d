"""The people directory: one file for scan, notify and the console."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from chatwatch.settings.base import SettingsPart


class PeopleSettings(SettingsPart):
    """People: who each employee is, their team and their ids in each source (`chatwatch/people.py`)."""

    people_file: Path | None = Field(None, description="People directory (docs/people.example.yaml): employees with "
                                     "their name, team and ids in each source (`chatwoot:7`…), teams with their "
                                     "numbers and managers. Scan names each message's employee and team with it "
                                     "(team-scoped rules), notify routes to the team's managers, the console scopes "
                                     "by team; re-read when it changes. Unset: the notifications file's `directory`.")
