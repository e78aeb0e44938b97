"""Tenants and API keys: create, authenticate, list, revoke, bootstrap."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.models import ApiKey, Tenant
from channelhub.platform.auth.principal import Principal
from channelhub.platform.auth.scopes import ADMIN, validate_scopes
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import execute_core, table_of
from channelhub.platform.errors import (
    ConflictError,
    InvalidError,
    NotFoundError,
    UnauthenticatedError,
)
from channelhub.platform.ids import new_id

KEY_PREFIX = "chk_"
MIN_BOOTSTRAP_KEY_LENGTH = 24
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key. ``secret`` exists only here: it is never stored or shown again."""

    key: ApiKey
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_tenant(session: AsyncSession, *, name: str, slug: str) -> Tenant:
    name = name.strip()
    if not name:
        raise InvalidError("a tenant needs a name", field="name")
    if not _SLUG.match(slug):
        raise InvalidError(
            "slug must be 1-63 lowercase letters, digits or inner hyphens", field="slug"
        )
    if await session.scalar(select(Tenant.id).where(Tenant.slug == slug)):
        raise ConflictError(f"a tenant with slug {slug!r} exists", field="slug")
    tenant = Tenant(id=new_id("ten"), name=name, slug=slug)
    session.add(tenant)
    await session.flush()
    return tenant


async def get_tenant(session: AsyncSession, ref: str) -> Tenant:
    """Find a tenant by id or slug."""
    tenant = await session.scalar(select(Tenant).where((Tenant.id == ref) | (Tenant.slug == ref)))
    if tenant is None:
        raise NotFoundError(f"no tenant {ref!r}", field="tenant")
    return tenant


async def list_tenants(session: AsyncSession) -> Sequence[Tenant]:
    return (await session.scalars(select(Tenant).order_by(Tenant.id))).all()


async def issue_key(
    session: AsyncSession,
    tenant_id: str,
    *,
    name: str,
    scopes: Collection[str],
    resources: Collection[str],
    secret: str | None = None,
    clock: Clock = utc_now,
) -> IssuedKey:
    """Create a key. ``secret`` is generated unless given (bootstrap from settings)."""
    checked = validate_scopes(scopes, resources)
    secret = secret or KEY_PREFIX + secrets.token_urlsafe(32)
    digest = hash_secret(secret)
    if await session.scalar(select(ApiKey.id).where(ApiKey.secret_hash == digest)):
        raise ConflictError("that key is already in use", field="secret")
    key = ApiKey(
        id=new_id("key"),
        tenant_id=tenant_id,
        name=name.strip() or "unnamed",
        secret_hash=digest,
        display_prefix=secret[:12],
        scopes=checked,
        created_at=clock(),
    )
    session.add(key)
    await session.flush()
    return IssuedKey(key=key, secret=secret)


async def authenticate(session: AsyncSession, secret: str) -> Principal:
    """Resolve a bearer secret to its principal, or refuse with one message for every cause
    (unknown, revoked), so that a caller learns nothing about which keys exist."""
    found = await execute_core(session, _KEY_BY_HASH, {"secret_hash": hash_secret(secret)})
    key = found.first()
    if key is None or key.revoked_at is not None:
        raise UnauthenticatedError("the API key is missing, unknown or revoked")
    return Principal(tenant_id=key.tenant_id, key_id=key.id, scopes=frozenset(key.scopes))


_API_KEYS = table_of(ApiKey)
_KEY_BY_HASH = select(
    _API_KEYS.c.id, _API_KEYS.c.tenant_id, _API_KEYS.c.scopes, _API_KEYS.c.revoked_at
).where(_API_KEYS.c.secret_hash == bindparam("secret_hash"))
"""Built once: every request runs it."""


async def list_keys(session: AsyncSession, tenant_id: str) -> Sequence[ApiKey]:
    statement = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id)
    return (await session.scalars(statement)).all()


async def revoke_key(
    session: AsyncSession, tenant_id: str, key_id: str, *, clock: Clock = utc_now
) -> ApiKey:
    """Revoke a key; revoking an already revoked key is a harmless no-op."""
    key = await session.scalar(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id)
    )
    if key is None:
        raise NotFoundError(f"no API key {key_id!r} in this tenant", field="key_id")
    if key.revoked_at is None:
        key.revoked_at = clock()
        await session.flush()
    return key


async def bootstrap(
    session: AsyncSession,
    *,
    resources: Collection[str],
    admin_secret: str | None,
) -> IssuedKey | None:
    """On an empty database, create the default tenant and its admin key; else do nothing.

    ``admin_secret`` (from ``CHANNELHUB_BOOTSTRAP_ADMIN_KEY``) becomes the key when given.
    """
    if await session.scalar(select(func.count()).select_from(Tenant)):
        return None
    if admin_secret is not None and len(admin_secret) < MIN_BOOTSTRAP_KEY_LENGTH:
        raise InvalidError(
            f"CHANNELHUB_BOOTSTRAP_ADMIN_KEY must be at least {MIN_BOOTSTRAP_KEY_LENGTH} "
            "characters long",
            field="bootstrap_admin_key",
        )
    tenant = await create_tenant(session, name="Default tenant", slug="default")
    return await issue_key(
        session,
        tenant.id,
        name="bootstrap admin",
        scopes=[ADMIN],
        resources=resources,
        secret=admin_secret,
    )
