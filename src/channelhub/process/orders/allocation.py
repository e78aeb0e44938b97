"""Stock for fulfilment groups, through the inventory context's reservations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.ids import new_id
from channelhub.process.inventory import reservations
from channelhub.process.inventory import schemas as inventory
from channelhub.process.orders.models import FulfilmentGroup, Order, OrderLine


async def reserve(
    session: AsyncSession,
    principal: Principal,
    order: Order,
    group: FulfilmentGroup,
    lines: Sequence[OrderLine],
) -> str:
    """Hold the group's units until it leaves (no expiry): at its pickup store, or from
    the channel's shipping locations (nearest to the address when it has coordinates).
    Raises InsufficientStock naming the SKU; the caller's transaction then undoes all."""
    quantities = Counter[str]()
    for line in lines:
        quantities[line.sku] += line.quantity
    address = order.shipping_address or {}
    near = None
    if address.get("latitude") is not None and address.get("longitude") is not None:
        near = inventory.Point(latitude=address["latitude"], longitude=address["longitude"])
    pickup = group.method == "pickup"
    request = inventory.ReservationCreate(
        key=f"{order.number}/{group.id}/{new_id('rk')}",
        reference=order.number,
        sales_channel_id=order.sales_channel_id,
        fulfilment=inventory.Fulfilment.pickup if pickup else inventory.Fulfilment.ship,
        location=group.location_id if pickup else None,
        strategy=inventory.Strategy.nearest if near and not pickup else inventory.Strategy.priority,
        deliver_to=None if pickup else near,
        ttl_seconds=None,
        lines=[
            inventory.ReservationLineRequest(sku=sku, quantity=quantity)
            for sku, quantity in sorted(quantities.items())
        ],
    )
    held, _ = await reservations.reserve(session, principal.elevated(), request)
    return held.id


async def release(session: AsyncSession, principal: Principal, group: FulfilmentGroup) -> None:
    """Give the group's held units back (cancelled, or re-routed elsewhere)."""
    if group.reservation_id is not None:
        await reservations.finish(
            session,
            principal.elevated(),
            group.reservation_id,
            inventory.ReservationStatus.released,
        )
        group.reservation_id = None


async def commit(session: AsyncSession, principal: Principal, group: FulfilmentGroup) -> None:
    """The group's units left the building: they leave on hand."""
    if group.reservation_id is not None:
        await reservations.finish(
            session,
            principal.elevated(),
            group.reservation_id,
            inventory.ReservationStatus.committed,
        )
