"""What the loyalty APIs take and return."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from channelhub.platform.money import MAX_AMOUNT, CurrencyCode
from channelhub.process.customers.schemas import MetadataKey
from channelhub.process.orders.schemas import Email, ExternalRef

Id = Annotated[str, Field(min_length=1, max_length=40)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
MAX_POINTS = 1_000_000_000
"""The most points one ledger entry may move."""
Points = Annotated[int, Field(ge=0, le=MAX_POINTS)]
MAX_LEVELS = 20
MAX_RULES = 50


class Rate(BaseModel):
    """``points`` for every whole ``per_amount`` (minor units) spent: 1 per 100 is one
    point per euro."""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(1, ge=0, le=1_000_000, description="Points given...")
    per_amount: int = Field(100, ge=1, le=MAX_AMOUNT, description="...per this much spent.")

    def of(self, amount: int) -> int:
        return max(amount, 0) // self.per_amount * self.points


class OrderBasis(StrEnum):
    merchandise = "merchandise"
    """What the goods cost after discounts (subtotal - discounts)."""
    total = "total"
    """What the customer paid, with shipping and tax."""


class OrderEarning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: Rate | None = Field(
        default_factory=Rate, description="Points per amount paid (null: orders earn nothing)."
    )
    basis: OrderBasis = Field(OrderBasis.merchandise, description="Which amount counts.")


class EventEarning(BaseModel):
    """Points for a custom event (``POST /v1/loyalty/events``): a fixed number, and/or
    a rate on the event's amount (an offline receipt)."""

    model_config = ConfigDict(extra="forbid")

    name: Slug = Field(description="The event's name, e.g. receipt_scanned.")
    points: Points = Field(0, description="Fixed points per event.")
    rate: Rate | None = Field(None, description="Points on the event's amount.")
    pending: bool = Field(
        True,
        description="Whether the program's pending period applies (a purchase can be "
        "returned; a review cannot).",
    )


class SegmentEarning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segment: Slug = Field(description="The segment's key; entering it earns, once.")
    points: Points = Field(gt=0, description="Points for entering it.")


class Earning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    orders: OrderEarning = Field(default_factory=OrderEarning, description="Paid orders.")
    events: list[EventEarning] = Field(
        default_factory=list, max_length=MAX_RULES, description="Custom events."
    )
    segments: list[SegmentEarning] = Field(
        default_factory=list, max_length=MAX_RULES, description="Entering a segment."
    )

    @model_validator(mode="after")
    def _names_unique(self) -> Earning:
        for label, names in (
            ("events", [rule.name for rule in self.events]),
            ("segments", [rule.segment for rule in self.segments]),
        ):
            if len(set(names)) != len(names):
                raise ValueError(f"each of {label} may appear once")
        return self


class TierBasis(StrEnum):
    points = "points"
    """Points earned in the last ``period_days`` (pending ones included, reversals not)."""
    metadata = "metadata"
    """The value of one customer metadata key."""


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Slug = Field(description="Its id (also shown as the customer's tier).")
    name: str = Field(min_length=1, max_length=100, description="For people.")
    min_points: Points | None = Field(None, description="By points: from this many.")
    values: list[Annotated[str, Field(max_length=500)] | int | bool] | None = Field(
        None,
        max_length=100,
        description="By metadata: these values of the key put a member in it.",
    )
    multiplier_percent: int = Field(
        100, ge=0, le=1000, description="Earning in this tier: 150 gives half as much again."
    )


class Tiers(BaseModel):
    """Levels lowest first; a member is in the highest one they qualify for, or none."""

    model_config = ConfigDict(extra="forbid")

    basis: TierBasis = Field(TierBasis.points, description="What decides the tier.")
    period_days: int = Field(365, ge=1, le=3650, description="By points: the window.")
    metadata_key: MetadataKey | None = Field(None, description="By metadata: the key.")
    levels: list[Tier] = Field(
        default_factory=list, max_length=MAX_LEVELS, description="The tiers, lowest first."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Tiers:
        keys = [level.key for level in self.levels]
        if len(set(keys)) != len(keys):
            raise ValueError("tier keys must be unique")
        if self.basis is TierBasis.metadata:
            if self.metadata_key is None:
                raise ValueError("tiers by metadata need metadata_key")
            if any(not level.values for level in self.levels):
                raise ValueError("tiers by metadata need values on every level")
        else:
            thresholds = [level.min_points for level in self.levels if level.min_points is not None]
            if len(thresholds) != len(self.levels):
                raise ValueError("tiers by points need min_points on every level")
            if thresholds != sorted(thresholds) or len(set(thresholds)) != len(thresholds):
                raise ValueError("levels go lowest first: min_points must rise")
        return self


class _ProgramFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field("", max_length=2000, description="For people.")
    active: bool = Field(True, description="Off: nothing earns, rewards cannot be redeemed.")
    auto_enroll: bool = Field(
        True, description="A customer earning for the first time joins by themselves."
    )
    sets_customer_tier: bool = Field(
        False,
        description="The member's tier becomes the customer's `tier` (what promotion rules "
        "and helpdesk routing match), replacing what other systems set.",
    )
    pending_days: int = Field(
        0,
        ge=0,
        le=365,
        description="Points wait this long before they can be spent (the "
        "return window); a refund in that time takes them back before anyone spends them.",
    )
    expiry_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="Points expire this long after they become "
        "available (none: never). Changing it applies to points earned from then on.",
    )
    earning: Earning = Field(default_factory=Earning, description="What earns points.")
    tiers: Tiers = Field(default_factory=Tiers, description="Levels of membership.")


class ProgramCreate(_ProgramFields):
    name: str = Field(min_length=1, max_length=200, description="Unique in the tenant.")
    currency: CurrencyCode = Field(description="Orders in this currency earn.")


class ProgramUpdate(BaseModel):
    """The members given change; the others stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, description="A new name.")
    description: str | None = Field(None, max_length=2000, description="For people.")
    active: bool | None = Field(None, description="Off: nothing earns, no rewards.")
    auto_enroll: bool | None = Field(None, description="Customers join at their first earning.")
    sets_customer_tier: bool | None = Field(
        None, description="The member's tier becomes the customer's `tier`."
    )
    pending_days: int | None = Field(None, ge=0, le=365, description="The return window.")
    expiry_days: int | None = Field(
        None, ge=1, le=3650, description="Expiry after availability (null: never)."
    )
    earning: Earning | None = Field(None, description="What earns points, replaced whole.")
    tiers: Tiers | None = Field(None, description="The tiers, replaced whole.")


class Program(_ProgramFields):
    id: str = Field(description="Program id (lyp_...).")
    name: str = Field(description="Unique in the tenant.")
    currency: str = Field(description="Orders in this currency earn.")
    created_at: datetime = Field(description="When it was set up (UTC).")
    updated_at: datetime = Field(description="When it last changed (UTC).")


class Enrolment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Id = Field(description="The customer (cus_...).")


class ExpiringPoints(BaseModel):
    points: int = Field(description="How many.")
    at: datetime = Field(description="When they expire (UTC).")


class Balance(BaseModel):
    available: int = Field(description="Can be spent now.")
    pending: int = Field(description="Earned, spendable once the return window has passed.")
    earned: int = Field(description="Ever earned (after reversals).")
    spent: int = Field(description="Ever spent on rewards (and taken off by hand).")
    expired: int = Field(description="Ever expired.")
    expiring: list[ExpiringPoints] = Field(description="The next points to expire.")


class TierProgress(BaseModel):
    points_in_period: int | None = Field(description="By points: what counts toward tiers.")
    next_tier: str | None = Field(description="The next tier up, if any.")
    points_to_next: int | None = Field(description="By points: how many more it needs.")


class Member(BaseModel):
    id: str = Field(description="Member id (mbr_...).")
    program_id: str = Field(description="The program (lyp_...).")
    customer_id: str = Field(description="The customer (cus_...).")
    tier: str | None = Field(description="The tier's key (none: no tier yet).")
    tier_since: datetime | None = Field(description="In this tier since (UTC).")
    balance: Balance = Field(description="Points now, derived from the ledger.")
    progress: TierProgress = Field(description="Toward the next tier.")
    joined_at: datetime = Field(description="When they joined (UTC).")


class EntryKind(StrEnum):
    earn = "earn"
    spend = "spend"
    expire = "expire"
    reverse = "reverse"
    adjust = "adjust"


class Entry(BaseModel):
    id: str = Field(description="Ledger entry id (lpt_...).")
    member_id: str = Field(description="The member (mbr_...).")
    kind: EntryKind = Field(description="earn, spend, expire, reverse or adjust.")
    points: int = Field(description="Signed: earning is positive, spending negative.")
    available_at: datetime = Field(description="From when they count (pending before).")
    expires_at: datetime | None = Field(description="When what is left of them expires.")
    lot_id: str | None = Field(description="The earning an expiry or reversal takes from.")
    source: str = Field(description="order, event, segment, reward, manual or expiry.")
    source_ref: str = Field(description="The order, event, segment or voucher concerned.")
    reason: str = Field(description="For people: the order number, receipt, reward...")
    created_at: datetime = Field(description="When it was recorded (UTC).")


class Adjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=-1_000_000_000, le=1_000_000_000, description="Signed, not 0.")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the ledger).")
    reference: str = Field(
        min_length=1,
        max_length=100,
        description="Your id for it: the same one twice adjusts once.",
    )

    @model_validator(mode="after")
    def _not_zero(self) -> Adjustment:
        if self.points == 0:
            raise ValueError("points must not be 0")
        return self


class CustomerKey(BaseModel):
    """Who the event is about: the hub's id, or what a till knows (e-mail, phone, its own
    id for them)."""

    model_config = ConfigDict(extra="forbid")

    id: Id | None = Field(None, description="Customer id (cus_...).")
    email: Email | None = Field(None, description="Their e-mail address.")
    phone: str | None = Field(
        None, min_length=3, max_length=32, description="Their phone, with country code."
    )
    external_id: ExternalRef | None = Field(None, description="A system's id for them.")

    @model_validator(mode="after")
    def _something(self) -> CustomerKey:
        if not (self.id or self.email or self.phone or self.external_id):
            raise ValueError("give id, email, phone or external_id")
        return self


class LoyaltyEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=1,
        max_length=100,
        description="Your id for the event (receipt number): the same id twice earns once.",
    )
    program_id: Id = Field(description="The program (lyp_...).")
    name: Slug = Field(description="Matches an earning rule of the program.")
    customer: CustomerKey = Field(description="Who it is about.")
    amount: int | None = Field(None, ge=0, le=MAX_AMOUNT, description="Minor units spent.")
    currency: CurrencyCode | None = Field(None, description="Needed with amount.")
    occurred_at: AwareDatetime | None = Field(None, description="When (default: now).")
    location_id: Id | None = Field(None, description="Where (a store), for the record.")

    @field_validator("occurred_at")
    @classmethod
    def _recent_enough(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.year < 2000:
            raise ValueError("a date from the year 2000 on")
        return value

    @model_validator(mode="after")
    def _currency_with_amount(self) -> LoyaltyEvent:
        if self.amount is not None and self.currency is None:
            raise ValueError("currency is needed with amount")
        return self


class EventResult(BaseModel):
    member: Member = Field(description="The member after the event.")
    entries: list[Entry] = Field(description="What the event earned (empty: nothing).")


class RewardKind(StrEnum):
    discount_voucher = "discount_voucher"
    free_product = "free_product"
    points_to_money = "points_to_money"


class _RewardFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field("", max_length=2000, description="For members.")
    cost_points: int = Field(ge=1, le=1_000_000_000, description="What it costs.")
    min_tier: Slug | None = Field(None, description="Only members of this tier or above.")
    valid_days: int | None = Field(
        30,
        ge=1,
        le=3650,
        description="The code it issues is valid this long (none: as long as the campaign).",
    )
    active: bool = Field(True, description="Off: it cannot be redeemed.")


class RewardCreate(_RewardFields):
    name: str = Field(min_length=1, max_length=200, description="Unique in the program.")
    kind: RewardKind = Field(
        description="discount_voucher (any discount), free_product (a fixed price or "
        "buy-X-get-Y campaign) or points_to_money (a fixed amount off)."
    )
    campaign_id: Id = Field(description="The vouchers campaign whose codes it issues.")


class RewardUpdate(BaseModel):
    """The members given change; the others stay."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=2000, description="For members.")
    cost_points: int | None = Field(None, ge=1, le=1_000_000_000, description="What it costs.")
    min_tier: Slug | None = Field(None, description="From this tier up (null: anyone).")
    valid_days: int | None = Field(
        None, ge=1, le=3650, description="How long its codes are valid (null: the campaign's)."
    )
    active: bool | None = Field(None, description="Off: it cannot be redeemed.")


class Reward(_RewardFields):
    id: str = Field(description="Reward id (rwd_...).")
    program_id: str = Field(description="The program (lyp_...).")
    name: str = Field(description="Unique in the program.")
    kind: RewardKind = Field(description="discount_voucher, free_product or points_to_money.")
    campaign_id: str = Field(description="The vouchers campaign it issues codes of.")
    created_at: datetime = Field(description="When it was added (UTC).")
    updated_at: datetime = Field(description="When it last changed (UTC).")


class RewardRedemptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: Id = Field(description="Who buys it (mbr_...).")
    reward_id: Id = Field(description="What (rwd_...).")


class RewardRedemption(BaseModel):
    reward_id: str = Field(description="The reward (rwd_...).")
    member_id: str = Field(description="The member (mbr_...).")
    customer_id: str = Field(description="The customer the code is published to.")
    points: int = Field(description="What it cost.")
    code: str = Field(description="The voucher code issued to the customer.")
    code_expires_at: datetime | None = Field(description="The code is valid until (UTC).")
    entry: Entry = Field(description="The ledger entry that spent the points.")
    balance: Balance = Field(description="The member's points after.")


class PointsMoved(BaseModel):
    """Points earned, spent, expired or reversed, with the balance after."""

    member_id: str
    customer_id: str
    program_id: str
    kind: Literal["earn", "spend", "expire", "reverse", "adjust"]
    points: int
    entries: list[Entry]
    balance: Balance


class TierChange(BaseModel):
    member_id: str
    customer_id: str
    program_id: str
    previous: str | None = Field(description="The tier before (none: no tier).")
    tier: str | None = Field(description="The tier now (none: no tier).")
    at: datetime
