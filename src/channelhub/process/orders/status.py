"""The order-status Process API: what to tell the customer about an order, now.

One function decides the status code, the headline and next step in the order's language,
the ETA, the tracking timeline, the pickup store's state and the actions the customer may
take. REST, XML, GraphQL, e-mails and the self-service portal render this one result and
never re-derive it, so no two channels can tell different stories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.i18n import Texts
from channelhub.process.orders import closures, repository, returns, schemas
from channelhub.process.orders.models import FulfilmentGroup, Order, Return, Shipment, TrackingEvent
from channelhub.process.orders.service import READ
from channelhub.process.stores import service as stores
from channelhub.process.stores.models import Location
from channelhub.process.stores.repository import LocationRepository

LOCALES = Path(__file__).parent / "locale"
DOMAIN = "orders"


def texts(language: str) -> Texts:
    return Texts(LOCALES, DOMAIN, language)


def tracking_text(t: Texts, status: schemas.TrackingStatus) -> str:
    return {
        schemas.TrackingStatus.pending: t("Waiting for the carrier"),
        schemas.TrackingStatus.info_received: t("Label created"),
        schemas.TrackingStatus.in_transit: t("In transit"),
        schemas.TrackingStatus.out_for_delivery: t("Out for delivery"),
        schemas.TrackingStatus.attempt_fail: t("Delivery attempt failed"),
        schemas.TrackingStatus.available_for_pickup: t("Ready at a pickup point"),
        schemas.TrackingStatus.delivered: t("Delivered"),
        schemas.TrackingStatus.exception: t("Delivery problem"),
        schemas.TrackingStatus.expired: t("Tracking expired"),
    }[status]


_SHIPMENT_CODE = {
    schemas.TrackingStatus.out_for_delivery: "out_for_delivery",
    schemas.TrackingStatus.attempt_fail: "delivery_attempt_failed",
    schemas.TrackingStatus.available_for_pickup: "at_pickup_point",
    schemas.TrackingStatus.exception: "delivery_problem",
    schemas.TrackingStatus.expired: "delivery_problem",
}
"""Shipment statuses that outrank "shipped" in what the customer is told (the most
urgent of the undelivered shipments wins, in this order)."""


def _code(
    order: Order,
    undelivered: list[Shipment],
    open_returns: list[schemas.ReturnStatus],
) -> str:
    status = schemas.OrderStatus(order.status)
    if status is schemas.OrderStatus.cancelled:
        return "cancelled"
    if order.action_needed is not None:
        return "action_needed"
    if schemas.ReturnStatus.approved in open_returns:
        return "return_in_progress"
    if schemas.ReturnStatus.requested in open_returns:
        return "return_requested"
    if status in (schemas.OrderStatus.returned, schemas.OrderStatus.partially_returned):
        return "refunded" if order.refunded_total else "returned"
    if status in (schemas.OrderStatus.delivered, schemas.OrderStatus.picked_up):
        return status.value
    if status is schemas.OrderStatus.placed:
        return "placed"
    for tracking, code in _SHIPMENT_CODE.items():
        if any(s.status == tracking.value for s in undelivered):
            return code
    if status is schemas.OrderStatus.ready_for_pickup:
        return "ready_for_pickup"
    if undelivered:
        left = any(g.status == schemas.GroupStatus.open.value for g in order.groups)
        partial = left or any(
            g.status == schemas.GroupStatus.partially_shipped.value for g in order.groups
        )
        return "partially_shipped" if partial else "shipped"
    return "confirmed"


def _words(
    t: Texts,
    code: str,
    order: Order,
    *,
    store: str,
    address: str,
    carrier: str,
    eta: str | None,
    return_days: int,
) -> tuple[str, str]:
    """(headline, next step) for a status code."""
    number = order.number
    pickup = any(g.method == schemas.Method.pickup.value for g in order.groups)
    if code == "placed":
        return t("We have received your order {number}.", number=number), t(
            "We will confirm it shortly."
        )
    if code == "confirmed":
        step = (
            t("We will tell you when it is ready for pickup at {store}.", store=store)
            if pickup and store
            else t("We will tell you when it ships.")
        )
        return t("Your order {number} is being prepared.", number=number), step
    if code == "action_needed":
        return t("Your pickup store {store} is closed.", store=store), t(
            "Choose what suits you: free delivery to your home, pickup at another store, "
            "or a full refund."
        )
    if code == "ready_for_pickup":
        return t(
            "Your order {number} is ready for pickup at {store}.", number=number, store=store
        ), t("Collect it at {address}. Bring your order number.", address=address)
    if code == "picked_up":
        return t("You collected your order {number}.", number=number), _return_step(t, return_days)
    if code in ("shipped", "partially_shipped"):
        headline = (
            t("Part of your order {number} is on its way.", number=number)
            if code == "partially_shipped"
            else t("Your order {number} is on its way.", number=number)
        )
        step = (
            t("Expected delivery: {date}.", date=eta)
            if eta
            else t("Follow it with {carrier}.", carrier=carrier)
        )
        return headline, step
    if code == "out_for_delivery":
        return t("Your order {number} is out for delivery.", number=number), t(
            "Make sure someone can receive it."
        )
    if code == "delivery_attempt_failed":
        return t(
            "{carrier} could not deliver your order {number}.", carrier=carrier, number=number
        ), t("{carrier} will try again; see the tracking for details.", carrier=carrier)
    if code == "at_pickup_point":
        return t("Your order {number} is waiting at a pickup point.", number=number), t(
            "Collect it with the details {carrier} sent you.", carrier=carrier
        )
    if code == "delivery_problem":
        return t("There is a problem with the delivery of your order {number}.", number=number), t(
            "We are working on it with {carrier} and will keep you posted.", carrier=carrier
        )
    if code == "delivered":
        return t("Your order {number} was delivered.", number=number), _return_step(t, return_days)
    if code == "return_requested":
        return t("We have received your return request."), t(
            "We will review it and send you the next steps."
        )
    if code == "return_in_progress":
        return t("Your return is approved."), t(
            "Send the items back; we will refund you when they arrive."
        )
    if code in ("returned", "refunded"):
        step = (
            t("Your refund has been issued.")
            if code == "refunded"
            else t("We will refund you shortly.")
        )
        return t("We have received your return."), step
    step = (
        t("You have been refunded in full.") if order.refunded_total else t("Nothing was charged.")
    )
    return t("Your order {number} was cancelled.", number=number), step


def _return_step(t: Texts, days: int) -> str:
    if days <= 0:
        return t("Thank you for your order.")
    return t("You can return items within {days} days.", days=days)


@dataclass(frozen=True)
class _Facts:
    """What the status of one order is decided from, besides the order itself."""

    shipments: list[tuple[Shipment, list[TrackingEvent]]]
    returns: list[Return]
    policy: schemas.Policy
    stores: dict[str, Location]


async def build(
    session: AsyncSession,
    order: Order,
    now: datetime,
    *,
    language: str | None = None,
    code: str | None = None,
) -> schemas.CustomerStatus:
    """The customer-facing status of a loaded order. ``code`` words it as that code instead
    of the order's own (a customer notice about one group of a mixed order); the status API
    never passes it."""
    facts = (await _facts_of(session, [order]))[order.id]
    return await _decide(session, order, facts, now, language=language, code=code)


async def build_many(
    session: AsyncSession, orders: Sequence[Order], now: datetime, *, language: str | None = None
) -> list[schemas.CustomerStatus]:
    """``build`` for a page of loaded orders: what they are decided from is loaded for all
    of them at once, so a page costs the same few statements whatever its size (plus the
    live stock check of each order waiting for a closure decision)."""
    facts = await _facts_of(session, orders)
    return [
        await _decide(session, order, facts[order.id], now, language=language) for order in orders
    ]


async def _facts_of(session: AsyncSession, orders: Sequence[Order]) -> dict[str, _Facts]:
    ids = [order.id for order in orders]
    shipments = await repository.shipments_of(session, ids)
    order_returns = await repository.returns_of(session, ids)
    policies: dict[str, schemas.Policy] = {}
    waiting_at: dict[str, set[str]] = {}
    for order in orders:
        if order.tenant_id not in policies:
            policies[order.tenant_id] = await repository.policy(session, order.tenant_id)
        waiting_at.setdefault(order.tenant_id, set()).update(
            group.location_id for group in _waiting_pickups(order) if group.location_id
        )
    stores: dict[str, Location] = {}
    for tenant_id, location_ids in waiting_at.items():
        if location_ids:
            stores.update(await LocationRepository(session, tenant_id).by_ids(location_ids))
    return {
        order.id: _Facts(
            shipments=shipments.get(order.id, []),
            returns=order_returns.get(order.id, []),
            policy=policies[order.tenant_id],
            stores=stores,
        )
        for order in orders
    }


async def _decide(
    session: AsyncSession,
    order: Order,
    facts: _Facts,
    now: datetime,
    *,
    language: str | None = None,
    code: str | None = None,
) -> schemas.CustomerStatus:
    t = texts(language or order.language)
    shipments = facts.shipments
    undelivered = [s for s, _ in shipments if s.status != schemas.TrackingStatus.delivered.value]
    open_returns = [
        schemas.ReturnStatus(r.status)
        for r in facts.returns
        if r.status in (schemas.ReturnStatus.requested.value, schemas.ReturnStatus.approved.value)
    ]
    pickup = _pickup(order, facts.stores, now)
    etas = [s.estimated_delivery for s in undelivered if s.estimated_delivery is not None]
    eta = min(etas) if etas else None
    code = code or _code(order, undelivered, open_returns)
    latest = undelivered or [s for s, _ in shipments]
    headline, next_step = _words(
        t,
        code,
        order,
        store=pickup.name if pickup else "",
        address=pickup.address if pickup else "",
        carrier=latest[-1].carrier if latest else "",
        eta=t.date(eta) if eta else None,
        return_days=facts.policy.return_window_days,
    )
    return schemas.CustomerStatus(
        order_id=order.id,
        number=order.number,
        language=t.language,
        code=code,
        headline=headline,
        next_step=next_step,
        eta=eta,
        eta_text=t.date(eta) if eta else None,
        order_status=schemas.OrderStatus(order.status),
        payment_status=schemas.PaymentStatus(order.payment_status),
        pickup=pickup,
        shipments=[_shipment_view(t, s, events) for s, events in shipments],
        actions=await _actions(session, t, order, facts, now),
        updated_at=order.updated_at,
    )


def _waiting_pickups(order: Order) -> list[FulfilmentGroup]:
    """Pickup groups still to be collected, in the order's order."""
    return [
        group
        for group in order.groups
        if group.method == schemas.Method.pickup.value
        and group.status
        in (schemas.GroupStatus.open.value, schemas.GroupStatus.ready_for_pickup.value)
    ]


def _pickup(
    order: Order, stores_by_id: dict[str, Location], now: datetime
) -> schemas.PickupView | None:
    for group in _waiting_pickups(order):
        store = stores_by_id.get(group.location_id or "")
        if store is None:
            continue
        parts = [store.address_line1, store.postal_code, store.city]
        return schemas.PickupView(
            location_id=store.id,
            name=store.name,
            address=", ".join(p for p in parts if p) or store.name,
            status=stores.store_status(store, now),
        )
    return None


def _shipment_view(
    t: Texts, shipment: Shipment, events: list[TrackingEvent]
) -> schemas.ShipmentView:
    status = schemas.TrackingStatus(shipment.status)
    return schemas.ShipmentView(
        id=shipment.id,
        carrier=shipment.carrier,
        service=shipment.service,
        tracking_number=shipment.tracking_number,
        tracking_url=shipment.tracking_url,
        status=status,
        status_text=tracking_text(t, status),
        estimated_delivery=shipment.estimated_delivery,
        events=[
            schemas.TrackingEventView(
                status=schemas.TrackingStatus(e.status),
                text=tracking_text(t, schemas.TrackingStatus(e.status)),
                carrier_text=e.carrier_text,
                location=e.location,
                occurred_at=e.occurred_at,
            )
            for e in events
        ],
    )


async def _actions(
    session: AsyncSession, t: Texts, order: Order, facts: _Facts, now: datetime
) -> list[schemas.Action]:
    found: list[schemas.Action] = []
    hub = Principal.system(order.tenant_id, name="order-status")
    offered = await closures.offers(session, hub, order, now)
    if offered is not None:
        if offered.ship_home:
            found.append(
                schemas.Action(action="choose_ship_home", label=t("Deliver to my home for free"))
            )
        if offered.stores:
            found.append(
                schemas.Action(
                    action="choose_other_store",
                    label=t("Pick up at another store"),
                    stores=offered.stores,
                )
            )
        found.append(schemas.Action(action="cancel", label=t("Cancel and refund me in full")))
    if order.cancelled_at is None and returns.returnable_units(
        order, facts.returns, facts.policy, now
    ):
        found.append(schemas.Action(action="start_return", label=t("Return items")))
    return found


async def customer_status(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    *,
    language: str | None = None,
    clock: Clock = utc_now,
) -> schemas.CustomerStatus:
    """``GET /v1/orders/{id}/status``: in the order's language unless ``language`` says
    otherwise."""
    principal.require(READ)
    order = await repository.load(session, principal.tenant_id, order_id)
    return await build(session, order, clock(), language=language)
