"""Order tokens: what a shopper's link or successful lookup carries instead of an API key."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.config import Settings
from channelhub.platform.errors import UnauthenticatedError
from channelhub.platform.signing import Signer, signing_key

ORDER_LINK_MAX_AGE = 30 * 24 * 3600
"""Seconds an order link stays valid."""
_PURPOSE = "channelhub.order-link"


def _configured(settings: Settings) -> str | None:
    return settings.secret_key.get_secret_value() if settings.secret_key else None


async def sign_order(
    session: AsyncSession, settings: Settings, tenant_id: str, order_id: str
) -> str:
    key = await signing_key(session, _configured(settings), create=True)
    assert key is not None
    return Signer(key, _PURPOSE).sign({"tenant": tenant_id, "order": order_id})


async def verify_order(session: AsyncSession, settings: Settings, token: str) -> tuple[str, str]:
    """(tenant id, order id) of a valid token, or UnauthenticatedError."""
    key = await signing_key(session, _configured(settings), create=False)
    if key is None:
        raise UnauthenticatedError("this link is not valid")
    payload = Signer(key, _PURPOSE).verify(token, max_age_s=ORDER_LINK_MAX_AGE)
    tenant, order = payload.get("tenant"), payload.get("order")
    if not isinstance(tenant, str) or not isinstance(order, str):
        raise UnauthenticatedError("this link is not valid")
    return tenant, order
