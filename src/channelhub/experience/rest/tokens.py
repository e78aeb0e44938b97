"""Signed links: what a shopper's order link or a ticket's rating link carries instead of an
API key."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.config import Settings
from channelhub.platform.errors import UnauthenticatedError
from channelhub.platform.signing import Signer, signing_key

ORDER_LINK_MAX_AGE = 30 * 24 * 3600
"""Seconds an order link stays valid."""
RATING_LINK_MAX_AGE = 90 * 24 * 3600
"""Seconds a ticket's rating link stays valid."""
_ORDER = "channelhub.order-link"
_RATING = "channelhub.ticket-rating"


def _configured(settings: Settings) -> str | None:
    return settings.secret_key.get_secret_value() if settings.secret_key else None


async def _sign(
    session: AsyncSession,
    settings: Settings,
    purpose: str,
    tenant_id: str,
    subject: tuple[str, str],
) -> str:
    key = await signing_key(session, _configured(settings), create=True)
    assert key is not None
    name, value = subject
    return Signer(key, purpose).sign({"tenant": tenant_id, name: value})


async def _verify(
    session: AsyncSession, settings: Settings, purpose: str, token: str, name: str, max_age_s: int
) -> tuple[str, str]:
    key = await signing_key(session, _configured(settings), create=False)
    if key is None:
        raise UnauthenticatedError("this link is not valid")
    payload = Signer(key, purpose).verify(token, max_age_s=max_age_s)
    tenant, subject = payload.get("tenant"), payload.get(name)
    if not isinstance(tenant, str) or not isinstance(subject, str):
        raise UnauthenticatedError("this link is not valid")
    return tenant, subject


async def sign_order(
    session: AsyncSession, settings: Settings, tenant_id: str, order_id: str
) -> str:
    return await _sign(session, settings, _ORDER, tenant_id, ("order", order_id))


async def verify_order(session: AsyncSession, settings: Settings, token: str) -> tuple[str, str]:
    """(tenant id, order id) of a valid token, or UnauthenticatedError."""
    return await _verify(session, settings, _ORDER, token, "order", ORDER_LINK_MAX_AGE)


async def sign_rating(
    session: AsyncSession, settings: Settings, tenant_id: str, ticket_id: str
) -> str:
    return await _sign(session, settings, _RATING, tenant_id, ("ticket", ticket_id))


async def can_sign(session: AsyncSession, settings: Settings) -> bool:
    """Whether a signing key exists already (a read-only request must not create one: it
    would be rolled back while this process kept using it)."""
    return await signing_key(session, _configured(settings), create=False) is not None


async def verify_rating(session: AsyncSession, settings: Settings, token: str) -> tuple[str, str]:
    """(tenant id, ticket id) of a valid rating token, or UnauthenticatedError."""
    return await _verify(session, settings, _RATING, token, "ticket", RATING_LINK_MAX_AGE)
