"""Connections to systems of record, their inbound hook, and the inbox of what they sent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, get_hub
from channelhub.experience.rest.schemas import (
    READ_ERRORS,
    WRITE_ERRORS,
    ListResponse,
)
from channelhub.platform.clock import utc_now
from channelhub.platform.db.pagination import Page
from channelhub.platform.errors import ConflictError
from channelhub.platform.inbox import store as inbox
from channelhub.platform.inbox.store import InboxStatus
from channelhub.process.connections import schemas
from channelhub.process.connections import service as connections

router = APIRouter(tags=["connections"])

ConnectionId = Annotated[str, Path(description="Connection id (con_...).")]
RecordId = Annotated[str, Path(description="Inbox record id (inb_...).")]


@router.post(
    "/v1/connections",
    status_code=201,
    responses=WRITE_ERRORS,
    summary="Connect a system of record",
)
async def create_connection(
    data: schemas.ConnectionCreate,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.Connection:
    """Connect Shopify, BigCommerce, WooCommerce, EasyPost, AfterShip, UPS or an ERP feed:
    its credentials and delivery secret (stored encrypted with `CHANNELHUB_ENCRYPTION_KEY`,
    never returned), its API base, the channel its orders belong to, and its locations
    mapped to ours (with which of them it owns on-hand stock for). Point the system's
    webhooks at the returned `hook_url`. Needs `connections:write`."""
    created = await connections.create_connection(
        session, principal, data, get_hub(request).secret_box
    )
    response.headers["Location"] = f"/v1/connections/{created.id}"
    return created


@router.get("/v1/connections", responses=READ_ERRORS, summary="List connections")
async def list_connections(
    session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Connection]:
    """Connections newest first. Needs `connections:read`."""
    return ListResponse.of(await connections.list_connections(session, principal, page))


@router.get("/v1/connections/{connection_id}", responses=READ_ERRORS, summary="Get a connection")
async def get_connection(
    connection_id: ConnectionId, session: SessionDep, principal: PrincipalDep
) -> schemas.Connection:
    """One connection (secrets by name only). Needs `connections:read`."""
    return await connections.get_connection(session, principal, connection_id)


@router.patch(
    "/v1/connections/{connection_id}", responses=WRITE_ERRORS, summary="Change a connection"
)
async def update_connection(
    connection_id: ConnectionId,
    data: schemas.ConnectionUpdate,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Connection:
    """Change the fields present: rotate credentials or the delivery secret, remap
    locations, stop pushing stock, or disable it (its deliveries then get 404). Needs
    `connections:write`."""
    return await connections.update_connection(
        session, principal, connection_id, data, get_hub(request).secret_box
    )


@router.get(
    "/v1/connections/{connection_id}/health", responses=READ_ERRORS, summary="Connector health"
)
async def connection_health(
    connection_id: ConnectionId, session: SessionDep, principal: PrincipalDep
) -> schemas.Health:
    """Last delivery received, last stock push (and its error), deliveries waiting and
    parked, lag, the last hour's error rate, refused signatures, SKUs waiting to be pushed.
    Needs `connections:read`."""
    return await connections.health(session, principal, connection_id)


class InboxItem(BaseModel):
    id: str = Field(description="Inbox record id (inb_...).")
    connection_id: str = Field(description="The connection it came through.")
    system: str = Field(description="The kind of system.")
    topic: str = Field(description="What the sender says it is (orders/create, ...).")
    delivery_id: str = Field(description="The sender's delivery id (de-duplication key).")
    status: InboxStatus = Field(description="pending, processed or parked.")
    attempts: int = Field(description="Times it was tried.")
    reason: str = Field(description="What processing did, or why it is parked.")
    received_at: datetime = Field(description="When it arrived (UTC).")
    processed_at: datetime | None = Field(description="When it was applied or parked (UTC).")
    body: str | None = Field(None, description="The raw body (on GET of one record).")


def _item(record: Any, *, body: bool = False) -> InboxItem:
    return InboxItem(
        id=record.id,
        connection_id=record.connection_id,
        system=record.system,
        topic=record.topic,
        delivery_id=record.delivery_id,
        status=InboxStatus(record.status),
        attempts=record.attempts,
        reason=record.reason,
        received_at=record.received_at,
        processed_at=record.processed_at,
        body=record.body.decode("utf-8", "replace") if body else None,
    )


@router.get("/v1/inbox", responses=READ_ERRORS, summary="Inbound deliveries")
async def list_inbox(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    status: Annotated[
        InboxStatus | None, Query(description="Only this status (parked: needs attention).")
    ] = None,
    connection_id: Annotated[str | None, Query(description="Only this connection.")] = None,
) -> ListResponse[InboxItem]:
    """What systems of record sent, newest first, with what became of it. Needs
    `connections:read`."""
    principal.require(connections.READ)
    found = await inbox.page(
        session, principal.tenant_id, page, status=status, connection_id=connection_id
    )
    return ListResponse.of(Page([_item(r) for r in found.items], found.next_cursor))


@router.get("/v1/inbox/{record_id}", responses=READ_ERRORS, summary="One inbound delivery")
async def get_inbox_record(
    record_id: RecordId, session: SessionDep, principal: PrincipalDep
) -> InboxItem:
    """One delivery with its raw body. Needs `connections:read`."""
    principal.require(connections.READ)
    return _item(await inbox.get(session, principal.tenant_id, record_id), body=True)


@router.post(
    "/v1/inbox/{record_id}/replay", responses=WRITE_ERRORS, summary="Replay a parked delivery"
)
async def replay_inbox_record(
    record_id: RecordId, session: SessionDep, principal: PrincipalDep
) -> InboxItem:
    """Put a parked delivery back in line, after fixing what it lacked (a SKU, a location
    mapping). A processed delivery is never applied twice: replaying it is 409. Needs
    `connections:write`."""
    principal.require(connections.WRITE)
    record = await inbox.get(session, principal.tenant_id, record_id)
    if record.status != InboxStatus.parked.value:
        raise ConflictError(
            f"inbox record {record_id} is {record.status}; only parked records are replayed",
            code="not_parked",
        )
    await inbox.replay(session, principal.tenant_id, [record_id], utc_now())
    await session.refresh(record)
    return _item(record)
