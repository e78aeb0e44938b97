"""Stored responses for ``Idempotency-Key``: the same key and request replay the first
successful response; the same key with a different request is refused.

The record is written in the request's own transaction, so it exists exactly when the
effects of the first request were committed.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Insert, LargeBinary, String, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.base import Base
from channelhub.platform.db.core import dialect_insert_for, dialect_name, execute_core, table_of
from channelhub.platform.errors import ConflictError, InvalidError

MAX_KEY_LENGTH = 255


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(500))
    etag: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    content_type: str | None
    location: str | None
    etag: str | None
    body: bytes


def fingerprint(caller: str, method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": the same caller (API key), method, path and body.

    The caller is part of it so that one key can never replay a response another key got.
    """
    digest = hashlib.sha256()
    for part in (caller.encode(), method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class Claim:
    """A key this request claimed; ``complete`` stores the response under it."""

    tenant_id: str
    key: str
    fingerprint: str


_RECORDS = table_of(IdempotencyRecord)
_STORE = (
    update(_RECORDS)
    .where(_RECORDS.c.tenant_id == bindparam("at_tenant"), _RECORDS.c.key == bindparam("at_key"))
    .values(
        status_code=bindparam("status_code"),
        content_type=bindparam("content_type"),
        location=bindparam("location"),
        etag=bindparam("etag"),
        body=bindparam("body", type_=_RECORDS.c.body.type),
    )
)
_EXISTING = select(
    _RECORDS.c.fingerprint,
    _RECORDS.c.status_code,
    _RECORDS.c.content_type,
    _RECORDS.c.location,
    _RECORDS.c.etag,
    _RECORDS.c.body,
).where(_RECORDS.c.tenant_id == bindparam("at_tenant"), _RECORDS.c.key == bindparam("at_key"))


@functools.cache
def _claim(dialect: str) -> Insert:
    """Insert the record, or take over an expired one (``expires_at <= :now``); returns
    the key only if claimed. Built once per database: every POST with a key runs it."""
    insert_ = dialect_insert_for(dialect, _RECORDS)
    claim: Insert = insert_.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["tenant_id", "key"],
        set_={
            "fingerprint": insert_.excluded.fingerprint,  # type: ignore[attr-defined]
            "status_code": None,
            "content_type": None,
            "location": None,
            "etag": None,
            "body": None,
            "created_at": insert_.excluded.created_at,  # type: ignore[attr-defined]
            "expires_at": insert_.excluded.expires_at,  # type: ignore[attr-defined]
        },
        where=_RECORDS.c.expires_at <= bindparam("now", type_=_RECORDS.c.expires_at.type),
    )
    return claim.returning(_RECORDS.c.key)


async def begin(
    session: AsyncSession,
    tenant_id: str,
    key: str,
    request_fingerprint: str,
    *,
    ttl: timedelta,
    clock: Clock = utc_now,
) -> Claim | StoredResponse:
    """Either the stored response to replay, or the key claimed for this request (to
    ``complete`` before commit)."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidError(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
            field="Idempotency-Key",
        )
    now = clock()
    # One statement claims the key: inserted, or taken over from an expired record. A
    # concurrent first use of the key makes PostgreSQL wait for it, then find it here.
    claimed = await execute_core(
        session,
        _claim(dialect_name(session)),
        {
            "tenant_id": tenant_id,
            "key": key,
            "fingerprint": request_fingerprint,
            "created_at": now,
            "expires_at": now + ttl,
            "now": now,
        },
    )
    if claimed.first() is not None:
        return Claim(tenant_id, key, request_fingerprint)
    existing = (
        await execute_core(session, _EXISTING, {"at_tenant": tenant_id, "at_key": key})
    ).first()
    if existing is None:  # pragma: no cover - the row the claim conflicted with is there
        raise ConflictError("retry the request", code="idempotency_key_in_progress")
    if existing.fingerprint != request_fingerprint:
        raise InvalidError(
            "this Idempotency-Key was used for a different request",
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    if existing.status_code is None:
        raise ConflictError(
            "a request with this Idempotency-Key is still in progress",
            code="idempotency_key_in_progress",
        )
    return StoredResponse(
        status_code=existing.status_code,
        content_type=existing.content_type,
        location=existing.location,
        etag=existing.etag,
        body=existing.body or b"",
    )


async def complete(session: AsyncSession, claim: Claim, response: StoredResponse) -> None:
    """Store the response under the claimed key, in the request's transaction."""
    await execute_core(
        session,
        _STORE,
        {
            "at_tenant": claim.tenant_id,
            "at_key": claim.key,
            "status_code": response.status_code,
            "content_type": response.content_type,
            "location": response.location,
            "etag": response.etag,
            "body": response.body,
        },
    )


async def purge_expired(session: AsyncSession, *, clock: Clock = utc_now) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= clock())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
