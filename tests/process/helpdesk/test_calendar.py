"""Business-hours arithmetic for SLAs: due times, elapsed business time, open or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from channelhub.process.helpdesk.calendar import (
    BusinessHours,
    add_business_time,
    business_time_between,
    is_open,
)

WORKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
EVERY_DAY = (*WORKDAYS, "saturday", "sunday")


def calendar(
    days: dict[str, list[tuple[str, str]]],
    timezone: str = "Europe/Lisbon",
    holidays: tuple[str, ...] = (),
) -> BusinessHours:
    weekly = {day: [{"opens": o, "closes": c} for o, c in ranges] for day, ranges in days.items()}
    return BusinessHours.model_validate(
        {"timezone": timezone, "weekly": weekly, "holidays": list(holidays)}
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


NINE_TO_FIVE = calendar({day: [("09:00", "17:00")] for day in WORKDAYS})
WITH_LUNCH = calendar({day: [("09:00", "12:30"), ("13:30", "18:00")] for day in WORKDAYS})
CHRISTMAS = calendar({day: [("09:00", "17:00")] for day in WORKDAYS}, holidays=("2026-12-25",))


# Due times.


def test_counting_starts_at_the_next_opening() -> None:
    # The module's own example: received on Friday night, 4 h first-response SLA.
    due = add_business_time(NINE_TO_FIVE, at("2026-01-09T22:00:00+00:00"), timedelta(hours=4))

    assert due == at("2026-01-12T13:00:00+00:00")


def test_the_weekend_is_skipped() -> None:
    due = add_business_time(NINE_TO_FIVE, at("2026-01-09T16:00:00+00:00"), timedelta(hours=4))

    assert due == at("2026-01-12T12:00:00+00:00")


def test_a_holiday_is_skipped() -> None:
    # Thursday 24 December, Friday 25 is a holiday: on to Monday 28.
    start = at("2026-12-24T16:00:00+00:00")

    due = add_business_time(CHRISTMAS, start, timedelta(hours=4))

    assert due == at("2026-12-28T12:00:00+00:00")
    assert add_business_time(NINE_TO_FIVE, start, timedelta(hours=4)) == at(
        "2026-12-25T12:00:00+00:00"
    )


def test_the_lunch_break_is_skipped() -> None:
    due = add_business_time(WITH_LUNCH, at("2026-01-12T11:00:00+00:00"), timedelta(hours=2))

    # 11:00-12:30, then 13:30-14:00.
    assert due == at("2026-01-12T14:00:00+00:00")


def test_a_start_inside_a_range_counts_at_once() -> None:
    due = add_business_time(NINE_TO_FIVE, at("2026-01-12T10:15:00+00:00"), timedelta(minutes=90))

    assert due == at("2026-01-12T11:45:00+00:00")


def test_a_start_exactly_at_closing_waits_for_the_next_opening() -> None:
    due = add_business_time(NINE_TO_FIVE, at("2026-01-12T17:00:00+00:00"), timedelta(hours=1))

    assert due == at("2026-01-13T10:00:00+00:00")


def test_a_duration_running_out_at_closing_is_due_at_closing() -> None:
    due = add_business_time(NINE_TO_FIVE, at("2026-01-12T13:00:00+00:00"), timedelta(hours=4))

    assert due == at("2026-01-12T17:00:00+00:00")


def test_a_zero_duration_is_due_at_the_start_even_when_closed() -> None:
    saturday = datetime.fromisoformat("2026-01-10T12:00:00+01:00")

    due = add_business_time(NINE_TO_FIVE, saturday, timedelta(0))

    assert due == saturday
    assert due.tzinfo is UTC


def test_the_due_time_is_in_utc_whatever_the_offset_of_the_start() -> None:
    start = datetime.fromisoformat("2026-07-13T10:00:00+01:00")  # 10:00 WEST, a Monday

    due = add_business_time(NINE_TO_FIVE, start, timedelta(hours=1))

    assert due.tzinfo is UTC
    assert due == at("2026-07-13T10:00:00+00:00")  # 11:00 WEST


def test_office_hours_follow_the_clock_change_over_a_weekend() -> None:
    # Friday 16:00 WET; Monday opens at 09:00 WEST, 08:00 UTC.
    due = add_business_time(NINE_TO_FIVE, at("2026-03-27T16:00:00+00:00"), timedelta(hours=2))

    assert due == at("2026-03-30T09:00:00+00:00")


@pytest.mark.parametrize(
    ("timezone", "start", "end", "length"),
    [
        pytest.param(
            "Europe/Lisbon",
            "2026-03-28T22:00:00+00:00",
            "2026-03-29T06:00:00+01:00",
            7,
            id="lisbon-spring-forward",
        ),
        pytest.param(
            "Europe/Lisbon",
            "2026-10-24T22:00:00+01:00",
            "2026-10-25T06:00:00+00:00",
            9,
            id="lisbon-fall-back",
        ),
        pytest.param(
            "Europe/Prague",
            "2026-03-28T22:00:00+01:00",
            "2026-03-29T06:00:00+02:00",
            7,
            id="prague-spring-forward",
        ),
        pytest.param(
            "Europe/Prague",
            "2026-10-24T22:00:00+02:00",
            "2026-10-25T06:00:00+01:00",
            9,
            id="prague-fall-back",
        ),
    ],
)
def test_a_night_shift_across_a_clock_change_lasts_as_long_as_on_the_wall(
    timezone: str, start: str, end: str, length: int
) -> None:
    nights = calendar({"saturday": [("22:00", "24:00")], "sunday": [("00:00", "06:00")]}, timezone)

    assert business_time_between(nights, at(start), at(end)) == timedelta(hours=length)
    assert add_business_time(nights, at(start), timedelta(hours=length)) == at(end)
    assert is_open(nights, at(end) - timedelta(microseconds=1))
    assert not is_open(nights, at(end))


def test_a_range_in_the_hour_the_clock_skips_falls_an_hour_later() -> None:
    # Prague skips 02:00-03:00 on 29 March: 02:15-02:45 is read as 03:15-03:45 CEST,
    # inside 03:00-04:00, so that Sunday has one business hour, not an hour and a half.
    sundays = calendar({"sunday": [("02:15", "02:45"), ("03:00", "04:00")]}, "Europe/Prague")
    saturday = at("2026-03-28T12:00:00+00:00")

    assert business_time_between(sundays, saturday, saturday + timedelta(days=1)) == (
        timedelta(hours=1)
    )
    assert is_open(sundays, at("2026-03-29T03:05:00+02:00"))
    assert add_business_time(sundays, saturday, timedelta(minutes=10)) == at(
        "2026-03-29T03:10:00+02:00"
    )


def test_round_the_clock_still_closes_on_holidays() -> None:
    hours = calendar({}, "Europe/Lisbon", ("2026-12-25",))

    due = add_business_time(hours, at("2026-12-24T23:00:00+00:00"), timedelta(hours=2))

    assert due == at("2026-12-26T01:00:00+00:00")


def test_the_scan_stops_after_scan_days() -> None:
    # One hour a week, on Mondays; 5 January 2026 is a Monday and the scan covers local
    # days up to 9 February 2027, whose Monday, the 8th, is the 58th.
    mondays = calendar({"monday": [("09:00", "10:00")]}, "UTC")
    start = at("2026-01-05T00:00:00+00:00")

    assert add_business_time(mondays, start, timedelta(hours=58)) == at("2027-02-08T10:00:00+00:00")
    with pytest.raises(ValueError, match="does not run out within 400 days"):
        add_business_time(mondays, start, timedelta(hours=59))


def test_refuses_a_naive_start_and_a_negative_duration() -> None:
    naive = datetime(2026, 1, 12, 10)  # noqa: DTZ001 - the mistake under test

    with pytest.raises(ValueError, match="start must be timezone-aware"):
        add_business_time(NINE_TO_FIVE, naive, timedelta(hours=1))
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        business_time_between(NINE_TO_FIVE, at("2026-01-12T10:00:00+00:00"), naive)
    with pytest.raises(ValueError, match="at must be timezone-aware"):
        is_open(NINE_TO_FIVE, naive)
    with pytest.raises(ValueError, match="must not be negative"):
        add_business_time(NINE_TO_FIVE, at("2026-01-12T10:00:00+00:00"), timedelta(seconds=-1))


# Elapsed business time.


def test_business_time_between_skips_nights_weekends_and_lunch() -> None:
    elapsed = business_time_between(
        WITH_LUNCH, at("2026-01-09T15:00:00+00:00"), at("2026-01-12T14:00:00+00:00")
    )

    # Friday 15:00-18:00, Monday 09:00-12:30 and 13:30-14:00.
    assert elapsed == timedelta(hours=7)


@pytest.mark.parametrize(
    "end",
    [
        pytest.param("2026-01-12T11:00:00+00:00", id="same-instant"),
        pytest.param("2026-01-12T10:00:00+00:00", id="earlier"),
    ],
)
def test_no_business_time_passes_until_a_later_end(end: str) -> None:
    assert business_time_between(NINE_TO_FIVE, at("2026-01-12T11:00:00+00:00"), at(end)) == (
        timedelta(0)
    )


# Open or not.


@pytest.mark.parametrize(
    ("hours", "instant", "expected"),
    [
        pytest.param(NINE_TO_FIVE, "2026-01-12T12:00:00+00:00", True, id="inside-a-range"),
        pytest.param(NINE_TO_FIVE, "2026-01-12T09:00:00+00:00", True, id="at-opening"),
        pytest.param(NINE_TO_FIVE, "2026-01-12T17:00:00+00:00", False, id="at-closing"),
        pytest.param(NINE_TO_FIVE, "2026-01-12T08:59:59+00:00", False, id="before-opening"),
        pytest.param(WITH_LUNCH, "2026-01-12T13:00:00+00:00", False, id="lunch"),
        pytest.param(NINE_TO_FIVE, "2026-01-10T12:00:00+00:00", False, id="weekday-left-out"),
        pytest.param(CHRISTMAS, "2026-12-25T12:00:00+00:00", False, id="holiday"),
        pytest.param(NINE_TO_FIVE, "2026-07-13T08:30:00+00:00", True, id="summer-time-09:30"),
        pytest.param(NINE_TO_FIVE, "2026-01-12T08:30:00+00:00", False, id="winter-time-08:30"),
        pytest.param(BusinessHours(), "2026-01-10T03:00:00+00:00", True, id="round-the-clock"),
    ],
)
def test_is_open(hours: BusinessHours, instant: str, expected: bool) -> None:
    assert is_open(hours, at(instant)) is expected


# The calendar itself.


def test_an_empty_calendar_is_open_round_the_clock_in_utc() -> None:
    hours = BusinessHours()

    assert (hours.timezone, hours.weekly, hours.holidays) == ("UTC", {}, [])


def test_a_calendar_that_never_opens_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        calendar({"monday": [], "friday": []})

    [error] = refused.value.errors()
    assert error["loc"] == ("weekly",)
    assert "never opens" in error["msg"]


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        pytest.param(
            {
                "weekly": {
                    "monday": [
                        {"opens": "09:00", "closes": "12:00"},
                        {"opens": "11:00", "closes": "13:00"},
                    ]
                }
            },
            ("weekly",),
            "opening ranges of monday overlap",
            id="overlapping-ranges",
        ),
        pytest.param(
            {"weekly": {"mon": [{"opens": "09:00", "closes": "12:00"}]}},
            ("weekly", "mon", "[key]"),
            "Input should be 'monday'",
            id="unknown-weekday",
        ),
        pytest.param(
            {"weekly": {"friday": [{"opens": "22:00", "closes": "02:00"}]}},
            ("weekly", "friday", 0),
            "split a range that passes midnight",
            id="range-past-midnight",
        ),
        pytest.param(
            {"timezone": "Europe/Atlantis"},
            ("timezone",),
            "not an IANA time zone",
            id="unknown-time-zone",
        ),
    ],
)
def test_an_invalid_calendar_is_refused(
    data: dict[str, object], loc: tuple[str | int, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        BusinessHours.model_validate(data)

    [error] = refused.value.errors()
    assert error["loc"] == loc
    assert message in error["msg"]


# Properties, on calendars with lunch breaks, holidays, night shifts, ranges in the hour
# the clock skips, and time zones that change their clocks at midnight.

CALENDARS = {
    "lisbon-office": calendar(
        {day: [("09:00", "12:30"), ("13:30", "18:00")] for day in WORKDAYS},
        "Europe/Lisbon",
        ("2026-04-03", "2026-06-10", "2026-12-25"),
    ),
    "prague-nights": calendar(
        {day: [("00:00", "06:00"), ("22:00", "24:00")] for day in WORKDAYS}, "Europe/Prague"
    ),
    "prague-skipped-hour": calendar(
        {day: [("01:00", "02:30"), ("02:45", "04:00")] for day in EVERY_DAY}, "Europe/Prague"
    ),
    "santiago-evenings": calendar(
        {day: [("00:00", "02:00"), ("20:00", "24:00")] for day in EVERY_DAY}, "America/Santiago"
    ),
    "lisbon-round-the-clock-but-christmas": calendar({}, "Europe/Lisbon", ("2026-12-25",)),
}

YEAR = at("2026-01-01T00:00:00+00:00")
CLOCK_CHANGES = [
    at("2026-03-29T01:00:00+00:00"),  # Europe, spring
    at("2026-10-25T01:00:00+00:00"),  # Europe, autumn
    at("2026-04-05T03:00:00+00:00"),  # Santiago, midnight back to 23:00
    at("2026-09-06T04:00:00+00:00"),  # Santiago, midnight forward to 01:00
]
starts = st.one_of(
    st.timedeltas(timedelta(0), timedelta(days=366)).map(lambda offset: YEAR + offset),
    st.builds(
        lambda change, offset: change + offset,
        st.sampled_from(CLOCK_CHANGES),
        st.timedeltas(timedelta(days=-3), timedelta(days=3)),
    ),
)
durations = st.timedeltas(timedelta(0), timedelta(hours=200))
calendars = st.sampled_from(sorted(CALENDARS)).map(CALENDARS.__getitem__)


@given(hours=calendars, start=starts, duration=durations)
def test_business_time_to_the_due_time_is_the_duration(
    hours: BusinessHours, start: datetime, duration: timedelta
) -> None:
    due = add_business_time(hours, start, duration)

    assert due.tzinfo is UTC
    assert business_time_between(hours, start, due) == duration


@given(hours=calendars, start=starts, duration=durations.filter(bool))
def test_a_due_time_ends_business_time_never_closed_time(
    hours: BusinessHours, start: datetime, duration: timedelta
) -> None:
    due = add_business_time(hours, start, duration)

    assert is_open(hours, due - timedelta(microseconds=1))


@given(hours=calendars, start=starts, durations=st.lists(durations, min_size=2, max_size=2))
def test_a_longer_duration_is_never_due_earlier(
    hours: BusinessHours, start: datetime, durations: list[timedelta]
) -> None:
    shorter, longer = sorted(durations)

    assert add_business_time(hours, start, shorter) <= add_business_time(hours, start, longer)


@given(
    start=starts,
    duration=st.timedeltas(timedelta(0), timedelta(days=300)),
    timezone=st.sampled_from(["UTC", "Europe/Lisbon", "Europe/Prague", "America/Santiago"]),
)
def test_round_the_clock_business_time_is_plain_time(
    start: datetime, duration: timedelta, timezone: str
) -> None:
    hours = BusinessHours(timezone=timezone)

    assert add_business_time(hours, start, duration) == start + duration
    assert business_time_between(hours, start, start + duration) == duration
    assert is_open(hours, start)
