"""Business-hours arithmetic for helpdesk SLAs: when a response falls due, how much
business time a ticket has waited, and whether the helpdesk is open.

Business time passes only inside the ranges of a ``BusinessHours`` calendar, read in its
time zone: a range across a clock change lasts an hour less or more, as it does on the
wall. Instants go in as aware datetimes and come out in UTC. Each call converts the
ranges of only the local days it walks, so its cost grows with the days spanned, not with
the size of the calendar, and nothing is kept between calls that a change to the
calendar could make stale.

A wall time maps to an instant as ``datetime`` maps it by default (PEP 495, fold=0): a
time the clock repeats when it goes back is its first occurrence; a time the clock skips
when it goes forward is read with the offset from before the jump, so it falls that much
later (02:30 in Prague on the last Sunday of March is 03:30 CEST).

``BusinessHours`` lives here rather than in ``schemas.py``, next to the arithmetic that
gives it its meaning; the queue schemas take it from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from channelhub.process.stores.schemas import TimeRange, TimeZone, check_ranges

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

DayRanges = Annotated[
    list[TimeRange],
    Field(max_length=6, description="Business ranges of the day, local time; empty: closed."),
]


class BusinessHours(BaseModel):
    """When SLA time runs: ranges per weekday in one time zone, minus holidays.

    An empty ``weekly`` means open around the clock (24/7), every day but the holidays.
    Otherwise a weekday left out of ``weekly`` is closed, and at least one range is
    required: a calendar that never opens would leave every SLA without a due time.
    """

    model_config = ConfigDict(extra="forbid")

    timezone: TimeZone = Field(
        "UTC", description="IANA time zone the weekly ranges and the holidays are local to."
    )
    weekly: dict[Weekday, DayRanges] = Field(
        default_factory=dict,
        description="Business ranges per weekday (monday to sunday); a weekday left out is "
        "closed. Empty: open 24/7. A range past midnight is split in two (22:00-24:00 and "
        "00:00-06:00 the next day).",
        examples=[{"monday": [{"opens": "09:00", "closes": "17:00"}]}],
    )
    holidays: list[date] = Field(
        default_factory=list,
        max_length=400,
        description="Local dates closed all day, e.g. public holidays.",
        examples=[["2026-12-25"]],
    )

    @field_validator("weekly")
    @classmethod
    def _open_some_time(
        cls, weekly: dict[Weekday, list[TimeRange]]
    ) -> dict[Weekday, list[TimeRange]]:
        for day, ranges in weekly.items():
            check_ranges(ranges, day)
        if weekly and not any(weekly.values()):
            raise ValueError(
                "weekly has no range, so the calendar never opens and no SLA would ever fall "
                "due; give at least one range, or leave weekly empty for 24/7"
            )
        return weekly


_WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)
SCAN_DAYS = 400
"""How many local days ``add_business_time`` walks before it gives up."""

_DAY = timedelta(days=1)


def add_business_time(hours: BusinessHours, start: datetime, duration: timedelta) -> datetime:
    """The earliest instant by which ``duration`` of business time has passed since
    ``start``: an SLA's due time.

    Counting starts at the next opening when ``start`` is outside business hours: open
    09:00-17:00 on weekdays, a ticket received on Friday night with a 4 h first-response
    SLA is due on Monday at 13:00. Being the earliest such instant, the result never lies
    in closed time: a duration that runs out exactly at closing is due at closing, not at
    the next opening, and a zero duration gives ``start`` itself, open or not.

    Raises ValueError for a naive ``start``, a negative duration, or a duration that does
    not run out within ``SCAN_DAYS`` local days of ``start`` (long holidays can do that).
    """
    start = _utc(start, "start")
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative, got {duration}")
    if not duration:
        return start
    zone = ZoneInfo(hours.timezone)
    last_day = start.astimezone(zone).date() + timedelta(days=SCAN_DAYS)
    left = duration
    for opens, closes in _open_intervals(hours, zone, start, last_day):
        if left <= closes - opens:
            return opens + left
        left -= closes - opens
    raise ValueError(
        f"{duration} of business time does not run out within {SCAN_DAYS} days "
        f"of {start.isoformat()}"
    )


def business_time_between(hours: BusinessHours, start: datetime, end: datetime) -> timedelta:
    """Business time that passes from ``start`` to ``end``; zero when ``end`` is not later.

    The inverse of ``add_business_time``: for any duration ``d`` it returns, from
    ``start`` to ``add_business_time(hours, start, d)``, exactly ``d``.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    total = timedelta(0)
    zone = ZoneInfo(hours.timezone)
    for opens, closes in _open_intervals(hours, zone, start, end.astimezone(zone).date()):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total


def is_open(hours: BusinessHours, at: datetime) -> bool:
    """Whether ``at`` is business time: open from a range's opening, closed from its
    closing on."""
    at = _utc(at, "at")
    zone = ZoneInfo(hours.timezone)
    upcoming = next(_open_intervals(hours, zone, at, at.astimezone(zone).date()), None)
    return upcoming is not None and upcoming[0] == at


def _open_intervals(
    hours: BusinessHours, zone: ZoneInfo, start: datetime, last_day: date
) -> Iterator[tuple[datetime, datetime]]:
    """The business intervals (UTC) of the local days from ``start``'s to ``last_day``,
    from ``start`` on: in order, not overlapping, and the one under way at ``start`` cut
    to begin there.

    Ranges a day keeps apart cannot overlap once in UTC except through a time the clock
    skips (see the module docstring); sorting each day's intervals and cutting each one
    at the end of the last keeps the walk exact even then.
    """
    holidays = frozenset(hours.holidays)
    day = start.astimezone(zone).date()
    cursor = start
    while day <= last_day:
        if day not in holidays:
            for opens, closes in sorted(_day_intervals(hours, zone, day)):
                opens = max(opens, cursor)
                if closes > opens:
                    yield opens, closes
                    cursor = closes
        day += _DAY


def _day_intervals(
    hours: BusinessHours, zone: ZoneInfo, day: date
) -> list[tuple[datetime, datetime]]:
    if not hours.weekly:
        return [(_instant(day, "00:00", zone), _instant(day, "24:00", zone))]
    return [
        (_instant(day, span.opens, zone), _instant(day, span.closes, zone))
        for span in hours.weekly.get(_WEEKDAYS[day.weekday()], [])
    ]


def _instant(day: date, clock: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local ``HH:MM`` on ``day``; 24:00 is the next midnight."""
    hour, minute = int(clock[:2]), int(clock[3:])
    if hour == 24:
        day, hour = day + _DAY, 0
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def _utc(value: datetime, name: str) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
    return value.astimezone(UTC)
