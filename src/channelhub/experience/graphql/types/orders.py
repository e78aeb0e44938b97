"""Orders as agents and systems see them, and the part of an order its shopper sees."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.experimental import pydantic as from_pydantic
from strawberry.scalars import JSON
from strawberry.types import Info

from channelhub.experience.graphql.context import Context
from channelhub.experience.graphql.limits import DEFAULT_PAGE, page_request
from channelhub.experience.graphql.types.common import Money, PageInfo, render
from channelhub.experience.graphql.types.status import CustomerStatus
from channelhub.platform.db.pagination import encode_cursor
from channelhub.platform.i18n import negotiate
from channelhub.process.orders import schemas, service

STATUS = (
    "What the customer is told now: the same answer as `GET /v1/orders/{id}/status`. "
    "It weighs 3 in the cost estimate (an order waiting for a closure decision checks live "
    "stock)."
)
LANGUAGE_DESCRIPTION = (
    "Language of the texts (en, pt, es, it or cs); default: Accept-Language, then the order's."
)


@from_pydantic.type(model=schemas.Customer, all_fields=True, description="Who ordered.")
class Customer:
    pass


@from_pydantic.type(model=schemas.PostalAddress, all_fields=True, description="A postal address.")
class PostalAddress:
    pass


@from_pydantic.type(
    model=schemas.ExternalRef, all_fields=True, description="The order's id in another system."
)
class ExternalRef:
    pass


@from_pydantic.type(model=schemas.Line, description="What was bought: one line of an order.")
class Line:
    id: strawberry.ID
    group_id: strawberry.auto
    sku: strawberry.auto
    title: strawberry.auto
    quantity: strawberry.auto
    unit_price: Money
    discount: Money
    total: Money
    fulfilled_quantity: strawberry.auto
    returned_quantity: strawberry.auto


@from_pydantic.type(
    model=schemas.Group, description="How lines leave: shipped, or collected at a store."
)
class Group:
    id: strawberry.ID
    method: strawberry.auto
    location_id: strawberry.auto
    status: strawberry.auto
    reservation_id: strawberry.auto
    shipping_fee: Money
    shipping_waived: strawberry.auto


@from_pydantic.type(model=schemas.ItemRequest, name="Item", description="Units of one order line.")
class Item:
    line_id: strawberry.auto
    quantity: strawberry.auto


@from_pydantic.type(model=schemas.TrackingEvent, description="A carrier scan, normalised.")
class TrackingEvent:
    status: strawberry.auto
    occurred_at: datetime
    carrier_code: strawberry.auto
    carrier_text: strawberry.auto
    location: strawberry.auto


@from_pydantic.type(
    model=schemas.Shipment, description="Items that left with a carrier, with every scan."
)
class Shipment:
    id: strawberry.ID
    order_id: strawberry.auto
    group_id: strawberry.auto
    carrier: strawberry.auto
    service: strawberry.auto
    tracking_number: strawberry.auto
    tracking_url: strawberry.auto
    status: strawberry.auto
    carrier_status_code: strawberry.auto
    carrier_status_text: strawberry.auto
    estimated_delivery: strawberry.auto
    items: list[Item]
    events: list[TrackingEvent]
    created_at: strawberry.auto
    delivered_at: strawberry.auto


@from_pydantic.type(
    model=schemas.ReturnLabel, all_fields=True, description="The label of a return parcel."
)
class ReturnLabel:
    pass


@from_pydantic.type(model=schemas.Return, description="Items the customer sends back.")
class Return:
    id: strawberry.ID
    order_id: strawberry.auto
    status: strawberry.auto
    reason: strawberry.auto
    note: strawberry.auto
    items: list[Item]
    label: ReturnLabel | None
    requested_by: strawberry.auto
    created_at: strawberry.auto
    received_at: strawberry.auto


@from_pydantic.type(model=schemas.TimelineItem, description="Something that happened to an order.")
class TimelineItem:
    id: strawberry.ID
    at: strawberry.auto
    kind: strawberry.auto
    actor: strawberry.auto
    summary: strawberry.auto
    data: JSON


@strawberry.type(description="One timeline entry of a page, with its cursor.")
class TimelineEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this entry.")
    node: TimelineItem = strawberry.field(description="The entry.")


@strawberry.type(description="A page of an order's timeline, oldest first.")
class TimelineConnection:
    edges: list[TimelineEdge] = strawberry.field(description="The entries of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page ends.")


async def _status(
    info: Info[Context, None], tenant_id: str, order_id: str, language: str | None
) -> CustomerStatus:
    chosen = negotiate(language) if language else info.context.accept_language
    found = await info.context.loaders.status.load((tenant_id, order_id, chosen))
    return render(CustomerStatus, found)


@from_pydantic.type(
    model=schemas.Order,
    description="An order with its lines, fulfilment groups and totals, as "
    "`GET /v1/orders/{id}`; `status` is what the customer is told.",
)
class Order:
    id: strawberry.ID
    number: strawberry.auto
    sales_channel_id: strawberry.auto
    payment_status: strawberry.auto
    action_needed: strawberry.auto
    customer: strawberry.auto
    currency: strawberry.auto
    subtotal: Money
    shipping_total: Money
    discount_total: Money
    tax_total: Money
    total: Money
    refunded_total: Money
    lines: list[Line]
    groups: list[Group]
    external_ids: strawberry.auto
    shipping_address: strawberry.auto
    billing_address: strawberry.auto
    notes: strawberry.auto
    cancel_reason: strawberry.auto
    placed_at: strawberry.auto
    confirmed_at: strawberry.auto
    cancelled_at: strawberry.auto
    version: strawberry.auto
    created_at: strawberry.auto
    updated_at: strawberry.auto
    order_status: schemas.OrderStatus = strawberry.field(
        description="Where the order is in its state machine (`status` in the REST API)."
    )

    @strawberry.field(description=STATUS)
    async def status(
        self,
        info: Info[Context, None],
        language: Annotated[
            str | None, strawberry.argument(description=LANGUAGE_DESCRIPTION)
        ] = None,
    ) -> CustomerStatus:
        tenant_id = (await info.context.principal()).tenant_id
        return await _status(info, tenant_id, str(self.id), language)

    @strawberry.field(description="The order's shipments with every carrier scan, oldest first.")
    async def shipments(self, info: Info[Context, None]) -> list[Shipment]:
        tenant_id = (await info.context.principal()).tenant_id
        found = await info.context.loaders.shipments.load((tenant_id, str(self.id)))
        return [render(Shipment, shipment) for shipment in found]

    @strawberry.field(
        description="Everything that happened, oldest first: status changes, what the customer "
        "was told (and what was withheld, and why), choices, scans, returns."
    )
    async def timeline(
        self,
        info: Info[Context, None],
        first: Annotated[
            int, strawberry.argument(description="Entries per page (1-100).")
        ] = DEFAULT_PAGE,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="`endCursor` of the previous page; omit for the first."
            ),
        ] = None,
    ) -> TimelineConnection:
        page = page_request(first, after)
        principal = await info.context.principal()
        async with info.context.session() as session:
            found = await service.order_timeline(session, principal, str(self.id), page)
        return TimelineConnection(
            edges=[
                TimelineEdge(cursor=encode_cursor(item.id), node=render(TimelineItem, item))
                for item in found.items
            ],
            page_info=PageInfo(
                has_next_page=found.next_cursor is not None, end_cursor=found.next_cursor
            ),
        )


@strawberry.type(description="One order of a page, with its cursor.")
class OrderEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this order.")
    node: Order = strawberry.field(description="The order.")


@strawberry.type(description="A page of orders, newest first.")
class OrderConnection:
    edges: list[OrderEdge] = strawberry.field(description="The orders of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page ends.")


@from_pydantic.type(
    model=schemas.Order,
    name="CustomerOrder",
    description="The order as its shopper sees it: what they bought, what they paid, and "
    "what they are told now. Internal notes, external ids and the timeline are not shown.",
)
class CustomerOrder:
    id: strawberry.ID
    number: strawberry.auto
    currency: strawberry.auto
    subtotal: Money
    shipping_total: Money
    discount_total: Money
    tax_total: Money
    total: Money
    refunded_total: Money
    lines: list[Line]
    placed_at: strawberry.auto

    @strawberry.field(description=STATUS)
    async def status(
        self,
        info: Info[Context, None],
        language: Annotated[
            str | None, strawberry.argument(description=LANGUAGE_DESCRIPTION)
        ] = None,
    ) -> CustomerStatus:
        tenant_id = (await info.context.shopper()).principal.tenant_id
        return await _status(info, tenant_id, str(self.id), language)
