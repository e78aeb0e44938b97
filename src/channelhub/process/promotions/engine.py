"""Which discounts apply to a purchase, in which order, and what each takes off.

Validation, redemption and qualification all go through ``evaluate``, so a code that
validates is redeemed for exactly the amount shown (unless a limit was reached meanwhile,
which redemption re-checks atomically).

Stacking: the codes given and the automatic campaigns that apply are ordered by campaign
priority (higher first), codes before automatic offers at equal priority, then codes in the
order given. Each applies to what the ones before it left to pay. An ``exclusive`` campaign
applies only alone: after something applied it is refused as ``not_combinable``, and once
it applied everything after it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

import orjson
from pydantic import TypeAdapter
from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.db.core import execute_core, table_of
from channelhub.platform.errors import InvalidError
from channelhub.process.channels.models import SalesChannel
from channelhub.process.customers.membership import segment_keys_of
from channelhub.process.customers.models import Customer
from channelhub.process.promotions import schemas
from channelhub.process.promotions.discounts import (
    NEEDS_CURRENCY,
    Cut,
    Effect,
    Ledger,
    cut_of,
)
from channelhub.process.promotions.models import Campaign, CustomerUsage, PromotionSettings, Voucher
from channelhub.process.promotions.rules import (
    CartFacts,
    CustomerFacts,
    Facts,
    Rule,
    names_field,
    unmet,
)
from channelhub.process.promotions.schemas import Reason, Stacking, normalise_code

_EFFECT: TypeAdapter[Effect] = TypeAdapter(Effect)
_RULE: TypeAdapter[Rule] = TypeAdapter(Rule)
_PARSED_MAX = 4096
_T = TypeVar("_T")
_effects: dict[bytes, Effect] = {}
_rules: dict[bytes, Rule] = {}


def effect_of(campaign: Campaign) -> Effect:
    return _parsed(_effects, _EFFECT, campaign.effect)


def rules_of(campaign: Campaign) -> Rule | None:
    return None if campaign.rules is None else _parsed(_rules, _RULE, campaign.rules)


def _parsed(cache: dict[bytes, _T], adapter: TypeAdapter[_T], stored: dict[str, Any]) -> _T:
    """The stored JSON as its model, validated once per distinct document rather than on
    every request (a request checks each campaign's effect and rules several times). Keyed
    by the document itself, so a campaign whose rules change is parsed anew; the models are
    never mutated, so sharing them is safe."""
    key = orjson.dumps(stored)
    found = cache.get(key)
    if found is None:
        if len(cache) >= _PARSED_MAX:
            cache.clear()
        found = cache[key] = adapter.validate_python(stored)
    return found


@dataclass
class Candidate:
    """A campaign that may apply: through a code given, or by itself."""

    campaign: Campaign
    voucher: Voucher | None = None
    position: int = 0

    @property
    def code(self) -> str | None:
        return self.voucher.code if self.voucher is not None else None

    def refused(self, reason: Reason, detail: str) -> schemas.Refused:
        return schemas.Refused(
            campaign_id=self.campaign.id, code=self.code, reason=reason, detail=detail
        )


@dataclass
class Buyer:
    id: str | None
    email: str
    facts: CustomerFacts

    @property
    def key(self) -> str | None:
        return customer_key(self.id, self.email)


def customer_key(customer_id: str | None, email: str) -> str | None:
    """Whom per-customer limits count: the customer, else their e-mail address."""
    if customer_id is not None:
        return customer_id
    return f"email:{email}" if email else None


@dataclass
class Evaluation:
    purchase: schemas.Purchase
    buyer: Buyer
    start: Ledger
    applied: list[tuple[Candidate, Cut]] = field(default_factory=list)
    refused: list[schemas.Refused] = field(default_factory=list)
    codes_refused: bool = False

    def refuse_code(self, code: str, reason: Reason, detail: str) -> None:
        """A code given that names no campaign to check."""
        self.refused.append(
            schemas.Refused(campaign_id=None, code=code, reason=reason, detail=detail)
        )
        self.codes_refused = True

    def applied_items(self) -> list[schemas.Applied]:
        return [applied_item(candidate, cut) for candidate, cut in self.applied]

    def validation(self) -> schemas.Validation:
        discount = sum(cut.amount for _, cut in self.applied)
        return schemas.Validation(
            valid=not self.codes_refused,
            currency=self.purchase.cart.currency,
            subtotal=sum(self.start.remaining),
            shipping=self.start.shipping,
            discount=discount,
            total=self.start.total - discount,
            applied=self.applied_items(),
            refused=self.refused,
        )


def applied_item(candidate: Candidate, cut: Cut) -> schemas.Applied:
    return schemas.Applied(
        campaign_id=candidate.campaign.id,
        campaign_name=candidate.campaign.name,
        code=candidate.code,
        kind=str(candidate.campaign.effect["kind"]),
        discount=cut.amount,
        line_discounts=list(cut.lines),
        shipping_discount=cut.shipping,
    )


async def max_codes(session: AsyncSession, tenant_id: str) -> int:
    row = await session.get(PromotionSettings, tenant_id)
    return row.max_codes_per_order if row is not None else schemas.Settings().max_codes_per_order


async def evaluate(
    session: AsyncSession,
    tenant_id: str,
    purchase: schemas.Purchase,
    codes: list[str],
    now: datetime,
) -> Evaluation:
    """Check every code given and every automatic campaign against the purchase, then
    stack what applies. Reads only."""
    if len(codes) > 1 and len(codes) > (limit := await max_codes(session, tenant_id)):
        raise InvalidError(
            f"{len(codes)} codes given; an order may use {limit} at most",
            field="codes",
            code="too_many_codes",
        )
    buyer = await _buyer(session, tenant_id, purchase.customer)
    brand = await _brand_of(session, tenant_id, purchase.channel_id)
    cart = _cart_facts(purchase.cart)
    evaluation = Evaluation(purchase, buyer, Ledger.of(cart))
    candidates = await _candidates(session, tenant_id, codes, now, evaluation)
    if buyer.id is not None and any(
        names_field(c.campaign.rules, "customer.segments") for c in candidates
    ):
        # Read only when a rule asks: most evaluations never pay for the query.
        segments = frozenset(await segment_keys_of(session, tenant_id, buyer.id))
        buyer.facts = replace(buyer.facts, segments=segments)
    usage = await _usage(session, buyer, candidates)
    facts_of = _FactsFor(cart, buyer, purchase, brand, now)
    eligible: list[Candidate] = []
    for candidate in candidates:
        refusal = _refusal(candidate, purchase, brand, facts_of(candidate.campaign), usage, now)
        if refusal is None:
            eligible.append(candidate)
        else:
            _refuse(evaluation, candidate, refusal)
    _stack(evaluation, eligible)
    return evaluation


def _refuse(evaluation: Evaluation, candidate: Candidate, refusal: schemas.Refused) -> None:
    evaluation.refused.append(refusal)
    if candidate.voucher is not None:
        evaluation.codes_refused = True


class _FactsFor:
    """The facts for a campaign's rules (the time zone is the campaign's)."""

    def __init__(
        self,
        cart: CartFacts,
        buyer: Buyer,
        purchase: schemas.Purchase,
        brand: str | None,
        now: datetime,
    ) -> None:
        self._base = Facts(
            cart=cart,
            customer=buyer.facts,
            channel=purchase.channel_id,
            brand=brand,
            location=purchase.location_id,
            now=now,
        )

    def __call__(self, campaign: Campaign) -> Facts:
        if campaign.timezone == self._base.timezone:
            return self._base
        return Facts(**{**self._base.__dict__, "timezone": campaign.timezone})


def _cart_facts(cart: schemas.Cart) -> CartFacts:
    return CartFacts(
        lines=tuple(
            CartFacts.Line(line.sku, line.quantity, line.unit_price, tuple(line.categories))
            for line in cart.lines
        ),
        shipping=cart.shipping,
    )


_CUSTOMERS = table_of(Customer)
_BUYER_COLUMNS = (_CUSTOMERS.c.id, _CUSTOMERS.c.email, _CUSTOMERS.c.tier, _CUSTOMERS.c.attributes)
_BUYER_BY_ID = select(*_BUYER_COLUMNS).where(
    _CUSTOMERS.c.tenant_id == bindparam("tenant_id"), _CUSTOMERS.c.id == bindparam("customer_id")
)
_BUYER_BY_EMAIL = (
    select(*_BUYER_COLUMNS)
    .where(
        _CUSTOMERS.c.tenant_id == bindparam("tenant_id"),
        _CUSTOMERS.c.email == bindparam("email"),
    )
    .order_by(_CUSTOMERS.c.id)
    .limit(1)
)
_CHANNEL_BRAND = select(SalesChannel.brand_id).where(
    SalesChannel.tenant_id == bindparam("tenant_id"), SalesChannel.id == bindparam("channel_id")
)
_VOUCHERS_BY_CODE = select(Voucher).where(
    Voucher.tenant_id == bindparam("tenant_id"),
    Voucher.code.in_(bindparam("codes", expanding=True)),
)
_NOW = bindparam("now", type_=table_of(Campaign).c.starts_at.type)
_CANDIDATE_CAMPAIGNS = select(Campaign).where(
    Campaign.tenant_id == bindparam("tenant_id"),
    or_(
        Campaign.id.in_(bindparam("ids", expanding=True)),
        (Campaign.type == schemas.CampaignType.automatic.value)
        & Campaign.active
        & or_(Campaign.starts_at.is_(None), Campaign.starts_at <= _NOW)
        & or_(Campaign.ends_at.is_(None), Campaign.ends_at > _NOW),
    ),
)
_USAGE = table_of(CustomerUsage)
_USES = select(_USAGE.c.campaign_id, _USAGE.c.uses).where(
    _USAGE.c.campaign_id.in_(bindparam("campaign_ids", expanding=True)),
    _USAGE.c.customer_key == bindparam("customer_key"),
)
"""Evaluation's reads, built once: every validation and redeem runs them."""


async def _buyer(session: AsyncSession, tenant_id: str, ref: schemas.CustomerRef | None) -> Buyer:
    if ref is None:
        return Buyer(None, "", CustomerFacts())
    if ref.id is not None:
        found = await execute_core(
            session, _BUYER_BY_ID, {"tenant_id": tenant_id, "customer_id": ref.id}
        )
        row = found.first()
        if row is None:
            raise InvalidError(
                f"no customer {ref.id!r}", field="customer.id", code="customer_not_found"
            )
    else:
        found = await execute_core(
            session, _BUYER_BY_EMAIL, {"tenant_id": tenant_id, "email": ref.email}
        )
        row = found.first()
    if row is None:
        email = ref.email or ""
        return Buyer(None, email, CustomerFacts(email=email or None))
    metadata: dict[str, Any] = dict(row.attributes or {})
    return Buyer(
        row.id,
        row.email,
        CustomerFacts(id=row.id, email=row.email or None, tier=row.tier, metadata=metadata),
    )


async def _brand_of(session: AsyncSession, tenant_id: str, channel_id: str | None) -> str | None:
    if channel_id is None:
        return None
    brand = await session.scalar(_CHANNEL_BRAND, {"tenant_id": tenant_id, "channel_id": channel_id})
    if brand is None:
        raise InvalidError(
            f"no sales channel {channel_id!r}", field="channel_id", code="sales_channel_not_found"
        )
    return brand


async def _candidates(
    session: AsyncSession,
    tenant_id: str,
    codes: list[str],
    now: datetime,
    evaluation: Evaluation,
) -> list[Candidate]:
    wanted = [normalise_code(code) for code in codes]
    found = (
        {
            voucher.code: voucher
            for voucher in await session.scalars(
                _VOUCHERS_BY_CODE, {"tenant_id": tenant_id, "codes": wanted}
            )
        }
        if wanted
        else {}
    )
    campaign_ids = sorted({voucher.campaign_id for voucher in found.values()})
    campaigns = {
        campaign.id: campaign
        for campaign in await session.scalars(
            _CANDIDATE_CAMPAIGNS, {"tenant_id": tenant_id, "ids": campaign_ids, "now": now}
        )
    }
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for position, code in enumerate(wanted):
        voucher = found.get(code)
        if code in seen:
            evaluation.refuse_code(code, Reason.duplicate_code, "the code is given twice")
        elif voucher is None:
            evaluation.refuse_code(code, Reason.voucher_not_found, "no such code")
        else:
            candidates.append(Candidate(campaigns[voucher.campaign_id], voucher, position))
        seen.add(code)
    candidates.extend(
        Candidate(campaign, None, len(wanted))
        for campaign in sorted(campaigns.values(), key=lambda c: c.id)
        if campaign.type == schemas.CampaignType.automatic.value
    )
    return candidates


async def _usage(
    session: AsyncSession, buyer: Buyer, candidates: list[Candidate]
) -> dict[str, int]:
    limited = {c.campaign.id for c in candidates if c.campaign.per_customer is not None}
    if not limited or buyer.key is None:
        return {}
    rows = await execute_core(
        session, _USES, {"campaign_ids": sorted(limited), "customer_key": buyer.key}
    )
    return {str(campaign_id): int(uses) for campaign_id, uses in rows}


def _refusal(
    candidate: Candidate,
    purchase: schemas.Purchase,
    brand: str | None,
    facts: Facts,
    usage: dict[str, int],
    now: datetime,
) -> schemas.Refused | None:
    """Why the candidate does not apply to this purchase on its own, if it does not."""
    campaign, voucher = candidate.campaign, candidate.voucher
    refuse = candidate.refused
    if voucher is not None:
        if not voucher.active:
            return refuse(Reason.voucher_disabled, "the code is disabled")
        if voucher.expires_at is not None and voucher.expires_at <= now:
            return refuse(Reason.voucher_expired, f"the code expired at {voucher.expires_at}")
        if voucher.customer_id is not None and voucher.customer_id != facts.customer.id:
            return refuse(Reason.not_your_voucher, "the code was given to another customer")
        if voucher.max_redemptions is not None and voucher.redemptions >= voucher.max_redemptions:
            return refuse(Reason.code_exhausted, "the code has been used as often as it may")
    if not campaign.active:
        return refuse(Reason.campaign_disabled, "the campaign is disabled")
    if campaign.starts_at is not None and campaign.starts_at > now:
        return refuse(Reason.campaign_not_started, f"the campaign starts at {campaign.starts_at}")
    if campaign.ends_at is not None and campaign.ends_at <= now:
        return refuse(Reason.campaign_ended, f"the campaign ended at {campaign.ends_at}")
    if (
        campaign.budget_redemptions is not None
        and campaign.redemptions >= campaign.budget_redemptions
    ):
        return refuse(Reason.budget_exhausted, "the campaign has no redemptions left")
    if campaign.budget_amount is not None and campaign.spent >= campaign.budget_amount:
        return refuse(Reason.budget_exhausted, "the campaign has no budget left")
    channels = campaign.channel_ids.get("ids", [])
    if channels and purchase.channel_id is None:
        return refuse(Reason.channel_required, "the campaign is limited to some sales channels")
    if channels and purchase.channel_id not in channels:
        return refuse(Reason.wrong_channel, "the campaign is not offered in this sales channel")
    brands = campaign.brand_ids.get("ids", [])
    if brands and brand not in brands:
        return refuse(Reason.wrong_brand, "the campaign is not offered for this brand")
    if campaign.per_customer is not None:
        if facts.customer.id is None and facts.customer.email is None:
            return refuse(Reason.customer_required, "the campaign counts uses per customer")
        if usage.get(campaign.id, 0) >= campaign.per_customer:
            return refuse(Reason.customer_limit_reached, "the customer used it as often as allowed")
    effect = effect_of(campaign)
    if isinstance(effect, NEEDS_CURRENCY) and campaign.currency != purchase.cart.currency:
        return refuse(
            Reason.currency_mismatch, f"the campaign's amounts are in {campaign.currency}"
        )
    if campaign.budget_amount is not None and campaign.currency != purchase.cart.currency:
        return refuse(Reason.currency_mismatch, f"the campaign's budget is in {campaign.currency}")
    reason = unmet(rules_of(campaign), facts)
    if reason is not None:
        return refuse(Reason.rules_not_met, f"not met: {reason}")
    return None


def _stack(evaluation: Evaluation, eligible: list[Candidate]) -> None:
    ordered = sorted(
        eligible,
        key=lambda c: (-c.campaign.priority, c.voucher is None, c.position, c.campaign.id),
    )
    ledger = evaluation.start.copy()
    exclusive_applied = False
    for candidate in ordered:
        if any(done.campaign.id == candidate.campaign.id for done, _ in evaluation.applied):
            _refuse(
                evaluation,
                candidate,
                candidate.refused(
                    Reason.campaign_already_applied, "another code of this campaign applies"
                ),
            )
            continue
        exclusive = candidate.campaign.stacking == Stacking.exclusive.value
        if exclusive_applied or (exclusive and evaluation.applied):
            _refuse(
                evaluation,
                candidate,
                candidate.refused(Reason.not_combinable, "an exclusive offer cannot be combined"),
            )
            continue
        cut = cut_of(effect_of(candidate.campaign), ledger)
        budget = candidate.campaign.budget_amount
        if budget is not None and candidate.campaign.spent + cut.amount > budget:
            _refuse(
                evaluation,
                candidate,
                candidate.refused(
                    Reason.budget_exhausted,
                    f"the campaign has {budget - candidate.campaign.spent} left of its budget",
                ),
            )
            continue
        if cut.amount == 0:
            _refuse(
                evaluation,
                candidate,
                candidate.refused(Reason.no_discount, "nothing in the cart it takes anything off"),
            )
            continue
        ledger.apply(cut)
        evaluation.applied.append((candidate, cut))
        exclusive_applied = exclusive
