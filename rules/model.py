"""The rule-pack language as typed models. Unknown keys are errors, so typos never pass silently.

A pack has metadata, named term lists (usable by packs that include it) and rules. A rule has a
scope (who, where, when) and a `match` block whose conditions must ALL hold:

    any / all / none   terms or `$list` / `$pack.list` references
    near               items within N words of each other (in order or not)
    count              at least N hits of some items
    regex              RE2 patterns (linear time: no catastrophic backtracking, no backreferences)
    pii                PII findings by type and count (filled by the PII detector)
    attachment         attachment predicates (MIME, extension, size, name, sha256, double extension…)
    always             the scope alone decides (e.g. employee messages outside business hours)

`exceptions` cancel a match: phrases that cover a hit, business numbers or teams.
Each rule carries examples that must / must not match: its tests.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from chatwatch.records import Direction, StrictModel
from chatwatch.rules.conversation import ConversationRule
from chatwatch.rules.header import ID, RuleHeader
from chatwatch.rules.hours import Hours

LIST_NAME = r"^[A-Za-z0-9_]+$"
REF = re.compile(r"^\$(?:(?P<pack>[a-z0-9][a-z0-9_.-]*)\.)?(?P<list>[A-Za-z0-9_]+)$")

PII_TYPES = (
    "br_cpf", "br_cnpj", "mx_curp", "mx_rfc", "es_dni", "es_nie", "es_nif", "ar_cuit", "cl_rut", "co_nit",
    "co_cedula", "iban", "payment_card", "email", "phone", "ip_address", "url_credentials", "secret",
    "person", "organization", "location",
)


# What a scope admits: a message's Direction, or "both". A Literal built from records.Direction rather than
# a second enum, so "direction" means one thing everywhere (and a typo still gets one error listing all three).
ScopeDirection = Literal[(*(d.value for d in Direction), "both")]  # type: ignore[valid-type]


class Sender(StrEnum):
    employee = "employee"  # outbound: the business side wrote it
    customer = "customer"  # inbound
    any = "any"



def _size(value: object) -> object:
    """'10MB', '512 KiB', 2048 -> bytes."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*", value, re.IGNORECASE)
        if not m:
            raise ValueError(f"size {value!r}: write bytes or a number with B, KB, KiB, MB, MiB, GB or GiB")
        unit = (m.group(2) or "b").lower()
        factor = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3}[unit]
        return int(float(m.group(1)) * factor)
    return value


Size = Annotated[int, BeforeValidator(_size), Field(ge=0),
                 WithJsonSchema({"type": ["integer", "string"], "description": "Bytes, or e.g. '10MB', '512 KiB'."})]
Version = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, (int, float)) else v),
                    WithJsonSchema({"type": ["string", "integer"]})]


# --- terms and lists -------------------------------------------------------------------------

class TermOptions(StrictModel):
    accents: Literal["fold", "strict"] = Field("fold", description="strict: 'año' does not match 'ano'.")
    whole_word: bool = Field(True, description="False lets the term match inside longer words.")
    obfuscated: bool = Field(False, description="Also match s.e.n.h.a, p4ssw0rd, c o n t r a s e ñ a.")


class Term(TermOptions):
    term: str = Field(min_length=1)


TermItem = str | Term


class TermList(TermOptions):
    """A list with options that apply to each of its terms (a term's own options win)."""

    terms: list[TermItem] = Field(min_length=1)
    description: str = ""
    redact: bool = Field(False, description="The terms are sensitive themselves (account numbers, leaked "
                                            "passwords, code names): where a rule that uses the list fires, what "
                                            "they matched is masked in every output and evidence names the list, "
                                            "never the term.")


# --- conditions ------------------------------------------------------------------------------

Items = Annotated[list[str], Field(min_length=1)]


class Near(StrictModel):
    items: list[str] = Field(min_length=2, description="Terms or $lists that must all occur close together.")
    within: int = Field(ge=1, le=100, description="Largest distance in words between the first and last item.")
    ordered: bool = Field(False, description="Items must appear in the order written.")


class Count(StrictModel):
    items: Items
    at_least: int = Field(ge=1)
    distinct: bool = Field(False, description="Count different terms rather than occurrences.")


class PiiCondition(StrictModel):
    types: list[Literal[PII_TYPES]] = Field(default_factory=list, description="Empty: any PII type.")  # type: ignore[valid-type]
    at_least: int = Field(1, ge=1, description="Findings of those types in the message.")


class AttachmentCondition(StrictModel):
    """Holds when one attachment satisfies every field given (each list is any-of)."""

    mime_types: list[str] = Field(default_factory=list, description="Globs: 'application/x-*'.")
    extensions: list[str] = Field(default_factory=list, description="Last extension, without the dot.")
    filename_globs: list[str] = Field(default_factory=list, description="Case-insensitive globs on the name.")
    filename_regex: str | None = Field(None, description="RE2 pattern searched in the file name.")
    min_size: Size | None = None
    max_size: Size | None = None
    sha256: list[str] = Field(default_factory=list, description="Hex digests or $lists of them.")
    double_extension: bool | None = Field(None, description="Name like 'factura.pdf.exe'.")
    extension_mismatch: bool | None = Field(None, description="Extension disagrees with the declared MIME type.")

    @field_validator("extensions")
    @classmethod
    def _bare_extensions(cls, v: list[str]) -> list[str]:
        return [e.lower().lstrip(".") for e in v]

    @model_validator(mode="after")
    def _something(self) -> AttachmentCondition:
        if not any(v not in (None, []) for v in self.model_dump().values()):
            raise ValueError("attachment condition is empty")
        if self.min_size is not None and self.max_size is not None and self.min_size > self.max_size:
            raise ValueError("min_size is larger than max_size")
        return self


class Match(StrictModel):
    any: list[str] = Field(default_factory=list, description="At least one item occurs.")
    all: list[str] = Field(default_factory=list, description="Every item occurs.")
    none: list[str] = Field(default_factory=list, description="No item occurs anywhere in the message.")
    near: list[Near] = Field(default_factory=list)
    count: list[Count] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list, description="RE2 patterns; at least one must match.")
    pii: PiiCondition | None = None
    attachment: list[AttachmentCondition] | AttachmentCondition = Field(
        default_factory=list, description="One condition, or a list of which any may hold.")
    always: bool = False

    @field_validator("attachment", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, dict) else v

    @model_validator(mode="after")
    def _not_empty(self) -> Match:
        positive = [self.any, self.all, self.near, self.count, self.regex, self.pii, self.attachment]
        if self.always and (any(positive) or self.none):
            raise ValueError("'always' cannot be combined with other conditions")
        if not self.always and not any(positive):
            raise ValueError("empty condition: give any, all, near, count, regex, pii, attachment or always")
        return self

    def term_items(self) -> list[str]:
        return [*self.any, *self.all, *self.none, *(i for n in self.near for i in n.items),
                *(i for c in self.count for i in c.items)]


# --- scope -----------------------------------------------------------------------------------

class Scope(StrictModel):
    direction: ScopeDirection = "both"
    sender: Sender = Sender.any
    numbers: list[str] = Field(default_factory=list, description="Business phone number ids or display numbers.")
    teams: list[str] = Field(default_factory=list)
    outside_hours: Hours | None = Field(None, description="Only messages sent outside these hours.")
    within_hours: Hours | None = Field(None, description="Only messages sent within these hours.")

    @model_validator(mode="after")
    def _consistent(self) -> Scope:
        implied = {Sender.employee: Direction.outbound, Sender.customer: Direction.inbound}.get(self.sender)
        if implied and self.direction not in ("both", implied):
            raise ValueError(f"sender {self.sender.value} contradicts direction {self.direction}")
        if self.outside_hours and self.within_hours:
            raise ValueError("give outside_hours or within_hours, not both")
        return self

    def effective_direction(self) -> str:
        """inbound, outbound or both: the direction, or the one the sender implies."""
        implied = {Sender.employee: Direction.outbound, Sender.customer: Direction.inbound}.get(self.sender)
        return str(implied or self.direction)


class Exceptions(StrictModel):
    phrases: list[str] = Field(default_factory=list, description="A hit inside one of these phrases is ignored.")
    numbers: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)


# --- examples --------------------------------------------------------------------------------

class ExampleAttachment(StrictModel):
    filename: str | None = None
    mime_type: str | None = None
    size: Size | None = None
    sha256: str | None = None


class Example(StrictModel):
    text: str = ""
    sender: Literal["employee", "customer"] | None = Field(None, description="Default: what the rule's scope says.")
    time: datetime | None = Field(None, description="ISO 8601 with offset; default: a Wednesday at 11:00 UTC.")
    number: str | None = None
    team: str | None = None
    attachments: list[ExampleAttachment] = Field(default_factory=list)


ExampleItem = str | Example


class Examples(StrictModel):
    match: list[ExampleItem] = Field(default_factory=list, description="Messages the rule must fire on.")
    no_match: list[ExampleItem] = Field(default_factory=list, description="Messages it must not fire on.")


# --- rule and pack ---------------------------------------------------------------------------

class Rule(RuleHeader):
    alert: bool = Field(True, description="False: the rule only marks the messages it matches for conversation "
                                          "rules (e.g. 'the privacy notice was sent'); it raises no alert.")
    scope: Scope = Field(default_factory=Scope)
    match: Match
    exceptions: Exceptions = Field(default_factory=Exceptions)
    redact: Literal["none", "match"] = Field(
        "none", description="match: what the rule's regex patterns matched is the sensitive value itself (a "
                            "password, a card, an account): when the rule fires, every match is masked in snippets, "
                            "context lines, notifications and the redacted archive, whatever the PII detector found.")
    redact_as: str = Field("", pattern=r"^[a-z0-9_]*$", description="The label masked matches get, e.g. 'secret' -> "
                                                                   "[SECRET]; default: the rule's category.")
    examples: Examples = Field(default_factory=Examples)

    @model_validator(mode="after")
    def _redact_needs_something(self) -> Rule:
        if self.redact == "match" and not self.match.regex:
            raise ValueError("redact: match masks what the rule's regex matched; this rule has no regex "
                             "(mark a term list `redact: true` to mask keyword hits)")
        return self


class PackInfo(StrictModel):
    id: str = Field(pattern=ID)
    version: Version
    title: str
    owner: str = ""
    languages: list[str] = Field(default_factory=list)
    description: str = ""


class Pack(StrictModel):
    pack: PackInfo
    includes: list[str] = Field(default_factory=list, description="Pack ids whose lists this pack may use.")
    lists: dict[str, list[TermItem] | TermList] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    conversation: list[ConversationRule] = Field(default_factory=list, description="Rules over a whole "
                                                 "conversation: absence, accumulation, sequence, rate.")

    @field_validator("lists")
    @classmethod
    def _list_names(cls, lists: dict[str, object]) -> dict[str, object]:
        for name in lists:
            if not re.match(LIST_NAME, name):
                raise ValueError(f"list name {name!r} may only use letters, digits and '_'")
        return lists

    def term_list(self, name: str) -> TermList | None:
        found = self.lists.get(name)
        if found is None or isinstance(found, TermList):
            return found
        return TermList(terms=found)
