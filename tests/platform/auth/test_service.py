"""Tenants, API keys and the first-start bootstrap."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from channelhub import migrations
from channelhub.hub import Hub
from channelhub.platform.auth import service as auth
from channelhub.platform.auth.models import ApiKey, Tenant
from channelhub.platform.auth.scopes import grants, validate_scopes
from channelhub.platform.errors import ConflictError, InvalidError, UnauthenticatedError
from channelhub.process.access import RESOURCES
from tests.fixtures.hub import TenantKeys, make_settings


async def fresh_hub(tmp_path: Path, **settings: object) -> Hub:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    engine = create_async_engine(url)
    await migrations.upgrade(engine)
    await engine.dispose()
    return Hub(make_settings(url, **settings))


async def test_key_is_stored_only_as_a_hash(hub: Hub, tenant: TenantKeys) -> None:
    async with hub.db.reader() as session:
        stored = (
            await session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant.tenant_id))
        ).one()

    assert stored.secret_hash == hashlib.sha256(tenant.admin_key.encode()).hexdigest()
    assert tenant.admin_key not in (stored.secret_hash, stored.display_prefix, stored.name)
    assert stored.display_prefix == tenant.admin_key[:12]


async def test_authenticate_resolves_tenant_and_scopes(hub: Hub, tenant: TenantKeys) -> None:
    key = await tenant.make_key("catalog:write", "channels:read")

    async with hub.db.reader() as session:
        principal = await auth.authenticate(session, key)

    assert principal.tenant_id == tenant.tenant_id
    assert principal.scopes == frozenset({"catalog:write", "channels:read"})


async def test_revoked_key_is_refused_with_the_same_message(hub: Hub, tenant: TenantKeys) -> None:
    key = await tenant.make_key("catalog:read")
    async with hub.db.transaction() as session:
        principal = await auth.authenticate(session, key)
        await auth.revoke_key(session, tenant.tenant_id, principal.key_id or "")

    async with hub.db.reader() as session:
        with pytest.raises(UnauthenticatedError) as revoked:
            await auth.authenticate(session, key)
        with pytest.raises(UnauthenticatedError) as unknown:
            await auth.authenticate(session, "chk_unknown")

    assert str(revoked.value) == str(unknown.value)


async def test_duplicate_tenant_slug_is_a_conflict(hub: Hub, tenant: TenantKeys) -> None:
    async with hub.db.reader() as session:
        existing = await session.get_one(Tenant, tenant.tenant_id)
        slug = existing.slug

    async with hub.db.transaction() as session:
        with pytest.raises(ConflictError):
            await auth.create_tenant(session, name="Again", slug=slug)


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        pytest.param(["catalog:read", "catalog:read"], ["catalog:read"], id="deduplicated"),
        pytest.param(["admin"], ["admin"], id="admin"),
        pytest.param(
            ["channels:write", "catalog:read"], ["catalog:read", "channels:write"], id="sorted"
        ),
    ],
)
def test_valid_scopes(scopes: list[str], expected: list[str]) -> None:
    assert validate_scopes(scopes, RESOURCES) == expected


@pytest.mark.parametrize(
    "scopes",
    [
        pytest.param(["orders:delete"], id="unknown-access"),
        pytest.param(["nothing:read"], id="unknown-resource"),
        pytest.param([], id="empty"),
    ],
)
def test_invalid_scopes_are_refused(scopes: list[str]) -> None:
    with pytest.raises(InvalidError) as error:
        validate_scopes(scopes, RESOURCES)
    assert error.value.field == "scopes"


@pytest.mark.parametrize(
    ("held", "wanted", "granted"),
    [
        pytest.param({"admin"}, "catalog:write", True, id="admin-grants-all"),
        pytest.param({"catalog:write"}, "catalog:read", True, id="write-implies-read"),
        pytest.param({"catalog:read"}, "catalog:write", False, id="read-not-write"),
        pytest.param({"channels:write"}, "catalog:read", False, id="other-resource"),
    ],
)
def test_grants(held: set[str], wanted: str, granted: bool) -> None:
    assert grants(held, wanted) is granted


async def test_bootstrap_runs_once_on_an_empty_database(tmp_path: Path) -> None:
    hub = await fresh_hub(tmp_path)
    try:
        first = await hub.bootstrap()
        second = await hub.bootstrap()
        assert first is not None
        assert second is None
        assert first.secret.startswith("chk_")
        assert first.key.scopes == ["admin"]
        async with hub.db.reader() as session:
            principal = await auth.authenticate(session, first.secret)
            tenant = await session.get_one(Tenant, principal.tenant_id)
        assert tenant.slug == "default"
    finally:
        await hub.stop()


async def test_bootstrap_uses_the_configured_admin_key(tmp_path: Path) -> None:
    wanted = "automation-secret-0123456789abcdef"
    hub = await fresh_hub(tmp_path, bootstrap_admin_key=wanted)
    try:
        issued = await hub.bootstrap()
        async with hub.db.reader() as session:
            principal = await auth.authenticate(session, wanted)
        assert issued is not None
        assert issued.secret == wanted
        assert principal.scopes == frozenset({"admin"})
    finally:
        await hub.stop()


async def test_bootstrap_refuses_a_short_configured_key(tmp_path: Path) -> None:
    hub = await fresh_hub(tmp_path, bootstrap_admin_key="short")
    try:
        with pytest.raises(InvalidError, match="at least 24 characters"):
            await hub.bootstrap()
        async with hub.db.reader() as session:
            assert (await session.scalars(select(Tenant))).all() == []
    finally:
        await hub.stop()
