"""What every rule carries, message rule or conversation rule: who it is and how it is filed."""

from __future__ import annotations

from pydantic import Field

from chatwatch.records import Severity, StrictModel

ID = r"^[a-z0-9][a-z0-9_.-]*$"


class RuleHeader(StrictModel):
    id: str = Field(pattern=ID)
    title: str = Field(min_length=1)
    description: str = ""
    severity: Severity
    category: str = Field(pattern=ID)
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
