"""Business hours: a time zone, weekdays, opening and closing times and holidays. Message rules use
them as a scope (`outside_hours`); conversation rules count deadlines in them ("15 business minutes")."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from chatwatch.records import StrictModel


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"


_WEEKDAYS = tuple(Weekday)  # by datetime.weekday(): Monday first


class Hours(StrictModel):
    timezone: str
    days: list[Weekday] = Field(default_factory=lambda: [Weekday.mon, Weekday.tue, Weekday.wed, Weekday.thu,
                                                          Weekday.fri])
    start: time = time(9, 0)
    end: time = time(18, 0)
    holidays: list[date] = Field(default_factory=list, description="Closed all day (local dates).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {v!r} (use an IANA name like America/Sao_Paulo)") from None
        return v

    @model_validator(mode="after")
    def _order(self) -> Hours:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))  # ZoneInfo caches its zones
        return self._open_on(local.date()) and self.start <= local.time() < self.end

    def _open_on(self, day: date) -> bool:
        return _WEEKDAYS[day.weekday()] in self.days and day not in self.holidays

    def add(self, moment: datetime, span: timedelta) -> datetime:
        """`moment` plus `span` of open time: "15 business minutes" after a message sent on Friday at
        17:55 end on Monday at 9:10 (opening 9:00–18:00). Time outside the hours does not count."""
        zone = ZoneInfo(self.timezone)
        local, left = moment.astimezone(zone), span
        for _ in range(800):  # two years of days: more closed days in a row than that is a broken calendar
            day = local.date()
            opens = datetime.combine(day, self.start, zone)
            closes = datetime.combine(day, self.end, zone)
            if self._open_on(day) and local < closes:
                local = max(local, opens)
                if local + left <= closes:
                    return (local + left).astimezone(moment.tzinfo)
                left -= closes - local
            local = datetime.combine(day + timedelta(days=1), self.start, zone)
        raise ValueError("no open hours in the next two years")
