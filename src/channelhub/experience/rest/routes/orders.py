"""Orders, fulfilment, shipments, the order-status API, closures, returns and refunds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field

from channelhub.experience.rest.deps import (
    IfMatchDep,
    PageDep,
    PrincipalDep,
    SessionDep,
    get_hub,
    idempotent,
    not_modified,
    version_etag,
)
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.experience.rest.tokens import ORDER_LINK_MAX_AGE, sign_order
from channelhub.platform.clock import utc_now
from channelhub.platform.i18n import negotiate
from channelhub.process.orders import (
    closures,
    fulfilment,
    returns,
    schemas,
    service,
    status,
)
from channelhub.process.orders import repository as orders_repository

router = APIRouter(prefix="/v1", tags=["orders"])

OrderId = Annotated[str, Path(description="Order id (ord_...).")]
GroupId = Annotated[str, Path(description="Fulfilment group id (ful_...).")]
ShipmentId = Annotated[str, Path(description="Shipment id (shp_...).")]
ReturnId = Annotated[str, Path(description="Return id (ret_...).")]
Lang = Annotated[
    str | None,
    Query(description="Language of the texts (en, pt, es, it, cs); default: the order's."),
]


def _with_etag(response: Response, order: schemas.Order) -> schemas.Order:
    response.headers["ETag"] = version_etag(order.version)
    return order


@router.post(
    "/orders",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Create an order",
)
async def create_order(
    data: schemas.OrderCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> schemas.Order:
    """Record an order and reserve its stock, all or nothing: an unknown SKU is 422 naming
    the line, missing stock is 409 `insufficient_stock` naming the SKU. An order already
    known by one of its `external_ids` is returned as it is (200), never recorded twice.
    Emits `order.created` (and `order.confirmed` with `confirmed: true`). Needs
    `orders:write`."""
    order, created = await service.create_order(session, principal, data)
    response.headers["Location"] = f"/v1/orders/{order.id}"
    if not created:
        response.status_code = 200
    return _with_etag(response, order)


@router.get("/orders", responses=READ_ERRORS, summary="List orders")
async def list_orders(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    status_: Annotated[
        schemas.OrderStatus | None, Query(alias="status", description="Only this status.")
    ] = None,
    action_needed: Annotated[
        bool | None, Query(description="true: only orders waiting for a decision.")
    ] = None,
    email: Annotated[str | None, Query(description="Only this customer's orders.")] = None,
) -> ListResponse[schemas.Order]:
    """Orders newest first. Needs `orders:read`."""
    found = await service.list_orders(
        session, principal, page, status=status_, action_needed=action_needed, email=email
    )
    return ListResponse.of(found)


@router.get(
    "/orders/{order_id}",
    response_model=schemas.Order,
    responses={**READ_ERRORS, 304: {"description": "Not modified since the ETag you sent."}},
    summary="Get an order",
)
async def get_order(
    order_id: OrderId,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.Order | Response:
    """One order with its lines and fulfilment groups; the ETag is its version. Needs
    `orders:read`."""
    order = await service.get_order(session, principal, order_id)
    etag = version_etag(order.version)
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return _with_etag(response, order)


@router.patch("/orders/{order_id}", responses=WRITE_ERRORS, summary="Update an order")
async def update_order(
    order_id: OrderId,
    data: schemas.OrderUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    expected_version: IfMatchDep,
    response: Response,
) -> schemas.Order:
    """Change contact details, addresses (not after items shipped), notes, payment status,
    or add external ids. An update with a `source_updated_at` older than the last applied
    one changes nothing. Emits `order.updated`. Needs `orders:write`."""
    order = await service.update_order(
        session, principal, order_id, data, expected_version=expected_version
    )
    return _with_etag(response, order)


@router.post("/orders/{order_id}/confirm", responses=WRITE_ERRORS, summary="Confirm an order")
async def confirm_order(
    order_id: OrderId, session: SessionDep, principal: PrincipalDep
) -> schemas.Order:
    """Accept a placed order for preparation. Emits `order.confirmed`. Needs
    `orders:write`."""
    return await service.confirm_order(session, principal, order_id)


@router.post("/orders/{order_id}/cancel", responses=WRITE_ERRORS, summary="Cancel an order")
async def cancel_order(
    order_id: OrderId, data: schemas.CancelRequest, session: SessionDep, principal: PrincipalDep
) -> schemas.Order:
    """Cancel an order none of whose items has left (409 `impossible_transition`
    otherwise): stock is released and the amount paid refunded in full. Emits
    `order.cancelled`. Needs `orders:write`."""
    return await service.cancel_order(session, principal, order_id, data.reason)


@router.post(
    "/orders/{order_id}/groups/{group_id}/ready-for-pickup",
    responses=WRITE_ERRORS,
    summary="Mark ready for pickup",
)
async def ready_for_pickup(
    order_id: OrderId, group_id: GroupId, session: SessionDep, principal: PrincipalDep
) -> schemas.Order:
    """The store has a pickup group's items ready; the customer is to be told. Refused
    while the order waits for a decision (its store closed). Emits
    `order.ready_for_pickup`. Needs `orders:write`."""
    return await fulfilment.mark_ready_for_pickup(session, principal, order_id, group_id)


@router.post(
    "/orders/{order_id}/groups/{group_id}/picked-up",
    responses=WRITE_ERRORS,
    summary="Mark picked up",
)
async def picked_up(
    order_id: OrderId, group_id: GroupId, session: SessionDep, principal: PrincipalDep
) -> schemas.Order:
    """The customer collected a pickup group; its units leave on hand. Emits
    `order.picked_up`. Needs `orders:write`."""
    return await fulfilment.mark_picked_up(session, principal, order_id, group_id)


@router.post(
    "/orders/{order_id}/shipments",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Ship items",
)
async def create_shipment(
    order_id: OrderId,
    data: schemas.ShipmentCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.Shipment:
    """Items of a ship group left with a carrier (by default everything left in the
    group). Shipping more than is left is 422 naming the item. Emits `shipment.created`.
    Needs `orders:write`."""
    shipment = await fulfilment.create_shipment(session, principal, order_id, data)
    response.headers["Location"] = f"/v1/shipments/{shipment.id}"
    return shipment


@router.get("/orders/{order_id}/shipments", responses=READ_ERRORS, summary="List shipments")
async def list_shipments(
    order_id: OrderId, session: SessionDep, principal: PrincipalDep
) -> list[schemas.Shipment]:
    """The order's shipments with their scans, oldest first. Needs `orders:read`."""
    return await fulfilment.list_shipments(session, principal, order_id)


@router.get("/shipments/{shipment_id}", responses=READ_ERRORS, summary="Get a shipment")
async def get_shipment(
    shipment_id: ShipmentId, session: SessionDep, principal: PrincipalDep
) -> schemas.Shipment:
    """One shipment with its carrier scans. Needs `orders:read`."""
    return await fulfilment.get_shipment(session, principal, shipment_id)


@router.post(
    "/shipments/{shipment_id}/tracking-events",
    responses=WRITE_ERRORS,
    summary="Record a carrier scan",
)
async def add_tracking_event(
    shipment_id: ShipmentId,
    data: schemas.TrackingEventCreate,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Shipment:
    """A tracking event in the normalised vocabulary, with the carrier's own code and
    words. A scan older than the latest one is kept in the history but does not change
    the status; the same scan twice is recorded once. Emits `shipment.<status>` when the
    status changes. Needs `orders:write`."""
    return await fulfilment.add_tracking_event(session, principal, shipment_id, data)


@router.get("/orders/{order_id}/status", responses=READ_ERRORS, summary="Customer-facing status")
async def order_status(
    order_id: OrderId,
    session: SessionDep,
    principal: PrincipalDep,
    lang: Lang = None,
    accept_language: Annotated[str | None, Header(description="Used when lang is absent.")] = None,
) -> schemas.CustomerStatus:
    """What to tell the customer now: status code, headline and next step in their
    language, ETA, tracking, the pickup store's state and the actions they may take. Every
    channel renders this one answer. Needs `orders:read`."""
    language = negotiate(lang) if lang else None
    if language is None and accept_language:
        language = negotiate(accept_language)
    return await status.customer_status(session, principal, order_id, language=language)


@router.get("/orders/{order_id}/timeline", responses=READ_ERRORS, summary="Order timeline")
async def order_timeline(
    order_id: OrderId, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.TimelineItem]:
    """Everything that happened, oldest first: status changes, what the customer was to be
    told (and what was withheld, and why), choices, scans, returns. Needs `orders:read`."""
    return ListResponse.of(await service.order_timeline(session, principal, order_id, page))


@router.post(
    "/orders/{order_id}/closure-choice",
    responses=WRITE_ERRORS,
    summary="Choose after a store closed",
)
async def closure_choice(
    order_id: OrderId, data: schemas.ClosureChoice, session: SessionDep, principal: PrincipalDep
) -> schemas.Order:
    """For an order whose pickup store closed: ship home (free), pick up at another
    offered store, or cancel with a full refund. An option not offered now is 409
    `option_unavailable`; an order waiting for no such decision is 409
    `no_choice_pending`. Emits `order.closure_option_chosen`. Needs `orders:write`."""
    return await closures.choose(session, principal, order_id, data)


@router.post(
    "/orders/{order_id}/returns",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Request a return",
)
async def request_return(
    order_id: OrderId,
    data: schemas.ReturnCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.Return:
    """Ask to return items that reached the customer, within the return window. More than
    can be returned is 422 naming the item. Emits `return.requested`. Needs
    `orders:write`."""
    created = await returns.request_return(session, principal, order_id, data)
    response.headers["Location"] = f"/v1/returns/{created.id}"
    return created


@router.get("/orders/{order_id}/returns", responses=READ_ERRORS, summary="List returns")
async def list_returns(
    order_id: OrderId, session: SessionDep, principal: PrincipalDep
) -> list[schemas.Return]:
    """The order's returns, oldest first. Needs `orders:read`."""
    return await returns.list_returns(session, principal, order_id)


@router.get("/returns/{return_id}", responses=READ_ERRORS, summary="Get a return")
async def get_return(
    return_id: ReturnId, session: SessionDep, principal: PrincipalDep
) -> schemas.Return:
    """One return. Needs `orders:read`."""
    return await returns.get_return(session, principal, return_id)


class ReturnNote(BaseModel):
    note: str = Field("", max_length=500, description="Why (goes on the timeline).")


def _return_action(action: str, summary: str, description: str) -> None:
    async def endpoint(
        return_id: ReturnId,
        session: SessionDep,
        principal: PrincipalDep,
        data: ReturnNote | None = None,
    ) -> schemas.Return:
        note = data.note if data is not None else ""
        return await returns.move_return(session, principal, return_id, action, note=note)

    endpoint.__doc__ = description
    router.add_api_route(
        f"/returns/{{return_id}}/{action}",
        endpoint,
        methods=["POST"],
        responses=WRITE_ERRORS,
        summary=summary,
        name=f"{action}_return",
    )


_return_action("approve", "Approve a return", "Accept a requested return. Emits `return.approved`.")
_return_action("reject", "Reject a return", "Refuse a requested return. Emits `return.rejected`.")
_return_action("cancel", "Cancel a return", "Withdraw a return that has not arrived.")
_return_action(
    "receive",
    "Receive a return",
    "The returned items arrived: they count as returned on the order, and the customer is "
    "to be told. Emits `return.received`.",
)


@router.post("/returns/{return_id}/label", responses=WRITE_ERRORS, summary="Attach a label")
async def return_label(
    return_id: ReturnId, data: schemas.ReturnLabel, session: SessionDep, principal: PrincipalDep
) -> schemas.Return:
    """The return label of an approved return. Emits `return.label_created`. Needs
    `orders:write`."""
    return await returns.add_label(session, principal, return_id, data)


@router.post(
    "/orders/{order_id}/refunds",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Refund",
)
async def refund(
    order_id: OrderId, data: schemas.RefundCreate, session: SessionDep, principal: PrincipalDep
) -> schemas.Refund:
    """Pay back `amount` (default: everything paid and not refunded yet); more than that
    is 422. Emits `refund.issued`. Needs `orders:write`. Send `Idempotency-Key`."""
    return await returns.refund(session, principal, order_id, data)


class CustomerLink(BaseModel):
    token: str = Field(description="Send as X-Order-Token to the self-service API.")
    expires_at: datetime = Field(description="When the token stops working (UTC).")


@router.post(
    "/orders/{order_id}/customer-link", responses=WRITE_ERRORS, summary="Customer link token"
)
async def customer_link(
    order_id: OrderId, request: Request, session: SessionDep, principal: PrincipalDep
) -> CustomerLink:
    """A signed token that lets the customer see and act on this order in the
    self-service API and portal without logging in (valid 30 days). Needs
    `orders:write`."""
    principal.require(service.WRITE)
    order = await orders_repository.load(session, principal.tenant_id, order_id)
    token = await sign_order(session, get_hub(request).settings, order.tenant_id, order.id)
    return CustomerLink(token=token, expires_at=utc_now() + timedelta(seconds=ORDER_LINK_MAX_AGE))


@router.get("/order-policy", responses=READ_ERRORS, summary="Order policy")
async def get_policy(session: SessionDep, principal: PrincipalDep) -> schemas.Policy:
    """The tenant's rules: closure fallback and its deadline, how far another pickup
    store may be, the return window. Needs `orders:read`."""
    return await service.get_policy(session, principal)


@router.patch("/order-policy", responses=WRITE_ERRORS, summary="Change the order policy")
async def update_policy(
    data: schemas.PolicyUpdate, session: SessionDep, principal: PrincipalDep
) -> schemas.Policy:
    """Change the fields present. Needs `orders:write`."""
    return await service.update_policy(session, principal, data)
