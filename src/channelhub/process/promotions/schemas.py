"""What the promotions APIs take and return."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from channelhub.platform.money import MAX_AMOUNT, CurrencyCode
from channelhub.process.promotions.discounts import NEEDS_CURRENCY, Effect
from channelhub.process.promotions.rules import Rule, check_depth

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$"
Code = Annotated[
    str,
    Field(pattern=CODE_PATTERN, description="A voucher code: 3-64 letters, digits, - or _."),
]
Id = Annotated[str, Field(min_length=1, max_length=40)]


def normalise_code(code: str) -> str:
    """Codes are matched without regard to case or surrounding blanks."""
    return code.strip().upper()


class CampaignType(StrEnum):
    vouchers = "vouchers"
    """Applies when one of its codes is given."""
    automatic = "automatic"
    """Applies by itself to every cart its rules accept."""


class Stacking(StrEnum):
    combinable = "combinable"
    exclusive = "exclusive"
    """Applies only alone: never together with another discount."""


class CampaignState(StrEnum):
    scheduled = "scheduled"
    running = "running"
    ended = "ended"
    disabled = "disabled"
    exhausted = "exhausted"


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redemptions: int | None = Field(
        default=None, ge=1, le=MAX_AMOUNT, description="Redemptions at most."
    )
    amount: int | None = Field(
        default=None, ge=1, le=MAX_AMOUNT, description="Discount at most (minor units)."
    )


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


class _CampaignFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field("", max_length=2000, description="For people.")
    active: bool = Field(True, description="Off: nothing of it applies, whatever the dates.")
    starts_at: AwareDatetime | None = Field(None, description="From when (none: now).")
    ends_at: AwareDatetime | None = Field(None, description="Until when (none: no end).")
    timezone: Annotated[str, Field(max_length=64)] = Field(
        "UTC", description="Time zone of time.* rule fields (IANA name)."
    )
    rules: Rule | None = Field(None, description="When it applies (none: always).")
    channel_ids: list[Id] = Field(
        default_factory=list, max_length=100, description="Only in these sales channels."
    )
    brand_ids: list[Id] = Field(
        default_factory=list, max_length=100, description="Only for these brands."
    )
    stacking: Stacking = Field(Stacking.combinable, description="Alone, or with others.")
    priority: int = Field(
        0, ge=-1000, le=1000, description="Higher applies first when discounts stack."
    )
    budget: Budget = Field(default_factory=Budget, description="What it may give at most.")
    per_customer: int | None = Field(
        None, ge=1, le=1_000_000, description="Redemptions per customer at most."
    )

    _zone_known = field_validator("timezone")(_zone)

    @field_validator("rules")
    @classmethod
    def _not_too_deep(cls, rules: Rule | None) -> Rule | None:
        check_depth(rules)
        return rules


class CampaignCreate(_CampaignFields):
    name: str = Field(min_length=1, max_length=200, description="Unique in the tenant.")
    type: CampaignType = Field(description="vouchers (by code) or automatic.")
    effect: Effect = Field(description="What it takes off.")
    currency: CurrencyCode | None = Field(
        None, description="Currency of its amounts; required when it states one."
    )
    voucher_redemptions: int | None = Field(
        1, ge=1, le=1_000_000, description="Uses per code by default (null: no limit)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> CampaignCreate:
        check_schedule(self.starts_at, self.ends_at)
        if self.currency is None and (
            isinstance(self.effect, NEEDS_CURRENCY) or self.budget.amount is not None
        ):
            raise ValueError("currency is required: the effect or the budget states an amount")
        return self


def check_schedule(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise ValueError("ends_at must come after starts_at")


class CampaignUpdate(BaseModel):
    """Only the members given change."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=2000, description="For people.")
    active: bool | None = Field(None, description="Off: nothing of it applies.")
    starts_at: AwareDatetime | None = Field(None, description="From when (null: now).")
    ends_at: AwareDatetime | None = Field(None, description="Until when (null: no end).")
    rules: Rule | None = Field(None, description="When it applies (null: always).")
    channel_ids: list[Id] | None = Field(
        None, max_length=100, description="Only in these sales channels (empty: all)."
    )
    brand_ids: list[Id] | None = Field(
        None, max_length=100, description="Only for these brands (empty: all)."
    )
    stacking: Stacking | None = Field(None, description="Alone (exclusive), or with others.")
    priority: int | None = Field(
        None, ge=-1000, le=1000, description="Higher applies first when discounts stack."
    )
    budget: Budget | None = Field(None, description="What it may give at most (null: no cap).")
    per_customer: int | None = Field(
        None, ge=1, le=1_000_000, description="Redemptions per customer at most (null: any)."
    )

    @field_validator("rules")
    @classmethod
    def _not_too_deep(cls, rules: Rule | None) -> Rule | None:
        check_depth(rules)
        return rules


class Campaign(BaseModel):
    id: str = Field(description="Campaign id (cmp_...).")
    name: str = Field(description="Unique in the tenant.")
    description: str = Field(description="For people.")
    type: CampaignType = Field(description="vouchers (by code) or automatic.")
    state: CampaignState = Field(description="Where it stands now.")
    active: bool = Field(description="Off: nothing of it applies.")
    starts_at: datetime | None = Field(description="From when (UTC); null: from creation.")
    ends_at: datetime | None = Field(description="Until when (UTC); null: no end.")
    timezone: str = Field(description="Time zone of time.* rule fields.")
    currency: str | None = Field(description="Currency of its amounts and budget.")
    effect: Effect = Field(description="What it takes off.")
    rules: Rule | None = Field(description="When it applies (null: always).")
    channel_ids: list[str] = Field(description="Only in these sales channels (empty: all).")
    brand_ids: list[str] = Field(description="Only for these brands (empty: all).")
    stacking: Stacking = Field(description="Alone (exclusive), or with others.")
    priority: int = Field(description="Higher applies first when discounts stack.")
    budget: Budget = Field(description="What it may give at most.")
    per_customer: int | None = Field(description="Redemptions per customer at most.")
    voucher_redemptions: int | None = Field(
        description="Uses per code by default (null: no limit)."
    )
    redemptions: int = Field(description="Redemptions so far (rolled back ones not counted).")
    spent: int = Field(description="Discount given so far (minor units).")
    created_at: datetime = Field(description="When it was created (UTC).")
    updated_at: datetime = Field(description="When it last changed (UTC).")


class VoucherCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code
    max_redemptions: int | None = Field(
        None, ge=1, le=1_000_000, description="Uses at most (default: the campaign's)."
    )
    customer_id: Id | None = Field(None, description="Only this customer may use it.")
    expires_at: AwareDatetime | None = Field(None, description="Usable until (UTC).")


DEFAULT_CHARSET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L)."""
MAX_BATCH_VIA_API = 100_000


class CodePattern(BaseModel):
    """How generated codes look: ``pattern`` with ``#`` for each random character (e.g.
    ``SPRING-####-####``), or ``prefix`` + ``length`` random characters + ``postfix``."""

    model_config = ConfigDict(extra="forbid")

    pattern: str | None = Field(
        None, min_length=1, max_length=64, description="E.g. SPRING-####-#### (# is random)."
    )
    prefix: str = Field(
        "", max_length=30, pattern=r"^[A-Za-z0-9_-]*$", description="Before (without pattern)."
    )
    postfix: str = Field(
        "", max_length=30, pattern=r"^[A-Za-z0-9_-]*$", description="After (without pattern)."
    )
    length: int = Field(8, ge=4, le=32, description="Random characters (without pattern).")
    charset: str = Field(
        DEFAULT_CHARSET, min_length=2, max_length=64, description="Random characters from these."
    )

    @model_validator(mode="after")
    def _makes_codes(self) -> CodePattern:
        if not re.fullmatch(r"[A-Za-z0-9]+", self.charset) or len(set(self.charset)) != len(
            self.charset
        ):
            raise ValueError("charset: distinct letters and digits only")
        if self.pattern is not None:
            if "#" not in self.pattern or not re.fullmatch(r"[A-Za-z0-9_#-]+", self.pattern):
                raise ValueError("pattern: letters, digits, - and _, with # for random ones")
            if self.pattern.count("#") < 4:
                raise ValueError("pattern: at least 4 random characters (#)")
            sample = self.pattern.replace("#", self.charset[0])
        else:
            sample = self.prefix + self.charset[0] * self.length + self.postfix
        if not re.fullmatch(CODE_PATTERN, sample):
            raise ValueError("the codes would not be valid (3-64 characters, no leading - or _)")
        return self

    @property
    def random_characters(self) -> int:
        return self.pattern.count("#") if self.pattern is not None else self.length

    @property
    def space(self) -> int:
        """How many distinct codes the pattern can make."""
        space: int = len(self.charset.upper()) ** self.random_characters
        return space


class VoucherBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=MAX_BATCH_VIA_API, description="How many codes.")
    code: CodePattern = Field(default_factory=CodePattern, description="How they look.")
    max_redemptions: int | None = Field(
        None, ge=1, le=1_000_000, description="Uses per code (default: the campaign's)."
    )


class BatchResult(BaseModel):
    campaign_id: str = Field(description="The campaign (cmp_...).")
    created: int = Field(description="Codes created.")
    skipped: int = Field(0, description="Imported rows whose code existed already.")


class Voucher(BaseModel):
    id: str = Field(description="Voucher id (vch_...).")
    campaign_id: str = Field(description="Its campaign (cmp_...).")
    code: str = Field(description="The code, upper case.")
    active: bool = Field(description="Off: it is refused as voucher_disabled.")
    max_redemptions: int | None = Field(description="Uses at most (null: no limit).")
    redemptions: int = Field(description="Uses so far (rolled back ones not counted).")
    customer_id: str | None = Field(description="Only this customer may use it.")
    published_at: datetime | None = Field(description="When it was given to them (UTC).")
    expires_at: datetime | None = Field(description="Usable until (UTC); null: as its campaign.")
    created_at: datetime = Field(description="When it was created (UTC).")


class VoucherUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool | None = Field(None, description="Off: it is refused as voucher_disabled.")
    expires_at: AwareDatetime | None = Field(None, description="Usable until (null: no end).")


class Publication(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Id = Field(description="Who gets the code (only they may use it).")


class CartLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=100, description="The SKU.")
    quantity: int = Field(ge=1, le=10_000, description="Units.")
    unit_price: int = Field(ge=0, le=10**12, description="Minor units, before discounts.")
    categories: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20, description="Its categories, for rules and targets."
    )


class Cart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: CurrencyCode
    lines: list[CartLine] = Field(min_length=1, max_length=500, description="What is bought.")
    shipping: int = Field(0, ge=0, le=10**12, description="Shipping price (minor units).")


class CustomerRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id | None = Field(None, description="A customer the hub knows (cus_...).")
    email: str | None = Field(None, max_length=254, description="Or their e-mail address.")

    @model_validator(mode="after")
    def _names_someone(self) -> CustomerRef:
        if self.id is None and not self.email:
            raise ValueError("give the customer's id or e-mail")
        if self.email is not None:
            self.email = self.email.strip().lower()
        return self


class Purchase(BaseModel):
    """Who buys what, where: the facts rules are checked against."""

    model_config = ConfigDict(extra="forbid")

    cart: Cart = Field(description="What is bought, at which prices.")
    customer: CustomerRef | None = Field(None, description="Who buys (for limits and rules).")
    channel_id: Id | None = Field(None, description="The sales channel (sch_...).")
    location_id: Id | None = Field(None, description="The store, for purchases in one.")


class ValidationRequest(Purchase):
    codes: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50, description="Voucher codes, in the order given."
    )


class RedemptionRequest(ValidationRequest):
    order_id: Id | None = Field(None, description="The order (ord_...): rolled back with it.")


class Reason(StrEnum):
    voucher_not_found = "voucher_not_found"
    voucher_disabled = "voucher_disabled"
    voucher_expired = "voucher_expired"
    duplicate_code = "duplicate_code"
    not_your_voucher = "not_your_voucher"
    campaign_disabled = "campaign_disabled"
    campaign_not_started = "campaign_not_started"
    campaign_ended = "campaign_ended"
    code_exhausted = "code_exhausted"
    budget_exhausted = "budget_exhausted"
    customer_required = "customer_required"
    customer_limit_reached = "customer_limit_reached"
    channel_required = "channel_required"
    wrong_channel = "wrong_channel"
    wrong_brand = "wrong_brand"
    currency_mismatch = "currency_mismatch"
    rules_not_met = "rules_not_met"
    no_discount = "no_discount"
    not_combinable = "not_combinable"
    campaign_already_applied = "campaign_already_applied"


class Applied(BaseModel):
    campaign_id: str = Field(description="The campaign (cmp_...).")
    campaign_name: str = Field(description="Its name.")
    code: str | None = Field(description="The voucher code (null: an automatic promotion).")
    kind: str = Field(description="The effect: percentage, fixed_amount, ...")
    discount: int = Field(description="What it takes off (minor units).")
    line_discounts: list[int] = Field(description="Of which, per cart line (in cart order).")
    shipping_discount: int = Field(description="Of which, off shipping.")


class Refused(BaseModel):
    campaign_id: str | None = Field(description="The campaign, when the code was found.")
    code: str | None = Field(description="The code (null: an automatic offer).")
    reason: Reason = Field(description="Why, for machines.")
    detail: str = Field(description="Why, for people.")


class Validation(BaseModel):
    valid: bool = Field(description="Every code given applies.")
    currency: str = Field(description="The cart's currency.")
    subtotal: int = Field(description="The lines before discounts (minor units).")
    shipping: int = Field(description="Shipping before discounts (minor units).")
    discount: int = Field(description="All applied discounts together.")
    total: int = Field(description="What is left to pay.")
    applied: list[Applied] = Field(description="In the order they apply.")
    refused: list[Refused] = Field(description="Codes (and automatic offers) that do not apply.")


class RedemptionStatus(StrEnum):
    succeeded = "succeeded"
    rolled_back = "rolled_back"


class Redemption(BaseModel):
    id: str = Field(description="Redemption id (rdm_...).")
    status: RedemptionStatus = Field(description="succeeded, or rolled_back.")
    order_id: str | None = Field(description="The order it was used on, if given.")
    customer_id: str | None = Field(description="The customer, if known to the hub.")
    customer_email: str = Field(description="Their e-mail address, if given.")
    channel_id: str | None = Field(description="The sales channel, if given.")
    currency: str = Field(description="The cart's currency.")
    subtotal: int = Field(description="The cart's lines before discounts (minor units).")
    discount: int = Field(description="What it took off in all (minor units).")
    items: list[Applied] = Field(description="The discounts, in the order they applied.")
    created_at: datetime = Field(description="When (UTC).")
    rolled_back_at: datetime | None = Field(description="When it was undone (UTC).")
    rollback_reason: str = Field(description="Why it was undone.")


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=500, description="Why (kept on the redemption).")


class Offer(BaseModel):
    """Something the customer may use on this cart, with what it would take off alone."""

    campaign_id: str = Field(description="The campaign (cmp_...).")
    campaign_name: str = Field(description="Its name.")
    code: str | None = Field(description="The code to give (null: applies by itself).")
    kind: str = Field(description="The effect: percentage, fixed_amount, ...")
    stacking: Stacking = Field(description="Alone (exclusive), or with others.")
    discount: int = Field(description="What it would take off alone (minor units).")


class Qualification(BaseModel):
    offers: list[Offer] = Field(description="Largest discount first.")
    best: Validation = Field(description="The automatic offers as they stack on this cart.")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_codes_per_order: int = Field(5, ge=1, le=50, description="Codes one order may use.")
