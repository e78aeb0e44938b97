"""Stores (locations) and whether they are open now."""

from __future__ import annotations

import strawberry
from strawberry.experimental import pydantic as from_pydantic
from strawberry.types import Info

from channelhub.experience.graphql.context import Context
from channelhub.experience.graphql.types.common import PageInfo, render
from channelhub.process.stores import schemas


@from_pydantic.type(
    model=schemas.TimeRange, all_fields=True, description="Opening range, local time."
)
class TimeRange:
    pass


@from_pydantic.type(
    model=schemas.StoreStatus, all_fields=True, description=schemas.StoreStatus.__doc__
)
class StoreStatus:
    pass


@from_pydantic.type(
    model=schemas.WeeklyHours, all_fields=True, description=schemas.WeeklyHours.__doc__
)
class WeeklyHours:
    pass


@from_pydantic.type(
    model=schemas.HoursException, all_fields=True, description=schemas.HoursException.__doc__
)
class HoursException:
    pass


@from_pydantic.type(
    model=schemas.OpeningHours, all_fields=True, description=schemas.OpeningHours.__doc__
)
class OpeningHours:
    pass


@from_pydantic.type(
    model=schemas.Address, all_fields=True, description="A location's postal address."
)
class StoreAddress:
    pass


@from_pydantic.type(
    model=schemas.ChannelLink, all_fields=True, description="A sales channel a location serves."
)
class ChannelLink:
    pass


@from_pydantic.type(
    model=schemas.Location, description="A warehouse or retail store, as `GET /v1/locations/{id}`."
)
class Store:
    id: strawberry.ID
    code: strawberry.auto
    name: strawberry.auto
    kind: strawberry.auto
    address: strawberry.auto
    latitude: strawberry.auto
    longitude: strawberry.auto
    timezone: strawberry.auto
    ships: strawberry.auto
    pickup: strawberry.auto
    active: strawberry.auto
    channels: strawberry.auto
    hours: strawberry.auto
    closed_reason: strawberry.auto
    closed_since: strawberry.auto
    reopens_at: strawberry.auto
    created_at: strawberry.auto
    updated_at: strawberry.auto

    @strawberry.field(
        description="Whether the store is open now (by its hours, holidays and any temporary "
        "closure) and when that changes next; as `GET /v1/locations/{id}/status`."
    )
    async def status(self, info: Info[Context, None]) -> StoreStatus:
        tenant_id = (await info.context.principal()).tenant_id
        found = await info.context.loaders.store_status.load((tenant_id, str(self.id)))
        return render(StoreStatus, found)


@strawberry.type(description="One store of a page, with its cursor.")
class StoreEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this store.")
    node: Store = strawberry.field(description="The store.")


@strawberry.type(description="A page of stores, newest first.")
class StoreConnection:
    edges: list[StoreEdge] = strawberry.field(description="The stores of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page ends.")
