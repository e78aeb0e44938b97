"""Webhook endpoints, the tenant's webhook policy, the delivery log, retries and replays."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.db.repository import TenantRepository
from channelhub.platform.errors import ConflictError, InvalidError, NotFoundError
from channelhub.platform.events.catalog import event_types
from channelhub.platform.events.models import OutboxEvent
from channelhub.platform.events.outbox import envelope_of
from channelhub.platform.ids import new_id
from channelhub.platform.webhooks import schemas
from channelhub.platform.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
    WebhookSettings,
)
from channelhub.platform.webhooks.queue import WEBHOOKS_QUEUED, matches, queue_deliveries
from channelhub.platform.webhooks.signing import new_secret
from channelhub.platform.webhooks.targets import check_target

READ = "webhooks:read"
WRITE = "webhooks:write"
ADMIN = "admin"
REPLAY_CHUNK = 500


class EndpointNotFound(NotFoundError):
    code = "webhook_endpoint_not_found"


class DeliveryNotFound(NotFoundError):
    code = "webhook_delivery_not_found"


class EndpointRepository(TenantRepository[WebhookEndpoint]):
    model = WebhookEndpoint


def checked_patterns(patterns: Sequence[str], *, field: str = "event_types") -> list[str]:
    """The filter without repeats; each entry must name at least one catalogued type, so a
    typo is caught now instead of silently receiving nothing."""
    known = [t.name for t in event_types()]
    kept: list[str] = []
    for index, pattern in enumerate(patterns):
        cleaned = pattern.strip()
        if not any(fnmatch.fnmatchcase(name, cleaned) for name in known):
            raise InvalidError(
                f"{pattern!r} matches no event type (see GET /v1/event-types)",
                field=f"{field}.{index}",
            )
        if cleaned not in kept:
            kept.append(cleaned)
    return kept


async def allows_private(session: AsyncSession, tenant_id: str) -> bool:
    value = await session.scalar(
        select(WebhookSettings.allow_private_targets).where(WebhookSettings.tenant_id == tenant_id)
    )
    return bool(value)


async def get_settings(session: AsyncSession, principal: Principal) -> schemas.WebhookSettings:
    principal.require(READ)
    return schemas.WebhookSettings(
        allow_private_targets=await allows_private(session, principal.tenant_id)
    )


async def save_settings(
    session: AsyncSession,
    principal: Principal,
    value: schemas.WebhookSettings,
    *,
    clock: Clock = utc_now,
) -> schemas.WebhookSettings:
    """Only an admin key may open private networks to webhooks."""
    principal.require(ADMIN)
    row = await session.get(WebhookSettings, principal.tenant_id, with_for_update=True)
    if row is None:
        row = WebhookSettings(tenant_id=principal.tenant_id)
        session.add(row)
    row.allow_private_targets = value.allow_private_targets
    row.updated_at = clock()
    return value


def to_schema(row: WebhookEndpoint, now: datetime) -> schemas.Endpoint:
    rotating = row.previous_until is not None and row.previous_until > now
    return schemas.Endpoint(
        id=row.id,
        url=row.url,
        description=row.description,
        event_types=list(row.event_types),
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        previous_secret_until=row.previous_until if rotating else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _with_secret(row: WebhookEndpoint, secret: str, now: datetime) -> schemas.EndpointWithSecret:
    return schemas.EndpointWithSecret(**to_schema(row, now).model_dump(), secret=secret)


async def create_endpoint(
    session: AsyncSession,
    principal: Principal,
    data: schemas.EndpointCreate,
    box: SecretBox,
    *,
    clock: Clock = utc_now,
) -> schemas.EndpointWithSecret:
    principal.require(WRITE)
    await check_target(data.url, allow_private=await allows_private(session, principal.tenant_id))
    secret = data.secret or new_secret()
    now = clock()
    row = EndpointRepository(session, principal.tenant_id).add(
        WebhookEndpoint(
            id=new_id("whe"),
            url=data.url,
            description=data.description,
            event_types=checked_patterns(data.event_types),
            enabled=data.enabled,
            disabled_reason="",
            secret=box.seal({"secret": secret}),
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()
    return _with_secret(row, secret, now)


async def _endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: str, *, for_update: bool = False
) -> WebhookEndpoint:
    row = await EndpointRepository(session, principal.tenant_id).get(
        endpoint_id, for_update=for_update
    )
    if row is None:
        raise EndpointNotFound(f"webhook endpoint {endpoint_id} not found")
    return row


async def get_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: str, *, clock: Clock = utc_now
) -> schemas.Endpoint:
    principal.require(READ)
    return to_schema(await _endpoint(session, principal, endpoint_id), clock())


async def list_endpoints(
    session: AsyncSession, principal: Principal, page: PageRequest, *, clock: Clock = utc_now
) -> Page[schemas.Endpoint]:
    principal.require(READ)
    repository = EndpointRepository(session, principal.tenant_id)
    found = await repository.paginate(repository.scoped(), page)
    now = clock()
    return Page([to_schema(row, now) for row in found.items], found.next_cursor)


async def update_endpoint(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    data: schemas.EndpointUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.Endpoint:
    principal.require(WRITE)
    row = await _endpoint(session, principal, endpoint_id, for_update=True)
    if data.url is not None:
        await check_target(
            data.url, allow_private=await allows_private(session, principal.tenant_id)
        )
        if data.url != row.url:
            row.failing_since = None
        row.url = data.url
    if data.description is not None:
        row.description = data.description
    if data.event_types is not None:
        row.event_types = checked_patterns(data.event_types)
    if data.enabled is not None:
        if data.enabled and not row.enabled:
            row.failing_since = None
            row.disabled_reason = ""
        row.enabled = data.enabled
    now = clock()
    row.updated_at = now
    await session.flush()
    return to_schema(row, now)


async def delete_endpoint(session: AsyncSession, principal: Principal, endpoint_id: str) -> None:
    """The endpoint goes, with its waiting deliveries and its log."""
    principal.require(WRITE)
    await session.delete(await _endpoint(session, principal, endpoint_id, for_update=True))


async def rotate_secret(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    data: schemas.SecretRotation,
    box: SecretBox,
    *,
    clock: Clock = utc_now,
) -> schemas.EndpointWithSecret:
    """A new secret signs from now on; the current one also signs for ``overlap_hours``."""
    principal.require(WRITE)
    row = await _endpoint(session, principal, endpoint_id, for_update=True)
    secret = data.secret or new_secret()
    now = clock()
    if data.overlap_hours:
        row.previous_secret = row.secret
        row.previous_until = now + timedelta(hours=data.overlap_hours)
    else:
        row.previous_secret = None
        row.previous_until = None
    row.secret = box.seal({"secret": secret})
    row.updated_at = now
    await session.flush()
    return _with_secret(row, secret, now)


def delivery_schema(
    row: WebhookDelivery, attempts: Sequence[WebhookAttempt] | None = None
) -> schemas.Delivery:
    return schemas.Delivery(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.message_id,
        event_type=row.event_type,
        status=schemas.DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at
        if row.status == schemas.DeliveryStatus.pending.value
        else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        attempt_log=None if attempts is None else [attempt_schema(a) for a in attempts],
    )


def attempt_schema(row: WebhookAttempt) -> schemas.Attempt:
    return schemas.Attempt(
        id=row.id,
        delivery_id=row.delivery_id,
        attempted_at=row.attempted_at,
        status_code=row.status_code,
        latency_ms=row.latency_ms,
        response=row.response,
        error=row.error,
    )


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    page: PageRequest,
    *,
    status: schemas.DeliveryStatus | None = None,
    event_type: str | None = None,
) -> Page[schemas.Delivery]:
    principal.require(READ)
    await _endpoint(session, principal, endpoint_id)
    statement = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status.value)
    if event_type is not None:
        statement = statement.where(WebhookDelivery.event_type == event_type)
    found = await keyset_page(session, statement, WebhookDelivery.id, page)
    return Page([delivery_schema(row) for row in found.items], found.next_cursor)


async def _delivery(
    session: AsyncSession, principal: Principal, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    await _endpoint(session, principal, endpoint_id)
    row = await session.get(WebhookDelivery, delivery_id)
    if row is None or row.endpoint_id != endpoint_id:
        raise DeliveryNotFound(f"delivery {delivery_id} not found at endpoint {endpoint_id}")
    return row


async def get_delivery(
    session: AsyncSession, principal: Principal, endpoint_id: str, delivery_id: str
) -> schemas.Delivery:
    principal.require(READ)
    row = await _delivery(session, principal, endpoint_id, delivery_id)
    attempts = (
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        )
    ).all()
    return delivery_schema(row, attempts)


async def list_attempts(
    session: AsyncSession, principal: Principal, endpoint_id: str, page: PageRequest
) -> Page[schemas.Attempt]:
    principal.require(READ)
    await _endpoint(session, principal, endpoint_id)
    statement = select(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint_id)
    found = await keyset_page(session, statement, WebhookAttempt.id, page)
    return Page([attempt_schema(row) for row in found.items], found.next_cursor)


async def retry_delivery(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    delivery_id: str,
    *,
    clock: Clock = utc_now,
) -> schemas.Delivery:
    """Send again now, whatever its state; the retry schedule starts over (the log keeps
    every earlier attempt). An attempt in flight meanwhile still happens, but its outcome
    no longer counts. A disabled endpoint is enabled first (409)."""
    principal.require(WRITE)
    row = await _delivery(session, principal, endpoint_id, delivery_id)
    endpoint = await _endpoint(session, principal, endpoint_id)
    if not endpoint.enabled:
        raise ConflictError(
            f"webhook endpoint {endpoint_id} is disabled; enable it to send again",
            code="webhook_endpoint_disabled",
        )
    now = clock()
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(
            status=schemas.DeliveryStatus.pending.value,
            retry_from=WebhookDelivery.attempts,
            next_attempt_at=now,
            lease=None,
            delivered_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.info[WEBHOOKS_QUEUED] = True
    await session.refresh(row)
    return delivery_schema(row)


def _in_range(tenant_id: str, since: datetime, until: datetime) -> Any:
    return (
        (OutboxEvent.tenant_id == tenant_id)
        & (OutboxEvent.time >= since)
        & (OutboxEvent.time < until)
    )


@dataclass(frozen=True)
class ReplayPlan:
    """Which events a replay goes through (``total`` of them, before the filter)."""

    tenant_id: str
    endpoint_id: str
    patterns: tuple[str, ...]
    since: datetime
    until: datetime
    total: int


async def plan_replay(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: str,
    request: schemas.ReplayRequest,
    *,
    clock: Clock = utc_now,
) -> ReplayPlan:
    """Replays read the event log, so they reach back as far as its retention."""
    principal.require(WRITE)
    until = request.until or clock()
    if until <= request.since:
        raise InvalidError("until must be after since", field="until")
    endpoint = await _endpoint(session, principal, endpoint_id)
    total = await session.scalar(
        select(func.count())
        .select_from(OutboxEvent)
        .where(_in_range(principal.tenant_id, request.since, until))
    )
    return ReplayPlan(
        tenant_id=principal.tenant_id,
        endpoint_id=endpoint.id,
        patterns=tuple(endpoint.event_types),
        since=request.since,
        until=until,
        total=int(total or 0),
    )


@dataclass(frozen=True)
class ReplayStep:
    read: int
    queued: int
    after: int
    """Where the next step starts (the last event position read)."""


async def replay_step(
    session: AsyncSession, plan: ReplayPlan, *, after: int = -1, clock: Clock = utc_now
) -> ReplayStep:
    """Queue the next ``REPLAY_CHUNK`` events of the plan (oldest first) that the endpoint's
    filter takes. An event the endpoint already had is sent again, with the same
    ``webhook-id`` and the retry schedule started over."""
    rows = (
        await session.scalars(
            select(OutboxEvent)
            .where(_in_range(plan.tenant_id, plan.since, plan.until), OutboxEvent.position > after)
            .order_by(OutboxEvent.position)
            .limit(REPLAY_CHUNK)
        )
    ).all()
    if not rows:
        return ReplayStep(read=0, queued=0, after=after)
    wanted = [envelope_of(row) for row in rows if matches(plan.patterns, row.type)]
    queued = await queue_deliveries(
        session, [(envelope, [plan.endpoint_id]) for envelope in wanted], clock(), again=True
    )
    return ReplayStep(read=len(rows), queued=len(queued), after=rows[-1].position)


PRUNE_CHUNK = 5000


async def prune_log(session: AsyncSession, before: datetime) -> int:
    """Forget finished deliveries (with their attempts) last changed before ``before``, and
    the messages nothing refers to any more; a chunk per call. Returns deliveries removed."""
    finished = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status != schemas.DeliveryStatus.pending.value,
            WebhookDelivery.updated_at < before,
        )
        .limit(PRUNE_CHUNK)
    )
    removed = await session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.id.in_(finished.scalar_subquery()))
    )
    await session.execute(
        delete(WebhookMessage).where(
            WebhookMessage.created_at < before,
            ~exists().where(WebhookDelivery.message_id == WebhookMessage.id),
        )
    )
    return int(removed.rowcount)  # type: ignore[attr-defined]
