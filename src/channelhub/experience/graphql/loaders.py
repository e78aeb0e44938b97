"""DataLoaders: what a list of N orders or stores needs per item, fetched for all N at once.

Each loader collects the keys its resolvers ask for while one level of the query is being
resolved, then answers them together. Keys carry the tenant: the resolver that produced the
order or store has already checked that the caller may see it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from strawberry.dataloader import DataLoader

from channelhub.process.orders import repository, schemas, status, views
from channelhub.process.orders.models import Order, Shipment, TrackingEvent
from channelhub.process.stores import service as stores
from channelhub.process.stores.repository import LocationRepository
from channelhub.process.stores.schemas import StoreStatus

OrderKey = tuple[str, str]
"""(tenant id, order id)."""
StatusKey = tuple[str, str, str | None]
"""(tenant id, order id, language or None for the order's own)."""
LocationKey = tuple[str, str]
"""(tenant id, location id)."""

SessionScope = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _by_tenant(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Ids grouped by the tenant they belong to."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for tenant_id, id_ in pairs:
        grouped[tenant_id].append(id_)
    return grouped


class Loaders:
    """The DataLoaders of one request (a loader caches, so it never outlives a request)."""

    def __init__(self, session: SessionScope, now: datetime) -> None:
        self._session = session
        self._now = now
        self.status = DataLoader[StatusKey, schemas.CustomerStatus](load_fn=self._statuses)
        self.shipments = DataLoader[OrderKey, list[schemas.Shipment]](load_fn=self._shipments)
        self.store_status = DataLoader[LocationKey, StoreStatus](load_fn=self._store_statuses)

    async def _statuses(
        self, keys: Sequence[StatusKey]
    ) -> list[schemas.CustomerStatus | BaseException]:
        """The orders are loaded together, and ``status.build_many`` (the one place the
        customer status is decided) loads what it needs for all of them at once."""
        async with self._session() as session:
            loaded: dict[str, Order] = {}
            for tenant_id, order_ids in _by_tenant((t, o) for t, o, _ in keys).items():
                statement = repository.whole().where(
                    Order.tenant_id == tenant_id, Order.id.in_(order_ids)
                )
                loaded.update((row.id, row) for row in await session.scalars(statement))
            decided: dict[tuple[str, str | None], schemas.CustomerStatus] = {}
            for language in {language for _, _, language in keys}:
                wanted = [loaded[o] for _, o, lang in keys if lang == language and o in loaded]
                built = await status.build_many(session, wanted, self._now, language=language)
                decided.update(
                    ((order.id, language), s) for order, s in zip(wanted, built, strict=True)
                )
        return [
            decided.get((order_id, language)) or repository.OrderNotFound(f"no order {order_id!r}")
            for _, order_id, language in keys
        ]

    async def _shipments(self, keys: Sequence[OrderKey]) -> list[list[schemas.Shipment]]:
        """Every shipment of the orders with their scans, in two statements (plus one for
        the shipments' items), oldest first as the REST API lists them."""
        async with self._session() as session:
            found: list[Shipment] = []
            for tenant_id, order_ids in _by_tenant(keys).items():
                statement = (
                    select(Shipment)
                    .options(selectinload(Shipment.items))
                    .where(Shipment.tenant_id == tenant_id, Shipment.order_id.in_(order_ids))
                    .order_by(Shipment.id)
                )
                found.extend(await session.scalars(statement))
            events: dict[str, list[TrackingEvent]] = defaultdict(list)
            if found:
                scans = await session.scalars(
                    select(TrackingEvent)
                    .where(TrackingEvent.shipment_id.in_([s.id for s in found]))
                    .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
                )
                for scan in scans:
                    events[scan.shipment_id].append(scan)
        per_order: dict[str, list[schemas.Shipment]] = defaultdict(list)
        for shipment in found:
            per_order[shipment.order_id].append(views.shipment(shipment, events[shipment.id]))
        return [per_order[order_id] for _, order_id in keys]

    async def _store_statuses(
        self, keys: Sequence[LocationKey]
    ) -> list[StoreStatus | BaseException]:
        """Whether each store is open now, as ``stores.store_status`` decides it."""
        async with self._session() as session:
            found = {}
            for tenant_id, location_ids in _by_tenant(keys).items():
                found.update(await LocationRepository(session, tenant_id).by_ids(location_ids))
        return [
            stores.store_status(found[location_id], self._now)
            if location_id in found
            else stores.LocationNotFound(f"no location {location_id!r}")
            for _, location_id in keys
        ]
