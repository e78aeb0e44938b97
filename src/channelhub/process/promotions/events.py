"""Events of the promotions context: campaigns, vouchers and redemptions."""

from __future__ import annotations

from pydantic import BaseModel, Field

from channelhub.platform.events.catalog import EventType, declare
from channelhub.process.promotions.schemas import BatchResult, Campaign, Redemption, Voucher


class VoucherUse(BaseModel):
    """A voucher redeemed, or the redemption of it rolled back."""

    voucher: Voucher
    redemption_id: str = Field(description="The redemption (rdm_...).")
    order_id: str | None = Field(description="The order it was used on, if any.")
    discount: int = Field(description="What it took off (minor units).")
    currency: str


def _campaign(name: str, description: str) -> EventType:
    return declare(name, context="promotions", description=description, data_model=Campaign)


def _voucher(name: str, description: str) -> EventType:
    return declare(name, context="promotions", description=description, data_model=Voucher)


def _redemption(name: str, description: str) -> EventType:
    return declare(name, context="promotions", description=description, data_model=Redemption)


def _use(name: str, description: str) -> EventType:
    return declare(name, context="promotions", description=description, data_model=VoucherUse)


CAMPAIGN_CREATED = _campaign("campaign.created", "A promotion campaign was created.")
CAMPAIGN_UPDATED = _campaign("campaign.updated", "A campaign's schedule, rules or limits changed.")
CAMPAIGN_STARTED = _campaign("campaign.started", "A campaign's start time came: it applies now.")
CAMPAIGN_ENDED = _campaign("campaign.ended", "A campaign's end time came: it no longer applies.")
CAMPAIGN_BUDGET_EXHAUSTED = _campaign(
    "campaign.budget_exhausted",
    "A campaign gave all its budget (redemptions or amount); a rollback can revive it.",
)
VOUCHER_CREATED = _voucher("voucher.created", "A voucher code was created.")
VOUCHERS_GENERATED = declare(
    "voucher_batch.created",
    context="promotions",
    description="Codes were generated or imported in bulk for a campaign (one event a batch).",
    data_model=BatchResult,
)
VOUCHER_UPDATED = _voucher("voucher.updated", "A voucher was disabled, enabled or re-dated.")
VOUCHER_PUBLISHED = _voucher(
    "voucher.published", "A voucher was given to one customer (only they may use it)."
)
VOUCHER_REDEEMED = _use("voucher.redeemed", "A voucher code was used on a purchase.")
VOUCHER_ROLLED_BACK = _use(
    "voucher.rolled_back", "A voucher's redemption was undone; the use is given back."
)
REDEMPTION_SUCCEEDED = _redemption(
    "redemption.succeeded", "Discounts (codes and automatic offers) were redeemed together."
)
REDEMPTION_ROLLED_BACK = _redemption(
    "redemption.rolled_back",
    "A redemption was undone (order cancelled or refunded, or by request): limits and "
    "budgets get its uses back.",
)
