"""What a discount takes off a cart, in exact integer minor units.

Rounding, once and for all:

- A percentage is taken of the amount it applies to and rounded half up to the minor unit,
  once per discount (never per line).
- A discount never exceeds what is left to pay on what it applies to: lines never go below
  zero, and shipping is discounted only by ``free_shipping``.
- A discount on several lines is spread over them in proportion to what is left to pay on
  each, rounding down; the minor units left over go to the lines with the largest
  remainders (ties: the earlier line). Stacked discounts apply one after the other, each
  to what the previous ones left.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from channelhub.platform.money import MAX_AMOUNT
from channelhub.process.promotions.rules import CartFacts, Target

Amount = Annotated[int, Field(ge=1, le=MAX_AMOUNT, description="Minor units.")]


class _Effect(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Percentage(_Effect):
    kind: Literal["percentage"] = Field("percentage", description="The kind of discount.")
    percent: Decimal = Field(
        gt=0, le=100, decimal_places=2, description="Percent off, e.g. 15 or 12.5."
    )
    max_amount: Amount | None = Field(default=None, description="At most this much off.")
    target: Target | None = Field(default=None, description="Only these lines (else all).")


class FixedAmount(_Effect):
    kind: Literal["fixed_amount"] = Field("fixed_amount", description="The kind of discount.")
    amount: Amount = Field(description="This much off, in the campaign's currency.")
    target: Target | None = Field(default=None, description="Only these lines (else all).")


class FixedPrice(_Effect):
    kind: Literal["fixed_price"] = Field("fixed_price", description="The kind of discount.")
    price: int = Field(ge=0, le=MAX_AMOUNT, description="Each unit costs this much.")
    target: Target | None = Field(default=None, description="Only these lines (else all).")


class PerUnit(_Effect):
    kind: Literal["per_unit"] = Field("per_unit", description="The kind of discount.")
    amount: Amount = Field(description="This much off each unit.")
    target: Target | None = Field(default=None, description="Only these lines (else all).")


class FreeShipping(_Effect):
    kind: Literal["free_shipping"] = Field("free_shipping", description="The kind of discount.")


class BuyXGetY(_Effect):
    """Buy ``buy_quantity`` units of ``buy``, get ``get_quantity`` units of ``get`` at
    ``percent`` off (100: free). The dearest units count as bought and the cheapest as
    given, so the customer always gets the smaller discount the offer allows; a unit is
    never both bought and given."""

    kind: Literal["buy_x_get_y"] = Field("buy_x_get_y", description="The kind of discount.")
    buy: Target = Field(description="What must be bought.")
    buy_quantity: int = Field(ge=1, le=1000, description="How many units of it.")
    get: Target = Field(description="What is given.")
    get_quantity: int = Field(ge=1, le=1000, description="How many units of it.")
    percent: Decimal = Field(
        default=Decimal(100), gt=0, le=100, decimal_places=2, description="Off the given units."
    )
    max_applications: int | None = Field(
        default=None, ge=1, le=10_000, description="How often per cart at most."
    )


Effect = Annotated[
    Percentage | FixedAmount | FixedPrice | PerUnit | FreeShipping | BuyXGetY,
    Field(discriminator="kind"),
]

NEEDS_CURRENCY = (FixedAmount, FixedPrice, PerUnit)
"""Effects stating an amount: they apply only to carts in the campaign's currency."""


@dataclass
class Ledger:
    """What is left to pay on each line and on shipping while discounts are stacked."""

    cart: CartFacts
    remaining: list[int]
    shipping: int

    @classmethod
    def of(cls, cart: CartFacts) -> Ledger:
        return cls(cart, [line.quantity * line.unit_price for line in cart.lines], cart.shipping)

    def copy(self) -> Ledger:
        return Ledger(self.cart, list(self.remaining), self.shipping)

    def apply(self, cut: Cut) -> None:
        for index, amount in enumerate(cut.lines):
            self.remaining[index] -= amount
        self.shipping -= cut.shipping

    @property
    def total(self) -> int:
        return sum(self.remaining) + self.shipping


@dataclass(frozen=True)
class Cut:
    """One discount: how much it takes off each line and off shipping."""

    lines: tuple[int, ...]
    shipping: int = 0

    @property
    def amount(self) -> int:
        return sum(self.lines) + self.shipping


def _percent_of(amount: int, percent: Decimal) -> int:
    return int((Decimal(amount) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def spread(amount: int, weights: list[int]) -> list[int]:
    """Split ``amount`` over ``weights`` proportionally (largest remainder); never more
    than a weight on any one of them."""
    total = sum(weights)
    amount = min(amount, total)
    if amount <= 0 or total == 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for index in remainders[: amount - sum(shares)]:
        shares[index] += 1
    return shares


def _targeted(ledger: Ledger, target: Target | None) -> list[int]:
    """What is left on each line the discount applies to (0 on the others)."""
    return [
        left if target is None or target.matches(line) else 0
        for line, left in zip(ledger.cart.lines, ledger.remaining, strict=True)
    ]


def cut_of(effect: Effect, ledger: Ledger) -> Cut:
    """What ``effect`` takes off what ``ledger`` has left to pay."""
    count = len(ledger.remaining)
    if isinstance(effect, FreeShipping):
        return Cut((0,) * count, ledger.shipping)
    if isinstance(effect, BuyXGetY):
        return _buy_x_get_y(effect, ledger)
    base = _targeted(ledger, effect.target)
    if isinstance(effect, Percentage):
        amount = _percent_of(sum(base), effect.percent)
        if effect.max_amount is not None:
            amount = min(amount, effect.max_amount)
        return Cut(tuple(spread(amount, base)))
    if isinstance(effect, FixedAmount):
        return Cut(tuple(spread(effect.amount, base)))
    lines = ledger.cart.lines
    if isinstance(effect, PerUnit):
        return Cut(
            tuple(
                min(left, effect.amount * lines[i].quantity) if left else 0
                for i, left in enumerate(base)
            )
        )
    return Cut(
        tuple(
            max(0, left - effect.price * lines[i].quantity) if left else 0
            for i, left in enumerate(base)
        )
    )


MAX_APPLICATIONS = 10_000
"""How often a buy-X-get-Y offer applies to one cart at most, whatever it says."""


def _buy_x_get_y(effect: BuyXGetY, ledger: Ledger) -> Cut:
    lines = ledger.cart.lines
    units = [line.quantity for line in lines]
    buy = _Units(units, lines, effect.buy, dearest_first=True)
    get = _Units(units, lines, effect.get, dearest_first=False)
    given = [0] * len(lines)
    limit = min(effect.max_applications or MAX_APPLICATIONS, MAX_APPLICATIONS)
    for _ in range(limit):
        if not buy.take(effect.buy_quantity) or not (gift := get.take(effect.get_quantity)):
            break
        for index, taken in gift:
            given[index] += taken
    cut = []
    for index, line in enumerate(lines):
        left = ledger.remaining[index]
        if not given[index] or not left:
            cut.append(0)
            continue
        worth = Decimal(left) * given[index] / line.quantity
        off = (worth * effect.percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        cut.append(min(left, int(off)))
    return Cut(tuple(cut))


class _Units:
    """The units of a target's lines, dearest or cheapest first, taken from counts shared
    with the other side of the offer (a unit bought cannot be given, and the reverse)."""

    def __init__(
        self,
        units: list[int],
        lines: tuple[CartFacts.Line, ...],
        target: Target,
        *,
        dearest_first: bool,
    ) -> None:
        sign = -1 if dearest_first else 1
        self.units = units
        self.order = sorted(
            (i for i, line in enumerate(lines) if target.matches(line)),
            key=lambda i: (sign * lines[i].unit_price, i),
        )
        self.start = 0

    def take(self, quantity: int) -> list[tuple[int, int]]:
        """``quantity`` units as (line, units) pairs; none at all when there are fewer."""
        while self.start < len(self.order) and not self.units[self.order[self.start]]:
            self.start += 1
        picked: list[tuple[int, int]] = []
        wanted = quantity
        for position in range(self.start, len(self.order)):
            index = self.order[position]
            if have := self.units[index]:
                step = min(wanted, have)
                picked.append((index, step))
                wanted -= step
                if not wanted:
                    break
        if wanted:
            return []
        for index, step in picked:
            self.units[index] -= step
        return picked
