"""Rule-pack errors. Every problem names its place: file:line:column, and the rule id when known.

    RulePackError            one pack (or a set of packs) is invalid; holds every Problem found
      .problems: [Problem(location, message, rule_id)]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceLocation:
    file: Path
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    location: SourceLocation
    message: str
    rule_id: str | None = None

    def __str__(self) -> str:
        rule = f" [rule {self.rule_id}]" if self.rule_id else ""
        return f"{self.location}:{rule} {self.message}"


class RulePackError(Exception):
    """One or more packs are invalid. `str()` lists every problem, one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
