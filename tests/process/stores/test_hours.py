"""Is the store open? Weekly hours in the store's time zone, holidays, closures."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError

from channelhub.process.stores.hours import Closure, StoreState, open_state
from channelhub.process.stores.schemas import OpeningHours
from tests.fixtures.inventory import Shop

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def hours(**days: list[tuple[str, str]]) -> OpeningHours:
    weekly = {day: [{"opens": o, "closes": c} for o, c in days.get(day, [])] for day in WEEKDAYS}
    return OpeningHours.model_validate({"weekly": weekly, "exceptions": []})


NINE_TO_SEVEN = hours(**{day: [("09:00", "19:00")] for day in WEEKDAYS[:6]})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_open_within_the_hours_of_the_store_time_zone() -> None:
    # 09:30 in New York is 14:30 UTC in winter: open there, though closed by UTC hours.
    state = open_state(NINE_TO_SEVEN, "America/New_York", None, at("2026-12-01T14:30:00+00:00"))

    assert state.state is StoreState.open
    assert state.closes_at == at("2026-12-02T00:00:00+00:00")


def test_after_closing_the_next_opening_is_known() -> None:
    state = open_state(NINE_TO_SEVEN, "Europe/Lisbon", None, at("2026-12-05T20:00:00+00:00"))

    # Saturday evening: Sunday closed, Monday 09:00 Lisbon.
    assert state.state is StoreState.closed
    assert state.opens_at == at("2026-12-07T09:00:00+00:00")


def test_summer_time_shifts_the_hours_in_utc() -> None:
    summer = open_state(NINE_TO_SEVEN, "Europe/Lisbon", None, at("2026-07-01T08:30:00+00:00"))
    winter = open_state(NINE_TO_SEVEN, "Europe/Lisbon", None, at("2026-12-01T08:30:00+00:00"))

    assert summer.open_now  # 09:30 WEST
    assert not winter.open_now  # 08:30 WET


def test_a_holiday_closes_the_whole_day() -> None:
    christmas = OpeningHours.model_validate(
        {
            **NINE_TO_SEVEN.model_dump(),
            "exceptions": [{"date": "2026-12-25", "closed": True, "note": "Christmas"}],
        }
    )

    state = open_state(christmas, "Europe/Lisbon", None, at("2026-12-25T12:00:00+00:00"))

    assert state.state is StoreState.holiday
    assert state.opens_at == at("2026-12-26T09:00:00+00:00")


def test_hours_past_midnight_run_on() -> None:
    late = hours(friday=[("18:00", "24:00")], saturday=[("00:00", "03:00")])

    state = open_state(late, "Europe/Lisbon", None, at("2026-12-04T23:00:00+00:00"))

    assert state.open_now
    assert state.closes_at == at("2026-12-05T03:00:00+00:00")


def test_a_temporary_closure_overrides_the_hours() -> None:
    closure = Closure("flooding", at("2026-12-01T10:00:00+00:00"), at("2026-12-03T00:00:00+00:00"))

    during = open_state(NINE_TO_SEVEN, "Europe/Lisbon", closure, at("2026-12-01T12:00:00+00:00"))
    after = open_state(NINE_TO_SEVEN, "Europe/Lisbon", closure, at("2026-12-03T10:00:00+00:00"))
    unknown = open_state(
        NINE_TO_SEVEN,
        "Europe/Lisbon",
        Closure("fire", at("2026-12-01T10:00:00+00:00"), None),
        at("2026-12-09T12:00:00+00:00"),
    )

    assert during.state is StoreState.temporarily_closed
    assert during.opens_at == at("2026-12-03T09:00:00+00:00")
    assert after.open_now
    assert (unknown.state, unknown.opens_at) == (StoreState.temporarily_closed, None)


@pytest.mark.parametrize(
    "bad",
    [
        {"monday": [{"opens": "19:00", "closes": "09:00"}]},
        {"monday": [{"opens": "09:00", "closes": "13:00"}, {"opens": "12:00", "closes": "18:00"}]},
        {"monday": [{"opens": "9:00", "closes": "13:00"}]},
    ],
)
def test_impossible_hours_are_refused(bad: dict[str, object]) -> None:
    weekly = {day: [] for day in WEEKDAYS} | bad

    with pytest.raises(ValidationError):
        OpeningHours.model_validate({"weekly": weekly})


async def test_hours_and_status_through_the_api(shop: Shop, client: httpx.AsyncClient) -> None:
    weekly = {day: [{"opens": "00:00", "closes": "24:00"}] for day in WEEKDAYS}
    path = f"/v1/locations/{shop.store_id}"

    saved = await client.put(f"{path}/hours", json={"weekly": weekly})
    status = await client.get(f"{path}/status")
    overlapping = await client.put(
        f"{path}/hours",
        json={
            "weekly": weekly,
            "exceptions": [
                {"date": "2026-12-25", "closed": True},
                {"date": "2026-12-25", "hours": [{"opens": "10:00", "closes": "12:00"}]},
            ],
        },
    )
    events = (await client.get("/v1/events", params={"type": "store.*"})).json()["data"]

    assert saved.status_code == 200
    assert saved.json()["hours"]["weekly"]["monday"] == [{"opens": "00:00", "closes": "24:00"}]
    assert status.json()["open_now"] is True
    assert status.json()["state"] == "open"
    assert overlapping.status_code == 422
    assert [e["type"] for e in events] == ["store.hours_changed"]


async def test_closing_and_reopening_through_the_api(shop: Shop, client: httpx.AsyncClient) -> None:
    path = f"/v1/locations/{shop.store_id}/closure"

    past = await client.post(path, json={"reason": "x", "reopens_at": "2020-01-01T00:00:00Z"})
    closed = await client.post(path, json={"reason": "power cut"})
    status = (await client.get(f"/v1/locations/{shop.store_id}/status")).json()
    reopened = await client.delete(path)
    again = await client.delete(path)
    events = (await client.get("/v1/events", params={"type": "store.*"})).json()["data"]

    assert past.status_code == 422
    assert closed.status_code == 200
    assert (status["state"], status["closed_reason"]) == ("temporarily_closed", "power cut")
    assert reopened.json()["store"]["closed_reason"] is None
    assert again.status_code == 200
    assert [e["type"] for e in reversed(events)] == ["store.closed", "store.reopened"]
