"""The hub's promotions job: say when campaigns start and end.

A campaign applies by its dates whatever this job does; the job only announces the change
(``campaign.started``, ``campaign.ended``) once each, so that a marketing tool or the
storefront can follow. A campaign whose dates are changed is announced again.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.database import Database
from channelhub.platform.events.outbox import PendingEvent, record_events
from channelhub.process.promotions.campaigns import campaign_views
from channelhub.process.promotions.events import CAMPAIGN_ENDED, CAMPAIGN_STARTED
from channelhub.process.promotions.models import Campaign


async def announce_schedules(db: Database, *, limit: int = 200, clock: Clock = utc_now) -> int:
    """Announce the campaigns that started or ended since the last run; how many."""
    now = clock()
    async with db.transaction() as session:
        due = list(
            await session.scalars(
                select(Campaign)
                .where(
                    Campaign.active,
                    or_(
                        ~Campaign.started_announced
                        & or_(Campaign.starts_at.is_(None), Campaign.starts_at <= now)
                        & or_(Campaign.ends_at.is_(None), Campaign.ends_at > now),
                        ~Campaign.ended_announced & (Campaign.ends_at <= now),
                    ),
                )
                .order_by(Campaign.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        events = []
        for campaign, view in zip(due, await campaign_views(session, due, now), strict=True):
            if campaign.ends_at is not None and campaign.ends_at <= now:
                campaign.ended_announced = campaign.started_announced = True
                kind = CAMPAIGN_ENDED
            else:
                campaign.started_announced = True
                kind = CAMPAIGN_STARTED
            events.append(PendingEvent(kind, campaign.tenant_id, campaign.id, view))
        await record_events(session, events, clock=clock)
    return len(due)
