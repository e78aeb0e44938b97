"""Queueing events for endpoints: the fan-out consumer, and replays.

The fan-out (``WebhookSender.fan_out``) runs as an ordinary idempotent consumer of every
event, inside its delivery transaction: it stores the event's body once and one delivery
per endpoint whose filter takes it. The sender does the HTTP work, outside any
transaction.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Insert
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.db.core import dialect_insert_for, dialect_name, execute_core, table_of
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.ids import new_id
from channelhub.platform.webhooks.models import WebhookDelivery, WebhookMessage
from channelhub.platform.webhooks.schemas import DeliveryStatus

WEBHOOKS_QUEUED = "channelhub.webhooks_queued"
"""``session.info`` flag: this transaction queued deliveries (the sender is woken)."""

CONSUMER = "webhooks"


def matches(patterns: Sequence[str], event_type: str) -> bool:
    """Whether an endpoint's filter (exact names, fnmatch patterns) takes this type."""
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in patterns)


def body_of(envelope: EventEnvelope) -> bytes:
    """What receivers get: the event's CloudEvents envelope as JSON."""
    return orjson.dumps(envelope.model_dump(mode="json"))


@functools.cache
def _message_insert(dialect: str) -> Insert:
    return dialect_insert_for(dialect, table_of(WebhookMessage)).on_conflict_do_nothing()  # type: ignore[attr-defined,no-any-return]


@functools.cache
def _delivery_insert(dialect: str, again: bool) -> Insert:
    table = table_of(WebhookDelivery)
    insert_ = dialect_insert_for(dialect, table)
    returning = (table.c.id, table.c.endpoint_id, table.c.message_id)
    if not again:
        return insert_.on_conflict_do_nothing().returning(*returning)  # type: ignore[attr-defined,no-any-return]
    return insert_.on_conflict_do_update(  # type: ignore[attr-defined,no-any-return]
        index_elements=["endpoint_id", "message_id"],
        set_={
            "status": insert_.excluded.status,  # type: ignore[attr-defined]
            "retry_from": table.c.attempts,
            "next_attempt_at": insert_.excluded.next_attempt_at,  # type: ignore[attr-defined]
            "lease": None,
            "delivered_at": None,
            "updated_at": insert_.excluded.updated_at,  # type: ignore[attr-defined]
        },
    ).returning(*returning)


@dataclass(frozen=True)
class Queued:
    delivery_id: str
    endpoint_id: str
    message_id: str


async def queue_deliveries(
    session: AsyncSession,
    items: Sequence[tuple[EventEnvelope, Sequence[str]]],
    now: datetime,
    *,
    again: bool = False,
    leases: Mapping[str, tuple[datetime, str]] | None = None,
) -> list[Queued]:
    """Queue each event for its endpoints, due now; or, for the endpoints in ``leases``,
    already leased (until, token) to a sender that takes them itself. ``again``: an event
    an endpoint already had is sent once more, its retry schedule started over (replay);
    otherwise it is left as it is (a redelivered event). Returns what was queued."""
    messages: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for envelope, endpoint_ids in items:
        if not endpoint_ids:
            continue
        messages.append(
            {
                "id": envelope.id,
                "tenant_id": envelope.tenant,
                "event_type": envelope.type,
                "body": body_of(envelope),
                "created_at": envelope.time,
            }
        )
        deliveries.extend(
            {
                "id": new_id("whd"),
                "tenant_id": envelope.tenant,
                "endpoint_id": endpoint_id,
                "message_id": envelope.id,
                "event_type": envelope.type,
                "status": DeliveryStatus.pending.value,
                "attempts": 0,
                "retry_from": 0,
                "next_attempt_at": (leases or {}).get(endpoint_id, (now, None))[0],
                "lease": (leases or {}).get(endpoint_id, (now, None))[1],
                "last_error": "",
                "created_at": now,
                "updated_at": now,
            }
            for endpoint_id in endpoint_ids
        )
    if not deliveries:
        return []
    dialect = dialect_name(session)
    await execute_core(session, _message_insert(dialect), messages)
    rows = await execute_core(session, _delivery_insert(dialect, again), deliveries)
    session.info[WEBHOOKS_QUEUED] = True
    return [Queued(*row) for row in rows]
