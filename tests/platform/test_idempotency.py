"""Idempotency records expire: after the TTL a key acts anew and housekeeping forgets it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from channelhub.hub import Hub
from channelhub.platform import idempotency
from channelhub.platform.clock import utc_now
from tests.fixtures.hub import TenantKeys

TTL = timedelta(hours=24)


async def remember(hub: Hub, tenant_id: str, key: str) -> None:
    async with hub.db.transaction() as session:
        record = await idempotency.begin(session, tenant_id, key, "fp", ttl=TTL)
        assert isinstance(record, idempotency.Claim)
        await idempotency.complete(
            session, record, idempotency.StoredResponse(201, "application/json", None, None, b"{}")
        )


async def test_expired_key_acts_anew(hub: Hub, tenant: TenantKeys) -> None:
    await remember(hub, tenant.tenant_id, "old")
    later = utc_now() + TTL + timedelta(seconds=1)

    async with hub.db.transaction() as session:
        fresh = await idempotency.begin(
            session, tenant.tenant_id, "old", "another-fp", ttl=TTL, clock=lambda: later
        )

    assert isinstance(fresh, idempotency.Claim)
    assert fresh.fingerprint == "another-fp"


async def test_purge_forgets_only_expired_keys(hub: Hub, tenant: TenantKeys) -> None:
    await remember(hub, tenant.tenant_id, "k1")
    await remember(hub, tenant.tenant_id, "k2")
    later = utc_now() + TTL + timedelta(seconds=1)

    async with hub.db.transaction() as session:
        nothing = await idempotency.purge_expired(session)
        purged = await idempotency.purge_expired(session, clock=lambda: later)
        left = (
            await session.scalars(
                select(idempotency.IdempotencyRecord.key).where(
                    idempotency.IdempotencyRecord.tenant_id == tenant.tenant_id
                )
            )
        ).all()

    assert nothing == 0
    assert purged >= 2
    assert left == []
