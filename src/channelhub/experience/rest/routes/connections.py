"""Connections to systems of record, their inbound hook, and the inbox of what they sent."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, get_hub
from channelhub.experience.rest.problems import problem_response
from channelhub.experience.rest.schemas import (
    READ_ERRORS,
    WRITE_ERRORS,
    ListResponse,
    problem_responses,
)
from channelhub.platform.clock import utc_now
from channelhub.platform.db.pagination import Page
from channelhub.platform.errors import ConflictError
from channelhub.platform.inbox import store as inbox
from channelhub.platform.inbox.store import InboxStatus, SignatureInvalid
from channelhub.platform.observability import INBOX_REJECTED
from channelhub.platform.runtime import Runtime
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


class DeliveryTargets:
    """Connections as the hook sees them, kept for a few seconds: a webhook burst reads
    (and decrypts) each connection's secret once, not once per delivery. Disabling a
    connection or rotating its secret takes effect within ``ttl_s``."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._known: dict[str, tuple[float, connections.DeliveryTarget | None]] = {}

    async def get(self, hub: Runtime, connection_id: str) -> connections.DeliveryTarget | None:
        now = time.monotonic()
        cached = self._known.get(connection_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with hub.db.reader() as session:
            target = await connections.delivery_target(session, connection_id, hub.secret_box)
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[connection_id] = (now + self.ttl_s, target)
        return target


class Received(BaseModel):
    id: str = Field(description="The inbox record (inb_...).")
    duplicate: bool = Field(description="The same delivery was received before.")


@router.post(
    "/hooks/{connection_id}",
    responses={
        **problem_responses(401, 404, 422),
        413: {"description": "The body is larger than CHANNELHUB_MAX_REQUEST_BODY_BYTES."},
    },
    summary="Inbound deliveries of a connection",
)
async def receive(connection_id: ConnectionId, request: Request) -> Response:
    """Where a connected system posts its webhooks. The delivery is verified exactly as
    that system signs it, stored raw and acknowledged (200) before any work; processing
    happens afterwards from the inbox. The same delivery id twice is stored once. A
    missing or forged signature is 401 and stores nothing but a counter; an unknown or
    disabled connection is 404."""
    hub = get_hub(request)
    limit = hub.settings.max_request_body_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return problem_response(request, 413, f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    headers = dict(request.headers)
    targets: DeliveryTargets = request.app.state.delivery_targets
    target = await targets.get(hub, connection_id)
    if target is None:
        return problem_response(request, 404, f"no connection {connection_id!r}")
    receiver = hub.receivers[target.system.value]
    try:
        receiver.verify(target.webhook_secret, headers, body)
    except SignatureInvalid as exc:
        async with hub.db.transaction() as session:
            await connections.count_rejected(session, target.id)
        INBOX_REJECTED.labels(target.system.value).inc()
        return problem_response(request, 401, exc.detail, code=exc.code)
    arrival = inbox.Arrival(
        tenant_id=target.tenant_id,
        connection_id=target.id,
        system=target.system.value,
        delivery=receiver.identify(headers, body),
        headers=headers,
        body=body,
    )
    record_id, duplicate = await hub.inbox_writer.store(arrival, utc_now())
    return Response(
        Received(id=record_id, duplicate=duplicate).model_dump_json(),
        media_type="application/json",
    )
