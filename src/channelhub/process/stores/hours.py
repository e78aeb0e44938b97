"""Is a store open? Opening hours per weekday in the store's own time zone, dated
exceptions (holidays, special hours) and temporary closures, evaluated at an instant.

Pure functions: the same inputs give the same answer, so every channel that asks whether
a store is open gets the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from channelhub.process.stores.schemas import OpeningHours, TimeRange

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_LOOKAHEAD_DAYS = 14


class StoreState(StrEnum):
    open = "open"
    closed = "closed"
    """Outside today's opening hours."""
    holiday = "holiday"
    """Closed all day by a dated exception."""
    temporarily_closed = "temporarily_closed"


@dataclass(frozen=True)
class Closure:
    reason: str
    since: datetime
    reopens_at: datetime | None


@dataclass(frozen=True)
class OpenState:
    state: StoreState
    opens_at: datetime | None
    """When closed: the next opening (UTC), if known within two weeks."""
    closes_at: datetime | None
    """When open: when it closes next (UTC), if it closes within two weeks."""
    today: list[TimeRange]

    @property
    def open_now(self) -> bool:
        return self.state is StoreState.open


def _at(day: date, clock: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local ``HH:MM`` on ``day``; 24:00 is the next midnight."""
    hours, minutes = (int(part) for part in clock.split(":"))
    if hours == 24:
        day, hours = day + timedelta(days=1), 0
    return datetime.combine(day, time(hours, minutes), zone).astimezone(UTC)


def ranges_on(hours: OpeningHours, day: date) -> tuple[list[TimeRange], bool]:
    """(opening ranges of that local date, whether a dated exception decided them)."""
    for exception in hours.exceptions:
        if exception.date == day:
            return ([] if exception.closed else list(exception.hours)), True
    return list(getattr(hours.weekly, WEEKDAYS[day.weekday()])), False


def _intervals(hours: OpeningHours, zone: ZoneInfo, start: date) -> list[tuple[datetime, datetime]]:
    """Opening intervals (UTC) from local date ``start`` for the look-ahead period."""
    intervals = []
    for offset in range(_LOOKAHEAD_DAYS + 1):
        day = start + timedelta(days=offset)
        intervals += [
            (_at(day, span.opens, zone), _at(day, span.closes, zone))
            for span in ranges_on(hours, day)[0]
        ]
    return intervals


def open_state(
    hours: OpeningHours | None, timezone: str, closure: Closure | None, at: datetime
) -> OpenState:
    """Whether the store is open at ``at`` (aware), and when that changes next.

    Without opening hours a store counts as open unless temporarily closed.
    """
    zone = ZoneInfo(timezone)
    local_day = at.astimezone(zone).date()
    today = ranges_on(hours, local_day)[0] if hours is not None else []
    if closure is not None and (closure.reopens_at is None or closure.reopens_at > at):
        reopening = closure.reopens_at
        opens_at = reopening
        if hours is not None and reopening is not None:
            opens_at = next(
                (
                    max(opens, reopening)
                    for opens, closes in _intervals(hours, zone, reopening.astimezone(zone).date())
                    if closes > reopening
                ),
                None,
            )
        return OpenState(StoreState.temporarily_closed, opens_at, None, today)
    if hours is None:
        return OpenState(StoreState.open, None, None, today)
    intervals = _intervals(hours, zone, local_day - timedelta(days=1))
    for opens, closes in intervals:
        if opens <= at < closes:
            return OpenState(StoreState.open, None, _closing(intervals, closes), today)
    opens_at = next((opens for opens, _ in intervals if opens > at), None)
    ranges, by_exception = ranges_on(hours, local_day)
    state = StoreState.holiday if by_exception and not ranges else StoreState.closed
    return OpenState(state, opens_at, None, today)


def _closing(intervals: list[tuple[datetime, datetime]], closes: datetime) -> datetime:
    """Where an interval ends, following back-to-back intervals (e.g. open past midnight)."""
    for opens, later in intervals:
        if opens == closes:
            return _closing(intervals, later)
    return closes
