"""What the helpdesk metrics report returns (see ``metrics.py`` for how each figure is
computed, and docs/helpdesk-metrics.md for what a merchant reads in it).

Every ticket figure is about the tickets *created* in the window, merged tickets left out
(their messages live on in the ticket they were merged into, which is counted). Shares
and rates are fractions from 0 to 1, null when there is nothing to divide by; medians and
90th percentiles are null when nothing was measured.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from channelhub.platform.money import Money
from channelhub.process.helpdesk.schemas import SlaClock


class Window(BaseModel):
    since: datetime = Field(description="Start of the window, included (UTC).")
    until: datetime = Field(description="End of the window, excluded (UTC).")


class ResponseTimes(BaseModel):
    tickets: int = Field(description="Tickets created in the window.")
    responded: int = Field(description="Of those, tickets that have had a first response.")
    unanswered: int = Field(description="Of those, tickets still without any response.")
    median_minutes: float | None = Field(
        description="Median minutes from the customer's first message to the first response "
        "(an agent's reply or the hub's auto-answer), over the responded tickets."
    )
    p90_minutes: float | None = Field(
        description="90th percentile of the same minutes: nine in ten were answered within it."
    )


class ChannelResponseTimes(ResponseTimes):
    sales_channel_id: str | None = Field(
        description="The store or brand the tickets came through (null: not known)."
    )
    sales_channel_name: str | None = Field(description="Its name, when it still exists.")


class FirstResponse(BaseModel):
    overall: ResponseTimes = Field(description="Every ticket of the window.")
    by_sales_channel: list[ChannelResponseTimes] = Field(
        description="Per store or brand, most tickets first."
    )


class ResolutionTimes(BaseModel):
    tickets: int = Field(description="Tickets created in the window.")
    resolved: int = Field(description="Of those, tickets resolved now.")
    unresolved: int = Field(description="Of those, tickets open or waiting for the customer.")
    median_hours: float | None = Field(
        description="Median hours from the customer's first message to resolution (the "
        "latest one, for a ticket that was reopened), over the resolved tickets."
    )
    p90_hours: float | None = Field(description="90th percentile of the same hours.")


class IntentResolutionTimes(ResolutionTimes):
    intent: str = Field(description="What the customer asked about (where_is_my_order...).")


class Resolution(BaseModel):
    overall: ResolutionTimes = Field(description="Every ticket of the window.")
    by_intent: list[IntentResolutionTimes] = Field(description="Per intent, most tickets first.")


class WismoVsDelivery(BaseModel):
    """Read together: when on-time delivery falls, "where is my order?" tickets rise."""

    tickets: int = Field(description="Tickets created in the window.")
    wismo_tickets: int = Field(description="Of those, 'where is my order?' tickets.")
    wismo_share: float | None = Field(description="wismo_tickets / tickets.")
    delivered_shipments: int = Field(
        description="Shipments delivered in the window (by the carrier's delivered scan)."
    )
    with_estimate: int = Field(description="Of those, shipments that had a delivery estimate.")
    on_time: int = Field(
        description="Delivered on or before the estimated day (the day of the delivered "
        "scan, in UTC, against the shipment's estimate)."
    )
    late: int = Field(description="Delivered after the estimated day.")
    without_estimate: int = Field(
        description="Delivered shipments without an estimate (not in the on-time rate)."
    )
    on_time_rate: float | None = Field(description="on_time / with_estimate.")


class Deflection(BaseModel):
    tickets: int = Field(description="Tickets created in the window.")
    deflected: int = Field(
        description="Of those, tickets the hub answered automatically (live tracking for "
        "'where is my order?'), no agent needed."
    )
    share: float | None = Field(description="deflected / tickets.")


class RefundTotal(Money):
    """What refunds paid back in one currency (``amount`` in its minor units)."""

    refunds: int = Field(description="How many refunds the amount adds up.")


class RefundReason(BaseModel):
    reason: str = Field(description="The reason given with the refund, as written.")
    refunds: int = Field(description="Refunds issued in the window with this reason.")
    amounts: list[RefundTotal] = Field(description="What they paid back, per currency.")


class Refunds(BaseModel):
    orders_placed: int = Field(description="Orders placed in the window.")
    orders_refunded: int = Field(
        description="Of those, orders that got at least one refund (by now, in full or in "
        "part, cancellations included)."
    )
    refund_rate: float | None = Field(description="orders_refunded / orders_placed.")
    refunds: int = Field(description="Refunds issued in the window, whatever the order's age.")
    amounts: list[RefundTotal] = Field(description="What they paid back, per currency.")
    by_reason: list[RefundReason] = Field(description="Per reason, most refunds first.")


class Satisfaction(BaseModel):
    rated: int = Field(description="Tickets the customer rated (1 to 5).")
    average_score: float | None = Field(description="Their average score.")
    satisfied: int = Field(description="Ratings of 4 or 5.")
    satisfied_share: float | None = Field(description="satisfied / rated (CSAT).")


class ChannelSatisfaction(Satisfaction):
    sales_channel_id: str | None = Field(
        description="The store or brand the tickets came through (null: not known)."
    )
    sales_channel_name: str | None = Field(description="Its name, when it still exists.")


class IntentSatisfaction(Satisfaction):
    intent: str = Field(description="What the customer asked about.")


class Csat(BaseModel):
    overall: Satisfaction = Field(description="Every ticket of the window.")
    by_sales_channel: list[ChannelSatisfaction] = Field(
        description="Per store or brand, most tickets first."
    )
    by_intent: list[IntentSatisfaction] = Field(description="Per intent, most tickets first.")


class SlaBreaches(BaseModel):
    clock: SlaClock = Field(description="first_response, next_response or resolution.")
    breaches: int = Field(
        description="Times the clock ran out on the window's tickets (a next response can "
        "breach more than once per ticket)."
    )
    tickets: int = Field(description="Tickets on which it ran out at least once.")


class Report(BaseModel):
    """The helpdesk's figures for one window, for one tenant."""

    window: Window = Field(description="The window reported on.")
    tickets: int = Field(description="Tickets created in the window (merged ones excluded).")
    first_response: FirstResponse = Field(description="How fast customers got a first answer.")
    resolution: Resolution = Field(description="How long tickets took to resolve.")
    wismo: WismoVsDelivery = Field(
        description="'Where is my order?' tickets against on-time delivery."
    )
    deflection: Deflection = Field(description="Tickets answered without an agent.")
    refunds: Refunds = Field(description="Refund rate and reasons.")
    csat: Csat = Field(description="Customer ratings of resolved tickets.")
    sla: list[SlaBreaches] = Field(description="SLA breaches, per clock (all three listed).")
