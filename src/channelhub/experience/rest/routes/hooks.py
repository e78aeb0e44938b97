"""``POST /hooks/{connection_id}``: where connected systems post their webhooks.

Kept apart from the connections API and routed first: it is the hottest path of the hub
(a storefront's burst of orders), and the router tries routes in order.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from channelhub.experience.rest.deps import get_hub
from channelhub.experience.rest.problems import problem_response
from channelhub.experience.rest.routes.connections import ConnectionId
from channelhub.experience.rest.schemas import problem_responses
from channelhub.platform.clock import utc_now
from channelhub.platform.inbox import store as inbox
from channelhub.platform.inbox.store import SignatureInvalid
from channelhub.platform.observability import INBOX_REJECTED
from channelhub.platform.runtime import Runtime
from channelhub.process.connections import service as connections

router = APIRouter(tags=["connections"])


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
