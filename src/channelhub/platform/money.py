"""Money is an integer count of minor units plus an ISO 4217 currency. Never a float."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Annotated

from babel.numbers import get_currency_precision, list_currencies
from pydantic import AfterValidator, BaseModel, ConfigDict, Field


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def _check_currency(code: str) -> str:
    if code not in _currencies():
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


CurrencyCode = Annotated[
    str,
    Field(
        min_length=3,
        max_length=3,
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 currency code, upper case (EUR, USD, JPY).",
        examples=["EUR"],
    ),
    AfterValidator(_check_currency),
]


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point: 2 for EUR, 0 for JPY, 3 for BHD."""
    return int(get_currency_precision(currency))


MAX_AMOUNT = 2**63 - 1
"""Amounts are stored as 64-bit integers."""


class Money(BaseModel):
    """An amount in the currency's minor unit (cents for EUR: 1999 means 19.99 EUR)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: int = Field(
        ge=-MAX_AMOUNT,
        le=MAX_AMOUNT,
        description="Amount in minor units of the currency (1999 = 19.99 EUR; 1999 = 1999 JPY).",
    )
    currency: CurrencyCode

    def as_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-minor_unit_exponent(self.currency))
