"""Webhook endpoints, their delivery log, retries, replays and the tenant's webhook policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, get_hub, idempotent
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.platform.errors import InvalidError
from channelhub.platform.webhooks import schemas
from channelhub.platform.webhooks import service as webhooks

router = APIRouter(prefix="/v1", tags=["webhooks"])

EndpointId = Annotated[str, Path(description="Webhook endpoint id (whe_...).")]
DeliveryId = Annotated[str, Path(description="Delivery id (whd_...).")]

API_REPLAY_LIMIT = 10_000
"""Events one replay request may go through; longer ranges go through the CLI."""


@router.post(
    "/webhook-endpoints", status_code=201, responses=WRITE_ERRORS, summary="Add an endpoint"
)
async def create_endpoint(
    data: schemas.EndpointCreate,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.EndpointWithSecret:
    """Subscribe a URL to events. Every delivery is a POST of the event's CloudEvents
    envelope, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
    `webhook-signature`) with the returned `secret` (shown only now). A URL on a private
    or loopback address is refused unless the tenant allows it (`PUT
    /v1/webhook-settings`). Not idempotent by design (no copy of the secret is kept to
    replay). Needs `webhooks:write`."""
    created = await webhooks.create_endpoint(session, principal, data, get_hub(request).secret_box)
    response.headers["Location"] = f"/v1/webhook-endpoints/{created.id}"
    return created


@router.get("/webhook-endpoints", responses=READ_ERRORS, summary="List endpoints")
async def list_endpoints(
    session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Endpoint]:
    """Endpoints newest first. Needs `webhooks:read`."""
    return ListResponse.of(await webhooks.list_endpoints(session, principal, page))


@router.get("/webhook-endpoints/{endpoint_id}", responses=READ_ERRORS, summary="Get an endpoint")
async def get_endpoint(
    endpoint_id: EndpointId, session: SessionDep, principal: PrincipalDep
) -> schemas.Endpoint:
    """One endpoint (its secret is never shown again). Needs `webhooks:read`."""
    return await webhooks.get_endpoint(session, principal, endpoint_id)


@router.patch(
    "/webhook-endpoints/{endpoint_id}", responses=WRITE_ERRORS, summary="Change an endpoint"
)
async def update_endpoint(
    endpoint_id: EndpointId,
    data: schemas.EndpointUpdate,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Endpoint:
    """Change the fields present. Disabling holds what is waiting; enabling again sends
    it and clears the failure record. Needs `webhooks:write`."""
    return await webhooks.update_endpoint(session, principal, endpoint_id, data)


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=204,
    responses=WRITE_ERRORS,
    summary="Remove an endpoint",
)
async def delete_endpoint(
    endpoint_id: EndpointId, session: SessionDep, principal: PrincipalDep
) -> Response:
    """The endpoint goes, with what it had waiting and its delivery log. Needs
    `webhooks:write`."""
    await webhooks.delete_endpoint(session, principal, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    responses=WRITE_ERRORS,
    summary="Rotate the signing secret",
)
async def rotate_secret(
    endpoint_id: EndpointId,
    data: schemas.SecretRotation,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.EndpointWithSecret:
    """A new secret signs from now on; for `overlap_hours` the old one signs too (the
    `webhook-signature` header then carries both), so the receiver can switch at its
    pace. Needs `webhooks:write`."""
    return await webhooks.rotate_secret(
        session, principal, endpoint_id, data, get_hub(request).secret_box
    )


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    responses=READ_ERRORS,
    summary="An endpoint's deliveries",
)
async def list_deliveries(
    endpoint_id: EndpointId,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    status: Annotated[
        schemas.DeliveryStatus | None, Query(description="Only this status (failed: gave up).")
    ] = None,
    event_type: Annotated[str | None, Query(description="Only this event type.")] = None,
) -> ListResponse[schemas.Delivery]:
    """What was queued for the endpoint, newest first, with its state. Needs
    `webhooks:read`."""
    return ListResponse.of(
        await webhooks.list_deliveries(
            session, principal, endpoint_id, page, status=status, event_type=event_type
        )
    )


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}",
    responses=READ_ERRORS,
    summary="One delivery and its attempts",
)
async def get_delivery(
    endpoint_id: EndpointId, delivery_id: DeliveryId, session: SessionDep, principal: PrincipalDep
) -> schemas.Delivery:
    """One delivery with every attempt: status code, latency, the start of the answer.
    Needs `webhooks:read`."""
    return await webhooks.get_delivery(session, principal, endpoint_id, delivery_id)


@router.post(
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
    responses=WRITE_ERRORS,
    summary="Send a delivery again",
    dependencies=[Depends(idempotent)],
)
async def retry_delivery(
    endpoint_id: EndpointId, delivery_id: DeliveryId, session: SessionDep, principal: PrincipalDep
) -> schemas.Delivery:
    """Send it again now (same `webhook-id`), whatever its state; the retry schedule starts
    over. 409 `webhook_endpoint_disabled` while the endpoint is disabled. Needs
    `webhooks:write`."""
    return await webhooks.retry_delivery(session, principal, endpoint_id, delivery_id)


@router.get(
    "/webhook-endpoints/{endpoint_id}/attempts",
    responses=READ_ERRORS,
    summary="An endpoint's request log",
)
async def list_attempts(
    endpoint_id: EndpointId, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Attempt]:
    """Every request sent to the endpoint, newest first. Needs `webhooks:read`."""
    return ListResponse.of(await webhooks.list_attempts(session, principal, endpoint_id, page))


@router.post(
    "/webhook-endpoints/{endpoint_id}/replay",
    responses=WRITE_ERRORS,
    summary="Replay a time range of events",
    dependencies=[Depends(idempotent)],
)
async def replay(
    endpoint_id: EndpointId,
    data: schemas.ReplayRequest,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.ReplayResult:
    """Send the endpoint every event of `[since, until)` its filter takes, again, from
    the event log (kept `CHANNELHUB_OUTBOX_RETENTION_HOURS`). Up to 10,000 events per
    request; longer ranges with `channelhub webhooks replay`. Needs `webhooks:write`."""
    plan = await webhooks.plan_replay(session, principal, endpoint_id, data)
    if plan.total > API_REPLAY_LIMIT:
        raise InvalidError(
            f"the range holds {plan.total} events, more than {API_REPLAY_LIMIT} per request; "
            "use a shorter range or `channelhub webhooks replay`",
            field="until",
        )
    queued = 0
    step = await webhooks.replay_step(session, plan)
    while step.read:
        queued += step.queued
        step = await webhooks.replay_step(session, plan, after=step.after)
    return schemas.ReplayResult(queued=queued)


@router.get("/webhook-settings", responses=READ_ERRORS, summary="The webhook policy")
async def get_settings(session: SessionDep, principal: PrincipalDep) -> schemas.WebhookSettings:
    """The tenant's webhook policy. Needs `webhooks:read`."""
    return await webhooks.get_settings(session, principal)


@router.put("/webhook-settings", responses=WRITE_ERRORS, summary="Set the webhook policy")
async def put_settings(
    data: schemas.WebhookSettings, session: SessionDep, principal: PrincipalDep
) -> schemas.WebhookSettings:
    """Allow (or forbid again) endpoints on private networks. Needs an `admin` key."""
    return await webhooks.save_settings(session, principal, data)
