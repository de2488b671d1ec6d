"""Conversation rules: what no single message shows (the `conversation:` section of a pack).

Four kinds, each a pydantic model so the loader reports errors with file:line:column like the
message rules:

- `absence`: something expected did not happen in time — "no employee reply within 15 business
  minutes of a customer message", "privacy notice not sent within the first 3 employee messages or
  10 minutes of a new conversation";
- `accumulation`: findings pile up in one conversation — "≥ 3 distinct identifier types within 24 h",
  "a card from the customer and a code request from the employee";
- `sequence`: "A then B within N messages or T minutes" (A and B are message-level rule ids);
- `rate`: "more than N messages matching X per employee per week".

What a message *is* for these rules comes from the message level: a message-level rule id that
fired on it, a PII type found in it, or just who sent it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator

from chatwatch.records import StrictModel, number_digits
from chatwatch.rules.header import RuleHeader
from chatwatch.rules.hours import Hours

Sender = Literal["employee", "customer"]


class Event(StrictModel):
    """A kind of message: sent by `from`, on which rule `rule` fired, holding PII `pii`, or deleting a
    message that had raised an alert (all given must hold)."""

    sender: Sender | None = Field(None, alias="from", description="Who sent it.")
    rule: str | None = Field(None, description="A message-level rule id that fired on it.")
    pii: list[str] = Field(default_factory=list, description="PII types; any of them counts.")
    deletes_flagged: bool = Field(False, description="A delete of a message on which an alerting rule had fired.")

    model_config = StrictModel.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _something(self) -> Event:
        if self.sender is None and self.rule is None and not self.pii and not self.deletes_flagged:
            raise ValueError("an event needs from, rule, pii or deletes_flagged")
        return self


class Window(StrictModel):
    minutes: float | None = Field(None, gt=0)
    hours: float | None = Field(None, gt=0)
    days: float | None = Field(None, gt=0)
    messages: int | None = Field(None, ge=1, description="Counted messages (absence: those of the expected "
                                                           "sender, or all when it names none).")

    @model_validator(mode="after")
    def _something(self) -> Window:
        if self.duration is None and self.messages is None:
            raise ValueError("a window needs minutes, hours, days or messages")
        return self

    @property
    def duration(self) -> timedelta | None:
        total = (self.minutes or 0) * 60 + (self.hours or 0) * 3600 + (self.days or 0) * 86400
        return timedelta(seconds=total) if total else None


class Calendar(StrictModel):
    """Business hours for some business numbers (phone number ids or display numbers)."""

    numbers: list[str] = Field(min_length=1)
    hours: Hours


class Kind(StrictModel):
    """A conversation rule's kind: its YAML key is the field of `ConversationRule` that holds it, and
    `detectors/conversation_kinds.py` has the class that plays it (found by this model's type)."""


class Absence(Kind):
    after: Literal["conversation_start"] | Event = Field(description="What starts the clock.")
    expect: Event = Field(description="What must follow.")
    within: Window
    business_hours: Hours | None = Field(None, description="Count the deadline in these hours only (time zone, "
                                                           "weekdays, opening times, holidays).")
    calendars: list[Calendar] = Field(default_factory=list, description="Other hours for some business numbers "
                                                                        "(the first that names the number wins).")

    def hours_for(self, numbers: tuple[str, ...]) -> Hours | None:
        wanted = {number_digits(n) for n in numbers}
        return next((c.hours for c in self.calendars if wanted & {number_digits(n) for n in c.numbers}),
                    self.business_hours)

    @model_validator(mode="after")
    def _hours_need_a_duration(self) -> Absence:
        if (self.business_hours or self.calendars) and self.within.duration is None:
            raise ValueError("business hours count a duration: give within.minutes, hours or days")
        return self


class Accumulation(Kind):
    events: list[Event] = Field(default_factory=list, description="Each must occur (e.g. a card from the customer, "
                                                                 "a code request from the employee).")
    distinct_pii_at_least: int | None = Field(None, ge=2, description="Or: this many distinct PII types.")
    pii: list[str] = Field(default_factory=list, description="The PII types distinct_pii_at_least counts (empty: any).")
    within: Window

    @model_validator(mode="after")
    def _something(self) -> Accumulation:
        if not self.events and not self.distinct_pii_at_least:
            raise ValueError("an accumulation needs events or distinct_pii_at_least")
        return self


class Sequence(Kind):
    first: Event
    then: Event
    within: Window


class Rate(Kind):
    event: Event
    more_than: int = Field(ge=1)
    per: Literal["day", "week"]
    by: Literal["employee", "conversation"] = "employee"
    timezone: str = Field("UTC", description="Where days and weeks begin.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return Hours(timezone=v).timezone  # the same check and message as business hours


class ConversationExample(StrictModel):
    """One line of a scripted conversation: `{at: "09:00", from: customer, text: ..., rules: [...], pii: [...]}`."""

    at: str = Field(description="HH:MM on the example's day, or +N days HH:MM.")
    sender: Sender = Field(alias="from")
    text: str = ""
    rules: list[str] = Field(default_factory=list, description="Message-level rules that fire on it.")
    pii: list[str] = Field(default_factory=list)
    employee: str | None = None
    deletes: int | None = Field(None, ge=1, description="This line deletes script line N (1 = the first).")
    edits: int | None = Field(None, ge=1, description="This line edits script line N; its text is the new text.")

    model_config = StrictModel.model_config | {"populate_by_name": True}


class ConversationExamples(StrictModel):
    fires: list[list[ConversationExample]] = Field(default_factory=list)
    silent: list[list[ConversationExample]] = Field(default_factory=list)
    until: str | None = Field(None, description="Play the clock on to this time (absences fire on silence); "
                                                 "default: an hour after the last line.")


class ConversationRule(RuleHeader):
    absence: Absence | None = None
    accumulation: Accumulation | None = None
    sequence: Sequence | None = None
    rate: Rate | None = None
    examples: ConversationExamples = Field(default_factory=ConversationExamples)

    @model_validator(mode="after")
    def _one_kind(self) -> ConversationRule:
        kinds = [k for k in KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a conversation rule is exactly one of {', '.join(KINDS)}"
                             + (f" (this one: {', '.join(kinds)})" if kinds else ""))
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    @property
    def spec(self) -> Kind:
        """The rule's kind (an Absence, Accumulation…): what the detectors dispatch on."""
        return getattr(self, self.kind)


def _kinds_of(model: type[StrictModel]) -> tuple[str, ...]:
    """The fields of `model` that hold a Kind: the YAML keys of the conversation rule kinds."""
    return tuple(name for name, f in model.model_fields.items()
                 if any(isinstance(t, type) and issubclass(t, Kind) for t in get_args(f.annotation)))


KINDS = _kinds_of(ConversationRule)  # absence, accumulation, sequence, rate
