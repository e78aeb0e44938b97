"""SLA clocks: due times in business hours, near-breach and breach announcements, escalation."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from channelhub.platform.events.models import OutboxEvent
from channelhub.process.helpdesk.calendar import BusinessHours, business_time_between
from channelhub.process.helpdesk.jobs import announce_slas, escalate_stalled
from tests.fixtures.helpdesk import Desk

WEEKDAYS_9_TO_5 = {
    "timezone": "Europe/Lisbon",
    "weekly": {
        day: [{"opens": "09:00", "closes": "17:00"}]
        for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
    },
}


async def _events(desk: Desk, ticket_id: str) -> list[str]:
    async with desk.hub.db.transaction() as session:
        rows = await session.scalars(
            select(OutboxEvent.type)
            .where(OutboxEvent.subject == ticket_id, OutboxEvent.type.like("ticket.sla%"))
            .order_by(OutboxEvent.id)
        )
        return list(rows)


async def _check(desk: Desk, at: datetime) -> None:
    async with desk.hub.db.transaction() as session:
        await announce_slas(session, at)


async def test_near_breach_then_breach_are_announced_once(desk: Desk) -> None:
    queue = await desk.queue("Fast", first_response_minutes=60, near_breach_ratio=0.5)
    await desk.rule("all", queue_id=queue["id"])
    ticket = (await desk.ticket((await desk.chat("Do you sell gift cards?"))["ticket_id"]))[
        "ticket"
    ]
    created = datetime.fromisoformat(ticket["created_at"])
    assert datetime.fromisoformat(ticket["first_response_due"]) - created == timedelta(hours=1)

    await _check(desk, created + timedelta(minutes=31))
    await _check(desk, created + timedelta(minutes=40))
    assert await _events(desk, ticket["id"]) == ["ticket.sla_near_breach"]
    await _check(desk, created + timedelta(minutes=61))
    await _check(desk, created + timedelta(minutes=90))

    assert await _events(desk, ticket["id"]) == ["ticket.sla_near_breach", "ticket.sla_breached"]
    seen = (await desk.ticket(ticket["id"]))["ticket"]
    assert seen["sla_breached"] == ["first_response"]


async def test_a_reply_stops_the_first_response_clock(desk: Desk) -> None:
    queue = await desk.queue("Fast", first_response_minutes=60, next_response_minutes=30)
    await desk.rule("all", queue_id=queue["id"])
    accepted = await desk.chat("Do you sell gift cards?", thread_id="gift")
    replied = await desk.client.post(
        f"/v1/tickets/{accepted['ticket_id']}/replies", json={"text": "We do!"}
    )
    assert replied.status_code == 201, replied.text
    ticket = (await desk.ticket(accepted["ticket_id"]))["ticket"]
    assert ticket["first_response_due"] is None
    assert ticket["first_responded_at"] is not None

    await desk.chat("Which amounts?", thread_id="gift")

    again = (await desk.ticket(accepted["ticket_id"]))["ticket"]
    assert again["status"] == "open"
    assert again["next_response_due"] is not None
    await _check(desk, datetime.fromisoformat(again["created_at"]) + timedelta(hours=5))
    assert await _events(desk, accepted["ticket_id"]) == ["ticket.sla_breached"]


async def test_due_times_count_business_hours_only(desk: Desk) -> None:
    queue = await desk.queue("Office", first_response_minutes=240, business_hours=WEEKDAYS_9_TO_5)
    await desk.rule("all", queue_id=queue["id"])

    ticket = (await desk.ticket((await desk.chat("Hello, a question"))["ticket_id"]))["ticket"]

    due = datetime.fromisoformat(ticket["first_response_due"])
    created = datetime.fromisoformat(ticket["created_at"])
    local = due.astimezone(ZoneInfo("Europe/Lisbon"))
    assert local.weekday() < 5
    assert time(9) < local.time() <= time(17)
    hours = BusinessHours.model_validate(WEEKDAYS_9_TO_5)
    assert business_time_between(hours, created, due) == timedelta(hours=4)


async def test_an_sla_longer_than_the_calendar_holds_is_refused(desk: Desk) -> None:
    response = await desk.client.post(
        "/v1/helpdesk/queues",
        json={"name": "Slow", "resolution_minutes": 500_000, "business_hours": WEEKDAYS_9_TO_5},
    )
    assert response.status_code == 422
    assert "resolution_minutes" in response.text


async def test_a_stalled_ticket_is_escalated_to_the_owner(desk: Desk) -> None:
    owner = await desk.agent("Lead")
    queue = await desk.queue("Stall", stalled_after_minutes=30, escalate_to_id=owner["id"])
    await desk.rule("all", queue_id=queue["id"])
    accepted = await desk.chat("Nobody answers me")
    ticket = (await desk.ticket(accepted["ticket_id"]))["ticket"]
    later = datetime.fromisoformat(ticket["updated_at"]) + timedelta(minutes=31)

    async with desk.hub.db.transaction() as session:
        await escalate_stalled(session, later - timedelta(minutes=2))
    assert (await desk.ticket(accepted["ticket_id"]))["ticket"]["escalated_at"] is None
    for at in (later, later + timedelta(hours=1)):
        async with desk.hub.db.transaction() as session:
            await escalate_stalled(session, at)

    view = await desk.ticket(accepted["ticket_id"])
    assert view["ticket"]["assignee_id"] == owner["id"]
    assert view["ticket"]["priority"] == "high"
    assert [a["kind"] for a in view["activities"]].count("escalated") == 1
