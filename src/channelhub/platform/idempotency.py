"""Stored responses for ``Idempotency-Key``: the same key and request replay the first
successful response; the same key with a different request is refused.

The record is written in the request's own transaction, so it exists exactly when the
effects of the first request were committed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import LargeBinary, String, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, make_transient_to_detached, mapped_column

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.base import Base
from channelhub.platform.db.core import dialect_insert_for, dialect_name
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


async def begin(
    session: AsyncSession,
    tenant_id: str,
    key: str,
    request_fingerprint: str,
    *,
    ttl: timedelta,
    clock: Clock = utc_now,
) -> IdempotencyRecord | StoredResponse:
    """Either the stored response to replay, or a new record to complete before commit."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidError(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
            field="Idempotency-Key",
        )
    now = clock()
    fresh = {
        "tenant_id": tenant_id,
        "key": key,
        "fingerprint": request_fingerprint,
        "status_code": None,
        "content_type": None,
        "location": None,
        "etag": None,
        "body": None,
        "created_at": now,
        "expires_at": now + ttl,
    }
    # One statement claims the key: inserted, or taken over from an expired record. A
    # concurrent first use of the key makes PostgreSQL wait for it, then find it here.
    claim = dialect_insert_for(dialect_name(session), IdempotencyRecord).values(**fresh)
    claimed = await session.execute(
        claim.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=[IdempotencyRecord.tenant_id, IdempotencyRecord.key],
            set_={name: value for name, value in fresh.items() if name not in ("tenant_id", "key")},
            where=IdempotencyRecord.expires_at <= now,
        ).returning(IdempotencyRecord.key)
    )
    if claimed.first() is not None:
        record = IdempotencyRecord(**fresh)
        make_transient_to_detached(record)
        session.add(record)
        return record
    existing = await session.get(IdempotencyRecord, (tenant_id, key))
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


def complete(record: IdempotencyRecord, response: StoredResponse) -> None:
    record.status_code = response.status_code
    record.content_type = response.content_type
    record.location = response.location
    record.etag = response.etag
    record.body = response.body


async def purge_expired(session: AsyncSession, *, clock: Clock = utc_now) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= clock())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
