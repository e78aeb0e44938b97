"""What every storefront connector does with an order, once it has read it.

A connector turns its platform's order into a ``StoreOrder``; this module records it once
(by the connection's external id), keeps it current (an update older than the last applied
one changes nothing), cancels it when the platform did, and ships what the platform
shipped. Storefront orders already exist: missing stock never refuses one, it is recorded
and flagged ``stock_short`` for the merchant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.inbox.processor import Park
from channelhub.process.connections.service import ConnectionContext
from channelhub.process.orders import fulfilment, repository, returns
from channelhub.process.orders import schemas as orders
from channelhub.process.orders import service as order_service


@dataclass(frozen=True)
class StoreLine:
    sku: str
    quantity: int
    unit_price: int
    title: str
    external_id: str = ""


@dataclass(frozen=True)
class StoreOrder:
    external_id: str
    number: str
    email: str
    currency: str
    lines: Sequence[StoreLine]
    total: int
    shipping: int = 0
    discount: int = 0
    payment_status: orders.PaymentStatus = orders.PaymentStatus.pending
    confirmed: bool = False
    cancelled: bool = False
    cancel_reason: str = ""
    phone: str = ""
    name: str = ""
    language: str = "en"
    shipping_address: orders.PostalAddress | None = None
    billing_address: orders.PostalAddress | None = None
    placed_at: datetime | None = None
    updated_at: datetime | None = None
    notes: str = ""


@dataclass(frozen=True)
class StoreShipment:
    external_id: str
    carrier: str
    tracking_number: str
    tracking_url: str = ""
    items: dict[str, int] = field(default_factory=dict)
    """Units per SKU; empty: everything still to ship."""
    estimated_delivery: date | None = None


@dataclass(frozen=True)
class AddressKeys:
    """Where a platform keeps the parts of a postal address that it names its own way."""

    line1: str
    line2: str
    postal_code: str
    region: str
    country: str


def postal_address(
    data: Mapping[str, Any] | None, keys: AddressKeys
) -> orders.PostalAddress | None:
    """The address, or None when it has no street or city (a digital order's)."""
    if not data or not data.get(keys.line1) or not data.get("city"):
        return None
    name = data.get("name") or f"{data.get('first_name') or ''} {data.get('last_name') or ''}"
    return orders.PostalAddress(
        name=str(name).strip()[:200],
        line1=str(data[keys.line1])[:200],
        line2=str(data.get(keys.line2) or "")[:200],
        city=str(data["city"])[:100],
        postal_code=str(data.get(keys.postal_code) or "")[:20],
        region=str(data.get(keys.region) or "")[:100],
        country=str(data.get(keys.country) or "")[:2].upper(),
        phone=str(data.get("phone") or "")[:32],
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
    )


def ref(ctx: ConnectionContext) -> str:
    """The external-id system of this connection: two shops of one platform never mix."""
    return f"{ctx.system.value}:{ctx.id}"


def _create(ctx: ConnectionContext, order: StoreOrder) -> orders.OrderCreate:
    assert ctx.sales_channel_id is not None
    subtotal = sum(line.quantity * line.unit_price for line in order.lines)
    # Whatever the storefront's total holds beyond lines - discounts + shipping is tax
    # (prices without tax); a total below that means prices included tax and a discount.
    tax = order.total - (subtotal - order.discount + order.shipping)
    discount = order.discount + max(0, -tax)
    return orders.OrderCreate(
        number=f"{ctx.order_number_prefix}{order.number.lstrip('#')}",
        sales_channel_id=ctx.sales_channel_id,
        external_ids=[orders.ExternalRef(system=ref(ctx), id=order.external_id)],
        customer=orders.Customer(
            email=order.email,
            phone=order.phone[:32],
            name=order.name[:200],
            language=order.language or "en",
        ),
        currency=order.currency,
        groups=[orders.GroupRequest(method=orders.Method.ship, shipping_fee=order.shipping)],
        lines=[
            orders.LineRequest(
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                title=line.title[:300] or None,
            )
            for line in order.lines
        ],
        discount_total=discount,
        tax_total=max(0, tax),
        payment_status=order.payment_status,
        confirmed=order.confirmed,
        shipping_address=order.shipping_address,
        billing_address=order.billing_address,
        notes=order.notes,
        placed_at=order.placed_at,
        backorder=True,
    )


async def record_order(session: AsyncSession, ctx: ConnectionContext, order: StoreOrder) -> str:
    """Record the order, or bring the recorded one up to date; returns what happened."""
    principal = ctx.principal
    known = await repository.by_external_ids(
        session, ctx.tenant_id, [orders.ExternalRef(system=ref(ctx), id=order.external_id)]
    )
    if known is None:
        created, _ = await order_service.create_order(session, principal, _create(ctx, order))
        what = f"order {created.number} recorded"
        order_id = created.id
    else:
        order_id = known.id
        if (
            order.updated_at is not None
            and known.source_updated_at is not None
            and order.updated_at <= known.source_updated_at
        ):
            return f"order {known.number}: update of {order.updated_at} is older; ignored"
        await order_service.update_order(
            session,
            principal,
            known.id,
            orders.OrderUpdate(
                payment_status=order.payment_status,
                source_updated_at=order.updated_at,
            ),
        )
        what = f"order {known.number} updated"
        if order.confirmed and known.confirmed_at is None and known.cancelled_at is None:
            await order_service.confirm_order(session, principal, known.id)
            what += ", confirmed"
    if order.cancelled:
        await order_service.cancel_order(
            session, principal, order_id, order.cancel_reason or "cancelled in the storefront"
        )
        what += ", cancelled"
    return what


async def record_shipments(
    session: AsyncSession,
    ctx: ConnectionContext,
    order_external_id: str,
    shipments: Sequence[StoreShipment],
) -> str:
    """Ship what the storefront shipped, once per storefront shipment."""
    known = await repository.by_external_ids(
        session, ctx.tenant_id, [orders.ExternalRef(system=ref(ctx), id=order_external_id)]
    )
    if known is None:
        raise Park(f"order {order_external_id} is not known yet (its creation may be late)")
    existing = {
        s.tracking_number
        for s, _ in await repository.shipments(session, known.id)
        if s.tracking_number
    }
    made = []
    for shipment in shipments:
        if shipment.tracking_number and shipment.tracking_number in existing:
            continue
        groups = [g for g in known.groups if g.method == orders.Method.ship.value]
        if not groups:
            continue
        items = None
        if shipment.items:
            by_sku = {line.sku: line for line in known.lines}
            items = [
                orders.ItemRequest(line_id=by_sku[sku].id, quantity=quantity)
                for sku, quantity in shipment.items.items()
                if sku in by_sku
            ] or None
        created = await fulfilment.create_shipment(
            session,
            ctx.principal,
            known.id,
            orders.ShipmentCreate(
                group_id=groups[0].id,
                carrier=shipment.carrier[:64] or "unknown",
                tracking_number=shipment.tracking_number[:100],
                tracking_url=shipment.tracking_url[:1000]
                if shipment.tracking_url.startswith("http")
                else "",
                estimated_delivery=shipment.estimated_delivery,
                items=items,
            ),
        )
        made.append(created.id)
        known = await repository.load(session, ctx.tenant_id, known.id)
    return f"order {known.number}: {len(made)} shipment(s) recorded"


def _url(value: str) -> str:
    """A tracking URL we can link to, or nothing."""
    return value[:1000] if value.startswith(("http://", "https://")) else ""


async def record_refund(
    session: AsyncSession,
    ctx: ConnectionContext,
    order_external_id: str,
    amount: int,
    reason: str,
) -> str:
    known = await repository.by_external_ids(
        session, ctx.tenant_id, [orders.ExternalRef(system=ref(ctx), id=order_external_id)]
    )
    if known is None:
        raise Park(f"order {order_external_id} is not known yet (its creation may be late)")
    refund = await returns.refund(
        session,
        ctx.principal,
        known.id,
        orders.RefundCreate(amount=amount, reason=reason[:500] or "refunded in the storefront"),
    )
    return f"order {known.number}: refund of {refund.amount.amount} {refund.amount.currency}"
