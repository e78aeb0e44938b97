"""Signed, expiring tokens for people without an API key (a shopper's order link).

The key is ``CHANNELHUB_SECRET_KEY`` when set; otherwise one is generated on first use and
kept in the database, so every process of a deployment signs and verifies alike.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.clock import utc_now
from channelhub.platform.db.base import Base
from channelhub.platform.db.core import dialect_insert
from channelhub.platform.errors import UnauthenticatedError


class InstanceSecret(Base):
    """A secret this installation generated for itself (never exposed by any API)."""

    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


async def _stored_secret(session: AsyncSession, name: str) -> str:
    """The named secret, created on first use; concurrent first uses agree on one."""
    await session.execute(
        dialect_insert(session, InstanceSecret)
        .values(name=name, value=secrets.token_urlsafe(48), created_at=utc_now())
        .on_conflict_do_nothing()  # type: ignore[attr-defined]
    )
    value = await session.scalar(select(InstanceSecret.value).where(InstanceSecret.name == name))
    assert value is not None
    return value


class Signer:
    """Signs small JSON payloads under one purpose (``salt``) with a maximum age."""

    def __init__(self, key: str, purpose: str) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt=purpose)

    def sign(self, payload: dict[str, Any]) -> str:
        return self._serializer.dumps(payload)

    def verify(self, token: str, *, max_age_s: int) -> dict[str, Any]:
        """The payload, or UnauthenticatedError (one message for forged and expired)."""
        try:
            payload = self._serializer.loads(token, max_age=max_age_s)
        except SignatureExpired as exc:
            raise UnauthenticatedError("this link has expired; look the order up again") from exc
        except BadSignature as exc:
            raise UnauthenticatedError("this link is not valid") from exc
        if not isinstance(payload, dict):
            raise UnauthenticatedError("this link is not valid")
        return payload


_KNOWN: dict[str, str] = {}
"""Generated keys already read, per database: they never change once created."""


async def signing_key(session: AsyncSession, configured: str | None, *, create: bool) -> str | None:
    """The key to sign (``create``: made on first use, in the caller's transaction) or to
    verify with (None when no key was ever made, so nothing can be valid)."""
    if configured:
        return configured
    database = str(session.get_bind().engine.url)
    if database in _KNOWN:
        return _KNOWN[database]
    if create:
        value: str | None = await _stored_secret(session, "signing_key")
    else:
        value = await session.scalar(
            select(InstanceSecret.value).where(InstanceSecret.name == "signing_key")
        )
    if value is not None:
        _KNOWN[database] = value
    return value
