"""SLA clocks, counted in the queue's business hours.

- first response: from the ticket's creation to the first reply by an agent (or the
  hub's auto-answer);
- next response: from a customer message that arrives after a reply, to the next reply;
- resolution: from creation to resolution; a reopened ticket's starts over from the
  reopening.

Each running clock has a due instant and a near-breach instant (``near_breach_ratio`` of
its business time); ``next_due_at`` is the earliest of them still to be announced, so the
SLA job reads only tickets with something to announce.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from channelhub.platform.clock import as_utc
from channelhub.process.helpdesk.calendar import BusinessHours, add_business_time
from channelhub.process.helpdesk.models import Queue, Ticket
from channelhub.process.helpdesk.schemas import SlaClock


@dataclass(frozen=True)
class Crossing:
    clock: SlaClock
    due_at: datetime
    breached: bool
    """False: near breach."""


def hours_of(queue: Queue) -> BusinessHours:
    return _hours(json.dumps(queue.business_hours, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _hours(document: str) -> BusinessHours:
    """A queue's calendar, validated once per distinct calendar (not once per ticket)."""
    return BusinessHours.model_validate_json(document)


def _minutes(queue: Queue, clock: SlaClock) -> int | None:
    return {
        SlaClock.first_response: queue.first_response_minutes,
        SlaClock.next_response: queue.next_response_minutes,
        SlaClock.resolution: queue.resolution_minutes,
    }[clock]


def _due(ticket: Ticket, clock: SlaClock) -> datetime | None:
    return {
        SlaClock.first_response: ticket.first_response_due,
        SlaClock.next_response: ticket.next_response_due,
        SlaClock.resolution: ticket.resolution_due,
    }[clock]


def _set_due(ticket: Ticket, clock: SlaClock, value: datetime | None) -> None:
    if clock is SlaClock.first_response:
        ticket.first_response_due = value
    elif clock is SlaClock.next_response:
        ticket.next_response_due = value
    else:
        ticket.resolution_due = value


def _start(ticket: Ticket, queue: Queue, clock: SlaClock, at: datetime) -> None:
    minutes = _minutes(queue, clock)
    if minutes is None:
        _set_due(ticket, clock, None)
        return
    hours = hours_of(queue)
    span = timedelta(minutes=minutes)
    _set_due(ticket, clock, add_business_time(hours, at, span))
    warn_at = add_business_time(hours, at, span * queue.near_breach_ratio)
    ticket.sla_warn_at = {**ticket.sla_warn_at, clock.value: warn_at.isoformat()}
    ticket.sla_warned = [c for c in ticket.sla_warned if c != clock.value]
    ticket.sla_breached = [c for c in ticket.sla_breached if c != clock.value]


def _stop(ticket: Ticket, clock: SlaClock) -> None:
    _set_due(ticket, clock, None)
    ticket.sla_warn_at = {k: v for k, v in ticket.sla_warn_at.items() if k != clock.value}


def opened(ticket: Ticket, queue: Queue | None, at: datetime) -> None:
    """A new ticket (or one moved to another queue): its clocks start over."""
    ticket.sla_warn_at = {}
    ticket.sla_warned = []
    ticket.sla_breached = []
    for clock in SlaClock:
        _set_due(ticket, clock, None)
    if queue is not None:
        if ticket.first_responded_at is None:
            _start(ticket, queue, SlaClock.first_response, at)
        if ticket.resolved_at is None:
            _start(ticket, queue, SlaClock.resolution, ticket.created_at)
    _plan(ticket)


def customer_wrote(ticket: Ticket, queue: Queue | None, at: datetime) -> None:
    """A customer message on an open or pending ticket: after a reply, the next response
    is due."""
    running = ticket.next_response_due is not None
    if queue is not None and ticket.first_responded_at is not None and not running:
        _start(ticket, queue, SlaClock.next_response, at)
    _plan(ticket)


def reopened(ticket: Ticket, queue: Queue | None, at: datetime) -> None:
    """A resolved ticket back to work (the customer wrote, a merge, an agent): a response
    is due again (the first, if it never had one), and resolution starts over from ``at``."""
    ticket.resolved_at = None
    if queue is not None:
        clock = (
            SlaClock.first_response if ticket.first_responded_at is None else SlaClock.next_response
        )
        _start(ticket, queue, clock, at)
        _start(ticket, queue, SlaClock.resolution, at)
    _plan(ticket)


def replied(ticket: Ticket, at: datetime) -> None:
    if ticket.first_responded_at is None:
        ticket.first_responded_at = at
    _stop(ticket, SlaClock.first_response)
    _stop(ticket, SlaClock.next_response)
    _plan(ticket)


def resume(ticket: Ticket) -> None:
    """A ticket back from a merge: its clocks run on from where they were."""
    _plan(ticket)


def resolved(ticket: Ticket) -> None:
    for clock in SlaClock:
        _stop(ticket, clock)
    _plan(ticket)


def _instants(ticket: Ticket) -> list[tuple[datetime, SlaClock, bool]]:
    found = []
    for clock in SlaClock:
        due = _due(ticket, clock)
        if due is None or clock.value in ticket.sla_breached:
            continue
        found.append((as_utc(due), clock, True))
        warn_at = ticket.sla_warn_at.get(clock.value)
        if warn_at and clock.value not in ticket.sla_warned:
            found.append((datetime.fromisoformat(warn_at), clock, False))
    return found


def _plan(ticket: Ticket) -> None:
    instants = _instants(ticket)
    ticket.next_due_at = min((at for at, _, _ in instants), default=None)


def crossings(ticket: Ticket, now: datetime) -> list[Crossing]:
    """What has come due by ``now`` and was not yet announced; marks it announced."""
    found: list[Crossing] = []
    for at, clock, breach in sorted(_instants(ticket), key=lambda item: item[0]):
        if at > now:
            continue
        due = _due(ticket, clock)
        assert due is not None
        if breach:
            ticket.sla_breached = [*ticket.sla_breached, clock.value]
        elif clock.value not in ticket.sla_warned:
            ticket.sla_warned = [*ticket.sla_warned, clock.value]
        found.append(Crossing(clock, as_utc(due), breach))
    # A breach found in the same pass makes its warning moot.
    breached = {c.clock for c in found if c.breached}
    found = [c for c in found if c.breached or c.clock not in breached]
    _plan(ticket)
    return found


def state(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """The SLA clocks as a console shows them: due instant and minutes left (wall clock)."""
    shown = {}
    for clock in SlaClock:
        due = _due(ticket, clock)
        if due is not None:
            left = (as_utc(due) - now).total_seconds() / 60
            shown[clock.value] = {
                "due_at": as_utc(due),
                "minutes_left": round(left),
                "breached": clock.value in ticket.sla_breached,
                "warned": clock.value in ticket.sla_warned,
            }
    return shown
