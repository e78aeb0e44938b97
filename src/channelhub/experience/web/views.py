"""What the portal's pages show, gathered from the process layer in one read session each.

The order page is ``CustomerStatus`` (the answer every channel gives) plus, when a return
may be started, the lines and units the returns service says can go back. The store finder
shows each store with ``store_status``, the one "open now?" answer of the stores context.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.experience.web.rendering import WEEKDAYS
from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import utc_now
from channelhub.platform.db.pagination import PageRequest
from channelhub.process.orders import repository, returns, schemas, status, views
from channelhub.process.stores import schemas as store_schemas
from channelhub.process.stores import service as stores
from channelhub.process.stores.models import Location

STORES_PER_PAGE = 50


@dataclass(frozen=True)
class ReturnableLine:
    line_id: str
    title: str
    most: int
    """Units that may be returned now."""


@dataclass(frozen=True)
class OrderView:
    status: schemas.CustomerStatus
    returnable: list[ReturnableLine]

    @property
    def version(self) -> str:
        """Changes whenever what the page shows about the order changes (the live
        updates compare it)."""
        parts = [self.status.model_dump_json()] + [
            f"{line.line_id}:{line.most}" for line in self.returnable
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]

    def action(self, name: str) -> schemas.Action | None:
        return next((a for a in self.status.actions if a.action == name), None)

    @property
    def closure_actions(self) -> list[schemas.Action]:
        choices = ("choose_ship_home", "choose_other_store", "cancel")
        return [a for a in self.status.actions if a.action in choices]


async def order_view(
    session: AsyncSession, principal: Principal, order_id: str, language: str | None
) -> OrderView:
    found = await status.customer_status(session, principal, order_id, language=language)
    lines: list[ReturnableLine] = []
    if any(a.action == "start_return" for a in found.actions):
        row = await repository.load(session, principal.tenant_id, order_id)
        allowed = await returns.returnable(session, row, utc_now())
        lines = [
            ReturnableLine(line.id, line.title, allowed[line.id])
            for line in views.order(row).lines
            if line.id in allowed
        ]
    return OrderView(found, lines)


@dataclass(frozen=True)
class StoreEntry:
    name: str
    address: str
    pickup: bool
    status: store_schemas.StoreStatus
    week: list[tuple[str, list[store_schemas.TimeRange]]] | None
    """(weekday, opening ranges) Monday first; None when the store published no hours."""


@dataclass(frozen=True)
class StoreList:
    stores: list[StoreEntry]
    next_cursor: str | None


def _entry(location: Location, status: store_schemas.StoreStatus) -> StoreEntry:
    parts = [location.address_line1, location.address_line2, location.postal_code, location.city]
    hours = stores.opening_hours(location)
    week = None if hours is None else [(day, getattr(hours.weekly, day)) for day in WEEKDAYS]
    return StoreEntry(
        name=location.name,
        address=", ".join(part for part in parts if part),
        pickup=location.pickup,
        status=status,
        week=week,
    )


async def store_list(session: AsyncSession, tenant_id: str, page: PageRequest) -> StoreList:
    """The tenant's active stores (warehouses are not for shoppers), a page at a time."""
    found = await stores.stores_with_status(session, tenant_id, page, utc_now(), active_only=True)
    return StoreList([_entry(*item) for item in found.items], found.next_cursor)
