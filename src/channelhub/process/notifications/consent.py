"""Who may be sent what, when: consent per customer and channel, SMS quiet hours, and the
signed one-click unsubscribe links in e-mails.

Defaults, when the customer never said: order e-mails are transactional (the customer
gave the address to hear about the order), so they go until the customer unsubscribes;
SMS and push go only after an explicit opt-in, unless the tenant's settings say its
customers agreed at checkout (``sms_requires_opt_in`` / ``push_requires_opt_in`` false).
An explicit answer always wins over a default.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.db.core import dialect_insert
from channelhub.platform.errors import UnauthenticatedError
from channelhub.platform.ids import new_id
from channelhub.platform.signing import Signer, signing_key
from channelhub.process.notifications.models import NotificationConsent, NotificationSettings
from channelhub.process.notifications.schemas import Channel, contact_key

UNSUBSCRIBE_PATH = "/v1/self-service/unsubscribe"
_PURPOSE = "channelhub.unsubscribe"
UNSUBSCRIBE_MAX_AGE = 2 * 365 * 24 * 3600
"""Seconds an unsubscribe link works: old e-mails must still let people leave."""


async def refusal(
    session: AsyncSession,
    tenant_id: str,
    channel: Channel,
    contact: str,
    settings: NotificationSettings | None,
) -> str | None:
    """Why the customer must not get this channel, or None when they may."""
    row = await session.scalar(
        select(NotificationConsent).where(
            NotificationConsent.tenant_id == tenant_id,
            NotificationConsent.channel == channel.value,
            NotificationConsent.contact == contact_key(channel, contact),
        )
    )
    if row is not None:
        if row.subscribed:
            return None
        return f"the customer opted out of {channel.value} ({row.source})"
    if channel is Channel.email:
        return None
    requires = (
        settings is None
        or (channel is Channel.sms and settings.sms_requires_opt_in)
        or (channel is Channel.push and settings.push_requires_opt_in)
    )
    return f"the customer has not opted in to {channel.value}" if requires else None


async def set_consent(
    session: AsyncSession,
    tenant_id: str,
    channel: Channel,
    contact: str,
    *,
    subscribed: bool,
    source: str,
    now: datetime,
) -> NotificationConsent:
    """Record the customer's answer (the latest one wins; concurrent answers never make two
    rows)."""
    key = contact_key(channel, contact)
    await session.execute(
        dialect_insert(session, NotificationConsent)
        .values(
            id=new_id("ncs"),
            tenant_id=tenant_id,
            channel=channel.value,
            contact=key,
            subscribed=subscribed,
            source=source,
            updated_at=now,
        )
        .on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["tenant_id", "channel", "contact"],
            set_={"subscribed": subscribed, "source": source, "updated_at": now},
        )
    )
    row = await session.scalar(
        select(NotificationConsent)
        .where(
            NotificationConsent.tenant_id == tenant_id,
            NotificationConsent.channel == channel.value,
            NotificationConsent.contact == key,
        )
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


# --- quiet hours ------------------------------------------------------------------------


def quiet_until(now: datetime, start: time, end: time, timezone: str) -> datetime | None:
    """The end of the quiet hours ``now`` falls in (UTC), or None outside them. Hours may
    span midnight (21:00-08:00); equal start and end mean no quiet hours."""
    if start == end:
        return None
    zone = zoneinfo.ZoneInfo(timezone)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        day = local.date()
    else:
        inside = clock >= start or clock < end
        day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=zone).astimezone(now.tzinfo)


# --- unsubscribe links ------------------------------------------------------------------


@dataclass(frozen=True)
class Unsubscribe:
    tenant_id: str
    channel: Channel
    contact: str
    language: str


async def _signer(session: AsyncSession, secret_key: str | None, *, create: bool) -> Signer | None:
    key = await signing_key(session, secret_key, create=create)
    return None if key is None else Signer(key, _PURPOSE)


async def unsubscribe_url(
    session: AsyncSession, secret_key: str | None, public_url: str, target: Unsubscribe
) -> str:
    signer = await _signer(session, secret_key, create=True)
    assert signer is not None
    token = signer.sign(
        {
            "t": target.tenant_id,
            "c": target.channel.value,
            "k": contact_key(target.channel, target.contact),
            "l": target.language,
        }
    )
    return f"{public_url.rstrip('/')}{UNSUBSCRIBE_PATH}?token={quote(token)}"


async def read_token(session: AsyncSession, secret_key: str | None, token: str) -> Unsubscribe:
    """What a link unsubscribes, or UnauthenticatedError for a forged or expired one."""
    signer = await _signer(session, secret_key, create=False)
    if signer is None:
        raise UnauthenticatedError("this link is not valid")
    payload = signer.verify(token, max_age_s=UNSUBSCRIBE_MAX_AGE)
    tenant, channel, contact, language = (payload.get(k) for k in ("t", "c", "k", "l"))
    if not all(isinstance(v, str) for v in (tenant, channel, contact, language)) or (
        channel not in Channel.__members__
    ):
        raise UnauthenticatedError("this link is not valid")
    return Unsubscribe(str(tenant), Channel(str(channel)), str(contact), str(language))
