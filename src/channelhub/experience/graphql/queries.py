"""The read side: orders, a shopper's order, stores and availability."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from channelhub.experience.graphql.context import Context
from channelhub.experience.graphql.limits import DEFAULT_PAGE, page_request
from channelhub.experience.graphql.types.common import PageInfo, render
from channelhub.experience.graphql.types.inventory import Availability
from channelhub.experience.graphql.types.orders import (
    CustomerOrder,
    Order,
    OrderConnection,
    OrderEdge,
)
from channelhub.experience.graphql.types.stores import Store, StoreConnection, StoreEdge
from channelhub.platform.db.pagination import encode_cursor
from channelhub.platform.errors import InvalidError
from channelhub.process.inventory import availability as atp
from channelhub.process.orders import schemas, service
from channelhub.process.stores import service as stores

FIRST = "Items per page (1-100)."
AFTER = "`endCursor` of the previous page; omit for the first."
MAX_RADIUS_KM = 1000.0


def page_info(next_cursor: str | None) -> PageInfo:
    return PageInfo(has_next_page=next_cursor is not None, end_cursor=next_cursor)


@strawberry.type(
    description="Reads. Every field needs an API key (Authorization: Bearer) "
    "with the scope it names, except `myOrder`, which needs an X-Order-Token."
)
class Query:
    @strawberry.field(description="One order. Needs `orders:read`.")
    async def order(self, info: Info[Context, None], id: strawberry.ID) -> Order | None:
        principal = await info.context.principal()
        async with info.context.session() as session:
            found = await service.get_order(session, principal, str(id))
        return render(Order, found, order_status=found.status)

    @strawberry.field(description="Orders newest first, a page at a time. Needs `orders:read`.")
    async def orders(
        self,
        info: Info[Context, None],
        first: Annotated[int, strawberry.argument(description=FIRST)] = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        status: Annotated[
            schemas.OrderStatus | None,
            strawberry.argument(description="Only orders in this state."),
        ] = None,
        action_needed: Annotated[
            bool | None,
            strawberry.argument(
                description="true: only orders waiting for a decision; false: only the others."
            ),
        ] = None,
        email: Annotated[
            str | None, strawberry.argument(description="Only this customer's orders.")
        ] = None,
    ) -> OrderConnection | None:
        page = page_request(first, after)
        principal = await info.context.principal()
        async with info.context.session() as session:
            found = await service.list_orders(
                session, principal, page, status=status, action_needed=action_needed, email=email
            )
        return OrderConnection(
            edges=[
                OrderEdge(
                    cursor=encode_cursor(order.id),
                    node=render(Order, order, order_status=order.status),
                )
                for order in found.items
            ],
            page_info=page_info(found.next_cursor),
        )

    @strawberry.field(
        description="The shopper's own order, named by the `X-Order-Token` header (the token "
        "of a self-service look-up or of the link in a message about the order)."
    )
    async def my_order(self, info: Info[Context, None]) -> CustomerOrder | None:
        shopper = await info.context.shopper()
        async with info.context.session() as session:
            found = await service.get_order(session, shopper.principal, shopper.order_id)
        return render(CustomerOrder, found)

    @strawberry.field(description="One store or warehouse. Needs `stores:read`.")
    async def store(self, info: Info[Context, None], id: strawberry.ID) -> Store | None:
        principal = await info.context.principal()
        async with info.context.session() as session:
            found = await stores.get_location(session, principal, str(id))
        return render(Store, found)

    @strawberry.field(
        description="Stores and warehouses newest first, a page at a time. Needs `stores:read`."
    )
    async def stores(
        self,
        info: Info[Context, None],
        first: Annotated[int, strawberry.argument(description=FIRST)] = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> StoreConnection | None:
        page = page_request(first, after)
        principal = await info.context.principal()
        async with info.context.session() as session:
            found = await stores.list_locations(session, principal, page)
        return StoreConnection(
            edges=[
                StoreEdge(cursor=encode_cursor(store.id), node=render(Store, store))
                for store in found.items
            ],
            page_info=page_info(found.next_cursor),
        )

    @strawberry.field(
        description="For each SKU in the channel: units available to ship, each location's "
        "ATP in allocation order, and, with latitude and longitude, pickup stores within "
        "radiusKm, nearest first; as `GET /v1/availability`. Needs `inventory:read`."
    )
    async def availability(
        self,
        info: Info[Context, None],
        skus: Annotated[list[str], strawberry.argument(description="1 to 100 SKUs.")],
        sales_channel_id: Annotated[
            strawberry.ID, strawberry.argument(description="The channel asking (sch_...).")
        ],
        latitude: Annotated[
            float | None, strawberry.argument(description="Find pickup stores near this point.")
        ] = None,
        longitude: Annotated[
            float | None, strawberry.argument(description="Longitude of that point.")
        ] = None,
        radius_km: Annotated[
            float,
            strawberry.argument(description="How far to look for pickup stores (up to 1000 km)."),
        ] = 50.0,
    ) -> list[Availability] | None:
        near = atp.near_point(latitude, longitude)
        if not 0 < radius_km <= MAX_RADIUS_KM:
            raise InvalidError(
                f"radiusKm must be over 0 and at most {MAX_RADIUS_KM:g}", field="radius_km"
            )
        principal = await info.context.principal()
        async with info.context.session() as session:
            found = await atp.availability(
                session, principal, skus, str(sales_channel_id), near=near, radius_km=radius_km
            )
        return [render(Availability, item) for item in found]
