"""SMS quiet hours: when a message due now may go."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from channelhub.process.notifications.consent import quiet_until


@pytest.mark.parametrize(
    ("now", "start", "end", "until"),
    [
        pytest.param(
            datetime(2026, 12, 1, 22, 0, tzinfo=UTC),
            time(21),
            time(8),
            datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
            id="before-midnight-waits-for-tomorrow",
        ),
        pytest.param(
            datetime(2026, 12, 2, 3, 0, tzinfo=UTC),
            time(21),
            time(8),
            datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
            id="after-midnight-waits-for-this-morning",
        ),
        pytest.param(
            datetime(2026, 12, 2, 8, 0, tzinfo=UTC), time(21), time(8), None, id="at-the-end"
        ),
        pytest.param(
            datetime(2026, 12, 2, 13, 0, tzinfo=UTC),
            time(12),
            time(14),
            datetime(2026, 12, 2, 14, 0, tzinfo=UTC),
            id="same-day-range",
        ),
        pytest.param(
            datetime(2026, 12, 2, 15, 0, tzinfo=UTC), time(12), time(14), None, id="outside"
        ),
        pytest.param(
            datetime(2026, 12, 2, 15, 0, tzinfo=UTC), time(9), time(9), None, id="equal-is-none"
        ),
    ],
)
def test_quiet_hours(now: datetime, start: time, end: time, until: datetime | None) -> None:
    assert quiet_until(now, start, end, "Europe/Lisbon") == until


def test_quiet_hours_follow_the_tenant_time_zone() -> None:
    # 22:30 UTC is 07:30 in Tokyo: inside 21:00-08:00 there, ending at 08:00 Tokyo time.
    now = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)

    assert quiet_until(now, time(21), time(8), "Asia/Tokyo") == datetime(
        2026, 12, 1, 23, 0, tzinfo=UTC
    )
