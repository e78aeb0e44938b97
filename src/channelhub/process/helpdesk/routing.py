"""Routing: the first enabled rule (by position) whose conditions all hold decides the
queue, tags, priority and assignee of a new ticket."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.process.helpdesk.models import Agent, RoutingRule
from channelhub.process.helpdesk.schemas import Conditions


@dataclass(frozen=True)
class Facts:
    """What rules look at."""

    sales_channel_id: str | None
    channel: str
    language: str
    intent: str
    confidence: float
    order_total: int | None
    customer_tier: str


@dataclass
class Decision:
    rule_id: str | None = None
    queue_id: str | None = None
    tags: list[str] = field(default_factory=list)
    priority: str | None = None
    assignee_id: str | None = None
    round_robin: bool = False


def holds(conditions: Conditions, facts: Facts) -> bool:
    c = conditions
    checks = (
        not c.sales_channel_ids or facts.sales_channel_id in c.sales_channel_ids,
        not c.channels or facts.channel in c.channels,
        not c.languages or facts.language in c.languages,
        not c.intents or facts.intent in c.intents,
        facts.confidence >= c.min_confidence,
        c.min_order_total is None
        or (facts.order_total is not None and facts.order_total >= c.min_order_total),
        c.max_order_total is None
        or (facts.order_total is not None and facts.order_total <= c.max_order_total),
        not c.customer_tiers or facts.customer_tier in c.customer_tiers,
    )
    return all(checks)


async def decide(session: AsyncSession, tenant_id: str, facts: Facts) -> Decision:
    rules = (
        await session.scalars(
            select(RoutingRule)
            .where(RoutingRule.tenant_id == tenant_id, RoutingRule.enabled.is_(True))
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    ).all()
    for rule in rules:
        if holds(Conditions.model_validate(rule.conditions), facts):
            return Decision(
                rule_id=rule.id,
                queue_id=rule.queue_id,
                tags=list(rule.tags),
                priority=rule.priority,
                assignee_id=rule.assignee_id,
                round_robin=rule.round_robin,
            )
    return Decision()


async def next_agent(session: AsyncSession, tenant_id: str, now: datetime) -> str | None:
    """The online agent who has waited longest for a ticket. Row-locked, skipping agents
    another transaction is assigning, so two tickets routed at once go to two agents on
    PostgreSQL."""
    agent = (
        await session.scalars(
            select(Agent)
            .where(Agent.tenant_id == tenant_id, Agent.online.is_(True))
            .order_by(Agent.last_assigned_at.asc().nulls_first(), Agent.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
    ).first()
    if agent is None:
        return None
    agent.last_assigned_at = now
    return agent.id
