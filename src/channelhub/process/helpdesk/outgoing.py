"""E-mail replies waiting to be sent: claimed with a lease, settled after the attempt.

A reply is claimed by pushing its ``send_after`` past a lease, so a sender that dies
mid-send leaves it to be tried again when the lease ends. A failure that certainly did
not send is retried (doubling delays) up to ``max_attempts``; any other is final, because
sending twice is worse than an agent seeing "failed" and resending by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.process.helpdesk.models import Mailbox, TicketMessage

_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class OutgoingMail:
    id: str
    tenant_id: str
    ticket_id: str
    message_id: str
    from_address: str
    from_name: str
    to: list[str]
    subject: str
    text: str
    in_reply_to: str
    references: list[str]
    attempt: int


async def claim_due(session: AsyncSession, now: datetime, limit: int = 50) -> list[OutgoingMail]:
    rows = (
        await session.scalars(
            select(TicketMessage)
            .where(TicketMessage.send_status == "pending", TicketMessage.send_after <= now)
            .order_by(TicketMessage.send_after)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    names = dict(
        (
            await session.execute(
                select(Mailbox.address, Mailbox.display_name).where(
                    Mailbox.address.in_({row.from_address for row in rows})
                )
            )
        ).all()
    )
    claimed = []
    for row in rows:
        row.send_after = now + _LEASE
        row.send_attempts += 1
        claimed.append(
            OutgoingMail(
                id=row.id,
                tenant_id=row.tenant_id,
                ticket_id=row.ticket_id,
                message_id=row.message_id,
                from_address=row.from_address,
                from_name=names.get(row.from_address, ""),
                to=list(row.to_addresses),
                subject=row.subject,
                text=row.text,
                in_reply_to=row.in_reply_to,
                references=list(row.references),
                attempt=row.send_attempts,
            )
        )
    return claimed


async def settle(
    session: AsyncSession,
    mail: OutgoingMail,
    now: datetime,
    *,
    error: str = "",
    retry: bool = False,
    max_attempts: int = 5,
    retry_base_s: float = 60.0,
) -> None:
    """Record how the attempt went (only if this claim still holds the message)."""
    row = await session.get(TicketMessage, mail.id, with_for_update=True)
    if row is None or row.send_status != "pending" or row.send_attempts != mail.attempt:
        return
    row.send_error = error[:2000]
    if not error:
        row.send_status, row.sent_at, row.send_after = "sent", now, None
    elif retry and mail.attempt < max_attempts:
        row.send_after = now + timedelta(seconds=retry_base_s * 2 ** (mail.attempt - 1))
    else:
        row.send_status, row.send_after = "failed", None
