"""The rule-pack format as typed models. Unknown keys are errors, so typos never pass silently.

A first, keyword-only slice of the language: lists of terms, rules with any/all/none conditions
over terms and `$list` references, a direction scope, and examples that are the rule's tests.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID = r"^[a-z0-9][a-z0-9_.-]*$"


class Severity(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Scope(StrEnum):
    inbound = "inbound"
    outbound = "outbound"
    both = "both"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """Items are literal terms, or `$name` for a term list of the pack."""

    any: list[str] = Field(default_factory=list, description="At least one item must occur.")
    all: list[str] = Field(default_factory=list, description="Every item must occur.")
    none: list[str] = Field(default_factory=list, description="No item may occur (exceptions).")

    @model_validator(mode="after")
    def _not_empty(self) -> "Condition":
        if not self.any and not self.all:
            raise ValueError("condition needs a non-empty 'any' or 'all'")
        return self

    def items(self) -> list[str]:
        return [*self.any, *self.all, *self.none]


class Examples(_Strict):
    match: list[str] = Field(default_factory=list, description="Texts the rule must fire on.")
    no_match: list[str] = Field(default_factory=list, description="Texts the rule must not fire on.")


class Rule(_Strict):
    id: str = Field(pattern=ID)
    title: str
    description: str = ""
    severity: Severity
    category: str = Field(pattern=ID)
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    direction: Scope = Scope.both
    match: Condition
    examples: Examples = Field(default_factory=Examples)


class PackInfo(_Strict):
    id: str = Field(pattern=ID)
    version: str
    title: str
    owner: str = ""
    languages: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: object) -> object:
        return str(v) if isinstance(v, (int, float)) else v


class Pack(_Strict):
    pack: PackInfo
    lists: dict[str, list[str]] = Field(default_factory=dict)
    rules: list[Rule]

    @field_validator("lists")
    @classmethod
    def _list_names(cls, lists: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, terms in lists.items():
            if not re.match(r"^[A-Za-z0-9_]+$", name):
                raise ValueError(f"list name {name!r} may only use letters, digits and '_'")
            if not terms or any(not t.strip() for t in terms):
                raise ValueError(f"list {name!r} is empty or has an empty term")
        return lists

    def terms_of(self, item: str) -> list[str]:
        """Literal terms an item stands for (`$name` expands to the list)."""
        return self.lists[item[1:]] if item.startswith("$") else [item]
