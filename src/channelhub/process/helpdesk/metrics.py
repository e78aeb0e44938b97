"""Helpdesk metrics: how fast customers are answered, what they ask, whether late
deliveries drive "where is my order?", refunds and their reasons, ratings and SLA breaches.

One cohort for every ticket figure: the tickets *created* in ``[since, until)``, merged
tickets left out (a merged ticket's messages were moved to the ticket it was merged into,
which is counted once). Counts, sums and groupings are SQL aggregates; medians and 90th
percentiles need the individual durations, so for them only the two timestamps of each
answered or resolved ticket are read (SQLite has no ``percentile_cont``, and timestamp
arithmetic differs between SQLite and PostgreSQL, so the subtraction is done here).

Percentiles interpolate linearly between the closest ranks, as PostgreSQL's
``percentile_cont`` and a spreadsheet's ``PERCENTILE.INC`` do: a BI tool fed the same
durations gets the same figures.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import as_utc
from channelhub.platform.errors import InvalidError
from channelhub.process.channels.models import SalesChannel
from channelhub.process.helpdesk import metrics_schemas as schemas
from channelhub.process.helpdesk.intents import Intent
from channelhub.process.helpdesk.models import Ticket, TicketActivity
from channelhub.process.helpdesk.schemas import SlaClock, TicketStatus
from channelhub.process.orders.models import Order, Refund, Shipment

READ = "helpdesk:read"
DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=366)
SATISFIED_FROM = 4
"""A rating of 4 or 5 (of 5) counts as satisfied: the usual CSAT definition."""

CSV_HEADER = ("metric", "dimension", "value", "count")

_WISMO = Intent.where_is_my_order.value


# --- the window -------------------------------------------------------------------------


def window(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The window a report covers: ``until`` defaults to ``now``, ``since`` to 30 days
    before ``until``. Refused (naming the field) when it is empty, reversed, longer than
    366 days, or a bound has no time zone."""
    end = _aware(until, "until") if until is not None else as_utc(now)
    start = _aware(since, "since") if since is not None else end - DEFAULT_WINDOW
    _check(start, end)
    return start, end


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidError(f"{field} needs a time zone offset (2026-11-01T00:00:00Z)", field=field)
    return as_utc(value)


def _check(since: datetime, until: datetime) -> None:
    if until <= since:
        raise InvalidError(
            f"until ({until.isoformat()}) must be later than since ({since.isoformat()})",
            field="until",
        )
    if until - since > MAX_WINDOW:
        raise InvalidError(
            f"the window may be at most {MAX_WINDOW.days} days; "
            f"{since.isoformat()} to {until.isoformat()} is longer",
            field="until",
        )


# --- the report -------------------------------------------------------------------------


async def metrics(
    session: AsyncSession, principal: Principal, since: datetime, until: datetime
) -> schemas.Report:
    """The tenant's helpdesk figures for ``[since, until)`` (see the module docstring for
    which rows each figure counts). Read-only: it takes no locks and writes nothing."""
    principal.require(READ)
    since, until = _aware(since, "since"), _aware(until, "until")
    _check(since, until)
    tenant_id = principal.tenant_id
    cohort = [
        Ticket.tenant_id == tenant_id,
        Ticket.created_at >= since,
        Ticket.created_at < until,
        Ticket.status != TicketStatus.merged.value,
    ]
    by_channel = await _per_channel(session, cohort)
    by_intent = await _per_intent(session, cohort)
    names = await _channel_names(session, tenant_id, [key for key in by_channel if key])
    tickets = sum(row["tickets"] for row in by_channel.values())
    deflected = sum(row["deflected"] for row in by_channel.values())
    return schemas.Report(
        window=schemas.Window(since=since, until=until),
        tickets=tickets,
        first_response=await _first_response(session, cohort, by_channel, names),
        resolution=await _resolution(session, cohort, by_intent),
        wismo=await _wismo(session, tenant_id, since, until, by_channel, tickets),
        deflection=schemas.Deflection(
            tickets=tickets,
            deflected=deflected,
            share=_share(deflected, tickets),
        ),
        refunds=await _refunds(session, tenant_id, since, until),
        csat=_csat(by_channel, by_intent, names),
        sla=await _sla(session, cohort),
    )


def _rated(score: InstrumentedAttribute[int | None]) -> list[ColumnElement[Any]]:
    """Ratings, their sum, and the satisfied ones, as SQL aggregates."""
    return [
        func.count(score),
        func.coalesce(func.sum(score), 0),
        func.coalesce(func.sum(case((score >= SATISFIED_FROM, 1), else_=0)), 0),
    ]


async def _per_channel(
    session: AsyncSession, cohort: list[ColumnElement[bool]]
) -> dict[str | None, dict[str, int]]:
    rows = await session.execute(
        select(
            Ticket.sales_channel_id,
            func.count(),
            func.count(Ticket.first_responded_at),
            func.sum(case((Ticket.intent == _WISMO, 1), else_=0)),
            func.sum(case((Ticket.deflected.is_(True), 1), else_=0)),
            *_rated(Ticket.csat_score),
        )
        .where(*cohort)
        .group_by(Ticket.sales_channel_id)
    )
    keys = ("tickets", "responded", "wismo", "deflected", "rated", "score_sum", "satisfied")
    return {row[0]: dict(zip(keys, map(int, row[1:]), strict=True)) for row in rows}


async def _per_intent(
    session: AsyncSession, cohort: list[ColumnElement[bool]]
) -> dict[str, dict[str, int]]:
    is_resolved = (Ticket.status == TicketStatus.resolved.value) & Ticket.resolved_at.is_not(None)
    rows = await session.execute(
        select(
            Ticket.intent,
            func.count(),
            func.sum(case((is_resolved, 1), else_=0)),
            *_rated(Ticket.csat_score),
        )
        .where(*cohort)
        .group_by(Ticket.intent)
    )
    keys = ("tickets", "resolved", "rated", "score_sum", "satisfied")
    return {row[0]: dict(zip(keys, map(int, row[1:]), strict=True)) for row in rows}


async def _channel_names(session: AsyncSession, tenant_id: str, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(SalesChannel.id, SalesChannel.name).where(
            SalesChannel.tenant_id == tenant_id, SalesChannel.id.in_(ids)
        )
    )
    return {row.id: row.name for row in rows}


def _most_first(counts: dict[Any, dict[str, int]]) -> list[Any]:
    """Group keys by tickets, most first; ties by key, the unknown (None) group last."""
    return sorted(counts, key=lambda key: (-counts[key]["tickets"], key is None, key or ""))


async def _first_response(
    session: AsyncSession,
    cohort: list[ColumnElement[bool]],
    by_channel: dict[str | None, dict[str, int]],
    names: dict[str, str],
) -> schemas.FirstResponse:
    minutes = await _elapsed(
        session, Ticket.sales_channel_id, Ticket.first_responded_at, cohort, unit_s=60
    )

    def times(tickets: int, measured: Sequence[float]) -> dict[str, Any]:
        return {
            "tickets": tickets,
            "responded": len(measured),
            "unanswered": tickets - len(measured),
            "median_minutes": _rounded(_percentile(measured, 0.5), 1),
            "p90_minutes": _rounded(_percentile(measured, 0.9), 1),
        }

    everything = [value for values in minutes.values() for value in values]
    return schemas.FirstResponse(
        overall=schemas.ResponseTimes(
            **times(sum(c["tickets"] for c in by_channel.values()), everything)
        ),
        by_sales_channel=[
            schemas.ChannelResponseTimes(
                sales_channel_id=key,
                sales_channel_name=names.get(key) if key else None,
                **times(by_channel[key]["tickets"], minutes.get(key, [])),
            )
            for key in _most_first(by_channel)
        ],
    )


async def _elapsed(
    session: AsyncSession,
    group: InstrumentedAttribute[Any],
    end: InstrumentedAttribute[Any],
    cohort: list[ColumnElement[bool]],
    *,
    unit_s: float,
) -> dict[Any, list[float]]:
    """Time from each ticket's creation to ``end`` (tickets that reached it), in
    ``unit_s`` units, by ``group``. Subtracted here: date arithmetic differs between
    SQLite and PostgreSQL, and only the two instants are read."""
    found: dict[Any, list[float]] = defaultdict(list)
    rows = await session.execute(
        select(group, Ticket.created_at, end).where(*cohort, end.is_not(None))
    )
    for key, created_at, ended_at in rows:
        found[key].append((ended_at - created_at).total_seconds() / unit_s)
    return found


async def _resolution(
    session: AsyncSession,
    cohort: list[ColumnElement[bool]],
    by_intent: dict[str, dict[str, int]],
) -> schemas.Resolution:
    hours = await _elapsed(
        session,
        Ticket.intent,
        Ticket.resolved_at,
        [*cohort, Ticket.status == TicketStatus.resolved.value],
        unit_s=3600,
    )

    def times(tickets: int, measured: Sequence[float]) -> dict[str, Any]:
        return {
            "tickets": tickets,
            "resolved": len(measured),
            "unresolved": tickets - len(measured),
            "median_hours": _rounded(_percentile(measured, 0.5), 2),
            "p90_hours": _rounded(_percentile(measured, 0.9), 2),
        }

    everything = [value for values in hours.values() for value in values]
    return schemas.Resolution(
        overall=schemas.ResolutionTimes(
            **times(sum(c["tickets"] for c in by_intent.values()), everything)
        ),
        by_intent=[
            schemas.IntentResolutionTimes(
                intent=key, **times(by_intent[key]["tickets"], hours.get(key, []))
            )
            for key in _most_first(by_intent)
        ],
    )


async def _wismo(
    session: AsyncSession,
    tenant_id: str,
    since: datetime,
    until: datetime,
    by_channel: dict[str | None, dict[str, int]],
    tickets: int,
) -> schemas.WismoVsDelivery:
    """WISMO share of the window's tickets, beside the on-time rate of the shipments
    delivered in the window.

    A shipment's delivery time is ``Shipment.delivered_at``: the carrier's time
    (``occurred_at``) of its ``delivered`` tracking scan, as the orders context records
    it. Its estimate is ``Shipment.estimated_delivery``: a calendar date, the latest one
    given (at shipping, by a tracking scan, or by the carrier's estimate update). The
    delivered day is ``delivered_at``'s date in UTC, on time when it is on or before the
    estimated date. Dates are compared here rather than in SQL because PostgreSQL would
    take a timestamp's date in the session's time zone, not necessarily UTC."""
    wismo = sum(row["wismo"] for row in by_channel.values())
    rows = await session.execute(
        select(Shipment.delivered_at, Shipment.estimated_delivery).where(
            Shipment.tenant_id == tenant_id,
            Shipment.delivered_at >= since,
            Shipment.delivered_at < until,
        )
    )
    delivered = on_time = late = 0
    for delivered_at, estimate in rows:
        assert delivered_at is not None  # the query reads delivered shipments only
        delivered += 1
        if estimate is None:
            continue
        if as_utc(delivered_at).date() <= estimate:
            on_time += 1
        else:
            late += 1
    return schemas.WismoVsDelivery(
        tickets=tickets,
        wismo_tickets=wismo,
        wismo_share=_share(wismo, tickets),
        delivered_shipments=delivered,
        with_estimate=on_time + late,
        on_time=on_time,
        late=late,
        without_estimate=delivered - on_time - late,
        on_time_rate=_share(on_time, on_time + late),
    )


async def _refunds(
    session: AsyncSession, tenant_id: str, since: datetime, until: datetime
) -> schemas.Refunds:
    """The refund rate is over the orders *placed* in the window (refunded whenever);
    reasons and amounts are over the refunds *issued* in the window (whenever the order
    was placed): the first says how many orders end in a refund, the second what was paid
    back this period and why."""
    refunded = select(Refund.id).where(Refund.order_id == Order.id).exists()
    placed, got_refund = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(case((refunded, 1), else_=0)), 0)).where(
                Order.tenant_id == tenant_id,
                Order.placed_at >= since,
                Order.placed_at < until,
            )
        )
    ).one()
    rows = await session.execute(
        select(Refund.reason, Refund.currency, func.count(), func.sum(Refund.amount))
        .where(
            Refund.tenant_id == tenant_id,
            Refund.created_at >= since,
            Refund.created_at < until,
        )
        .group_by(Refund.reason, Refund.currency)
    )
    reasons: dict[str, list[schemas.RefundTotal]] = defaultdict(list)
    totals: dict[str, tuple[int, int]] = {}
    for reason, currency, count, amount in rows:
        total = schemas.RefundTotal(amount=int(amount), currency=currency, refunds=int(count))
        reasons[reason].append(total)
        done, paid = totals.get(currency, (0, 0))
        totals[currency] = (done + total.refunds, paid + total.amount)
    by_reason = [
        schemas.RefundReason(
            reason=reason,
            refunds=sum(a.refunds for a in amounts),
            amounts=sorted(amounts, key=lambda a: a.currency),
        )
        for reason, amounts in reasons.items()
    ]
    by_reason.sort(key=lambda r: (-r.refunds, r.reason))
    return schemas.Refunds(
        orders_placed=int(placed),
        orders_refunded=int(got_refund),
        refund_rate=_share(int(got_refund), int(placed)),
        refunds=sum(r.refunds for r in by_reason),
        amounts=[
            schemas.RefundTotal(amount=paid, currency=currency, refunds=done)
            for currency, (done, paid) in sorted(totals.items())
        ],
        by_reason=by_reason,
    )


def _satisfaction(counts: dict[str, int]) -> dict[str, Any]:
    rated = counts["rated"]
    return {
        "rated": rated,
        "average_score": _rounded(counts["score_sum"] / rated if rated else None, 2),
        "satisfied": counts["satisfied"],
        "satisfied_share": _share(counts["satisfied"], rated),
    }


def _csat(
    by_channel: dict[str | None, dict[str, int]],
    by_intent: dict[str, dict[str, int]],
    names: dict[str, str],
) -> schemas.Csat:
    overall = {
        key: sum(row[key] for row in by_channel.values())
        for key in ("rated", "score_sum", "satisfied")
    }
    return schemas.Csat(
        overall=schemas.Satisfaction(**_satisfaction(overall)),
        by_sales_channel=[
            schemas.ChannelSatisfaction(
                sales_channel_id=key,
                sales_channel_name=names.get(key) if key else None,
                **_satisfaction(by_channel[key]),
            )
            for key in _most_first(by_channel)
        ],
        by_intent=[
            schemas.IntentSatisfaction(intent=key, **_satisfaction(by_intent[key]))
            for key in _most_first(by_intent)
        ],
    )


async def _sla(
    session: AsyncSession, cohort: list[ColumnElement[bool]]
) -> list[schemas.SlaBreaches]:
    """Breaches are read from the tickets' timelines (``sla_breached`` activities, one per
    breach), not from ``Ticket.sla_breached``: that list is the clocks breached *now*, and
    the SLA module clears a clock from it when the clock starts again (a move to another
    queue, a customer writing after a reply, a reopened ticket), so it forgets breaches.
    Breaches are few; their ``detail`` is read here rather than with SQL JSON functions,
    which SQLite and PostgreSQL spell differently."""
    breaches: dict[str, int] = defaultdict(int)
    tickets: dict[str, set[str]] = defaultdict(set)
    rows = await session.execute(
        select(TicketActivity.ticket_id, TicketActivity.detail)
        .join(Ticket, Ticket.id == TicketActivity.ticket_id)
        .where(
            *cohort,
            TicketActivity.tenant_id == Ticket.tenant_id,
            TicketActivity.kind == "sla_breached",
        )
    )
    for ticket_id, detail in rows:
        clock = str((detail or {}).get("clock", ""))
        breaches[clock] += 1
        tickets[clock].add(ticket_id)
    return [
        schemas.SlaBreaches(
            clock=clock, breaches=breaches[clock.value], tickets=len(tickets[clock.value])
        )
        for clock in SlaClock
    ]


# --- arithmetic -------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile, interpolating linearly between the closest ranks
    (``percentile_cont``); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- CSV --------------------------------------------------------------------------------


def to_csv(report: schemas.Report) -> str:
    """The report as tidy CSV (RFC 4180, CRLF line ends): one row per figure, columns
    ``metric,dimension,value,count``.

    - ``metric``: the figure's name (``first_response_minutes_median``, ``wismo_share``,
      ``refund_amount.EUR``...).
    - ``dimension``: what it is about: ``all``, or ``kind:value`` split at the first
      colon — ``sales_channel:<id>`` (``sales_channel:none`` for tickets with no known
      store), ``intent:<intent>``, ``reason:<refund reason>``, ``clock:<SLA clock>``.
    - ``value``: the figure; empty when there is nothing to measure. Shares are fractions
      (0.25); amounts are in the currency's major unit, exactly (12.50).
    - ``count``: how many tickets, orders, shipments or refunds the figure stands on: the
      sample of a median or an average, the denominator of a share, the count itself for
      a count.

    Every ``dimension`` starts with a letter, so no cell can be taken for a spreadsheet
    formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for metric, dimension, value, count in _rows(report):
        writer.writerow((metric, dimension, _cell(value), count))
    return out.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


Row = tuple[str, str, Any, int]


def _channel(key: str | None) -> str:
    return f"sales_channel:{key or 'none'}"


def _rows(report: schemas.Report) -> Iterator[Row]:
    yield "tickets", "all", report.tickets, report.tickets
    for ch in report.first_response.by_sales_channel:
        yield "tickets", _channel(ch.sales_channel_id), ch.tickets, ch.tickets
    for ri in report.resolution.by_intent:
        yield "tickets", f"intent:{ri.intent}", ri.tickets, ri.tickets

    first = report.first_response
    responses: list[tuple[str, schemas.ResponseTimes]] = [("all", first.overall)]
    responses += [(_channel(c.sales_channel_id), c) for c in first.by_sales_channel]
    for dimension, rt in responses:
        yield "first_response_minutes_median", dimension, rt.median_minutes, rt.responded
        yield "first_response_minutes_p90", dimension, rt.p90_minutes, rt.responded
        yield "first_response_unanswered", dimension, rt.unanswered, rt.unanswered

    resolution = report.resolution
    resolutions: list[tuple[str, schemas.ResolutionTimes]] = [("all", resolution.overall)]
    resolutions += [(f"intent:{r.intent}", r) for r in resolution.by_intent]
    for dimension, rs in resolutions:
        yield "resolution_hours_median", dimension, rs.median_hours, rs.resolved
        yield "resolution_hours_p90", dimension, rs.p90_hours, rs.resolved
        yield "resolution_unresolved", dimension, rs.unresolved, rs.unresolved

    w = report.wismo
    yield "wismo_tickets", "all", w.wismo_tickets, w.wismo_tickets
    yield "wismo_share", "all", w.wismo_share, w.tickets
    yield "deliveries", "all", w.delivered_shipments, w.delivered_shipments
    yield "deliveries_late", "all", w.late, w.late
    yield "deliveries_without_estimate", "all", w.without_estimate, w.without_estimate
    yield "on_time_delivery_rate", "all", w.on_time_rate, w.with_estimate

    d = report.deflection
    yield "deflected_tickets", "all", d.deflected, d.deflected
    yield "deflection_share", "all", d.share, d.tickets

    r = report.refunds
    yield "orders_placed", "all", r.orders_placed, r.orders_placed
    yield "orders_refunded", "all", r.orders_refunded, r.orders_refunded
    yield "refund_rate", "all", r.refund_rate, r.orders_placed
    yield "refunds", "all", r.refunds, r.refunds
    for total in r.amounts:
        yield f"refund_amount.{total.currency}", "all", total.as_decimal(), total.refunds
    for reason in r.by_reason:
        dimension = f"reason:{reason.reason}"
        yield "refunds", dimension, reason.refunds, reason.refunds
        for total in reason.amounts:
            yield f"refund_amount.{total.currency}", dimension, total.as_decimal(), total.refunds

    c = report.csat
    ratings: list[tuple[str, schemas.Satisfaction]] = [("all", c.overall)]
    ratings += [(_channel(s.sales_channel_id), s) for s in c.by_sales_channel]
    ratings += [(f"intent:{s.intent}", s) for s in c.by_intent]
    for dimension, s in ratings:
        yield "csat_ratings", dimension, s.rated, s.rated
        yield "csat_average", dimension, s.average_score, s.rated
        yield "csat_satisfied_share", dimension, s.satisfied_share, s.rated

    for sla in report.sla:
        yield "sla_breaches", f"clock:{sla.clock.value}", sla.breaches, sla.breaches
        yield "sla_breached_tickets", f"clock:{sla.clock.value}", sla.tickets, sla.tickets
