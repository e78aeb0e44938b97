"""The loyalty jobs: points expire, and tiers by points follow the moving period.

Both only write what the ledger replay already says (see ``ledger``): the balance a member
sees never waits for a job. The expiry job records each expired lot as an ``expire`` entry
(with ``loyalty.points_expired``); the tier review moves members whose earnings fell out of
the period (``loyalty.tier_downgraded``/``tier_left``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.database import Database
from channelhub.platform.events.outbox import record_events
from channelhub.process.loyalty import schemas
from channelhub.process.loyalty.ledger import replay
from channelhub.process.loyalty.members import Movement, entries_of, record, review_tier
from channelhub.process.loyalty.models import (
    REVIEW_DUE,
    LedgerEntry,
    LoyaltyMember,
    LoyaltyProgram,
)

EXPIRY_SOURCE = "expiry"
RECORD_WITHIN = timedelta(days=30)
"""Lots that expired longer ago than this are not looked at again (the query stays small
as the ledger grows). Their balance is right regardless; only the ``expire`` entry and its
event would be missing, after a month with no job running."""


async def expire_points(db: Database, *, limit: int = 200, clock: Clock = utc_now) -> int:
    """Record the lots that reached their expiry with what was left of them; how many
    members had points expire."""
    now = clock()
    expiry = aliased(LedgerEntry)
    async with db.transaction() as session:
        member_ids = list(
            await session.scalars(
                select(LedgerEntry.member_id)
                .where(
                    LedgerEntry.expires_at <= now,
                    LedgerEntry.expires_at > now - RECORD_WITHIN,
                    ~exists().where(
                        and_(
                            expiry.lot_id == LedgerEntry.id,
                            expiry.kind == schemas.EntryKind.expire.value,
                        )
                    ),
                )
                .distinct()
                .limit(limit)
            )
        )
        touched = 0
        for member_id in member_ids:
            member = await session.scalar(
                select(LoyaltyMember).where(LoyaltyMember.id == member_id).with_for_update()
            )
            if member is None:
                continue
            program = await session.get_one(LoyaltyProgram, member.program_id)
            entries = await entries_of(session, member.id)
            recorded = {e.lot_id for e in entries if e.kind == schemas.EntryKind.expire.value}
            movements = [
                Movement(
                    schemas.EntryKind.expire,
                    -left,
                    EXPIRY_SOURCE,
                    lot_id,
                    reason="expired",
                    lot_id=lot_id,
                )
                for lot_id, left in replay(entries, now).expired_by_lot.items()
                if lot_id not in recorded
            ]
            written = await record(session, program, member, movements, now)
            touched += any(entry.points for entry in written)
        return touched


async def review_tiers(db: Database, *, limit: int = 500, clock: Clock = utc_now) -> int:
    """Re-check, oldest-reviewed first, the members in a tier whose last change or review
    is over a day old (earnings may have left the period), and every member of a program
    whose tiers were changed (marked with ``REVIEW_DUE``); how many moved."""
    now = clock()
    async with db.transaction() as session:
        rows = (
            await session.execute(
                select(LoyaltyMember, LoyaltyProgram)
                .join(LoyaltyProgram, LoyaltyProgram.id == LoyaltyMember.program_id)
                .where(
                    LoyaltyMember.updated_at <= now - timedelta(days=1),
                    or_(LoyaltyMember.tier != "", LoyaltyMember.updated_at <= REVIEW_DUE),
                )
                .order_by(LoyaltyMember.updated_at)
                .limit(limit)
                .with_for_update(of=LoyaltyMember, skip_locked=True)
            )
        ).all()
        moved = []
        for member, program in rows:
            member.updated_at = now
            moved += await review_tier(
                session, program, member, await entries_of(session, member.id), now
            )
        await record_events(session, moved, clock=lambda: now)
        return len(moved)
