"""Discount math: exact integer minor units, documented rounding, never below zero."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from channelhub.process.promotions.discounts import Effect, Ledger, cut_of, spread
from channelhub.process.promotions.rules import CartFacts

EFFECT: TypeAdapter[Effect] = TypeAdapter(Effect)


def cart(*lines: tuple[str, int, int], shipping: int = 0, **categories: str) -> CartFacts:
    return CartFacts(
        lines=tuple(
            CartFacts.Line(sku, quantity, price, (categories[sku],) if sku in categories else ())
            for sku, quantity, price in lines
        ),
        shipping=shipping,
    )


def cut(effect: dict[str, Any], of: CartFacts) -> tuple[int, list[int], int]:
    result = cut_of(EFFECT.validate_python(effect), Ledger.of(of))
    return result.amount, list(result.lines), result.shipping


def test_a_percentage_is_rounded_half_up_once_and_spread_by_what_is_left() -> None:
    three = cart(("A", 1, 333), ("B", 1, 333), ("C", 1, 334))

    # 12.5 % of 10.00 is 1.25 exactly. Shares 41.625, 41.625, 41.75: 41 each, and the two
    # cents left go to the largest remainders, C and then A (the earlier of a tie).
    assert cut({"kind": "percentage", "percent": "12.5"}, three) == (125, [42, 41, 42], 0)
    # 15 % of 0.45 is 0.0675 -> 0.07 (half up), not 0.06.
    assert cut({"kind": "percentage", "percent": 15}, cart(("A", 1, 45)))[0] == 7


def test_a_percentage_may_be_capped_and_limited_to_some_lines() -> None:
    mixed = cart(("TENT", 1, 20000), ("SOCK", 2, 500), SOCK="apparel")

    assert cut({"kind": "percentage", "percent": 50, "max_amount": 3000}, mixed)[0] == 3000
    apparel = {"kind": "percentage", "percent": 50, "target": {"categories": ["apparel"]}}
    assert cut(apparel, mixed) == (500, [0, 500], 0)


def test_fixed_amounts_never_take_more_than_is_left() -> None:
    small = cart(("A", 1, 700), ("B", 1, 300))

    assert cut({"kind": "fixed_amount", "amount": 500}, small) == (500, [350, 150], 0)
    assert cut({"kind": "fixed_amount", "amount": 5000}, small) == (1000, [700, 300], 0)


def test_fixed_price_per_unit_and_free_shipping() -> None:
    shirts = cart(("SHIRT", 3, 2500), ("CAP", 1, 900), shipping=499)

    assert cut({"kind": "fixed_price", "price": 1500, "target": {"skus": ["SHIRT"]}}, shirts) == (
        3000,
        [3000, 0],
        0,
    )
    assert cut({"kind": "fixed_price", "price": 1000}, shirts)[1] == [4500, 0]
    assert cut({"kind": "per_unit", "amount": 200}, shirts) == (800, [600, 200], 0)
    assert cut({"kind": "free_shipping"}, shirts) == (499, [0, 0], 499)


def test_buy_x_get_y_gives_the_cheapest_units_and_never_one_unit_twice() -> None:
    offer = {
        "kind": "buy_x_get_y",
        "buy": {"categories": ["shoes"]},
        "buy_quantity": 2,
        "get": {"categories": ["shoes"]},
        "get_quantity": 1,
    }
    shoes = cart(
        ("RUN", 2, 9000),
        ("WALK", 1, 6000),
        ("FLIP", 1, 1500),
        RUN="shoes",
        WALK="shoes",
        FLIP="shoes",
    )

    # Two runners bought, the flip-flops given; the walker alone buys nothing more.
    assert cut(offer, shoes) == (1500, [0, 0, 1500], 0)
    # Two units only: nothing to give.
    assert cut(offer, cart(("RUN", 2, 9000), RUN="shoes"))[0] == 0
    # Six units: given twice, the two cheapest.
    six = cart(("RUN", 6, 9000), RUN="shoes")
    assert cut(offer, six)[0] == 18000
    assert cut({**offer, "max_applications": 1}, six)[0] == 9000
    assert cut({**offer, "percent": 50}, six)[0] == 9000


def test_stacked_discounts_apply_to_what_the_previous_left() -> None:
    ledger = Ledger.of(cart(("A", 1, 10000), shipping=500))
    first = cut_of(EFFECT.validate_python({"kind": "percentage", "percent": 10}), ledger)
    ledger.apply(first)
    second = cut_of(EFFECT.validate_python({"kind": "percentage", "percent": 10}), ledger)

    assert (first.amount, second.amount) == (1000, 900)


@pytest.mark.parametrize("percent", ["0", "100.001", "-5"])
def test_impossible_percentages_are_refused(percent: str) -> None:
    with pytest.raises(ValueError, match="percent"):
        EFFECT.validate_python({"kind": "percentage", "percent": percent})


LINES = st.lists(
    st.tuples(st.integers(1, 20), st.integers(0, 50_000), st.sampled_from(["a", "b", ""])),
    min_size=1,
    max_size=8,
)
EFFECTS = st.one_of(
    st.builds(
        lambda p, cap: {"kind": "percentage", "percent": str(p), "max_amount": cap},
        st.decimals(Decimal("0.01"), Decimal(100), places=2),
        st.one_of(st.none(), st.integers(1, 10**6)),
    ),
    st.builds(lambda a: {"kind": "fixed_amount", "amount": a}, st.integers(1, 10**7)),
    st.builds(lambda p: {"kind": "fixed_price", "price": p}, st.integers(0, 60_000)),
    st.builds(lambda a: {"kind": "per_unit", "amount": a}, st.integers(1, 60_000)),
    st.just({"kind": "free_shipping"}),
    st.builds(
        lambda x, y: {
            "kind": "buy_x_get_y",
            "buy": {"categories": ["a"]},
            "buy_quantity": x,
            "get": {"categories": ["a", "b"]},
            "get_quantity": y,
        },
        st.integers(1, 4),
        st.integers(1, 4),
    ),
)


@given(lines=LINES, effects=st.lists(EFFECTS, min_size=1, max_size=4), shipping=st.integers(0, 999))
def test_stacking_never_takes_a_line_below_zero(
    lines: list[tuple[int, int, str]], effects: list[dict[str, Any]], shipping: int
) -> None:
    facts = CartFacts(
        lines=tuple(
            CartFacts.Line(f"S{i}", q, p, (c,) if c else ()) for i, (q, p, c) in enumerate(lines)
        ),
        shipping=shipping,
    )
    ledger = Ledger.of(facts)
    start = ledger.total
    taken = 0
    for effect in effects:
        result = cut_of(EFFECT.validate_python(effect), ledger)
        assert all(amount >= 0 for amount in result.lines)
        ledger.apply(result)
        taken += result.amount
        assert all(left >= 0 for left in ledger.remaining)
        assert ledger.shipping >= 0
    assert ledger.total == start - taken


@given(amount=st.integers(0, 10**9), weights=st.lists(st.integers(0, 10**6), max_size=12))
def test_spreading_hands_out_exactly_the_amount_and_no_more_than_each_weight(
    amount: int, weights: list[int]
) -> None:
    shares = spread(amount, weights)

    assert sum(shares) == min(amount, sum(weights))
    assert all(0 <= share <= weight for share, weight in zip(shares, weights, strict=True))


def test_buy_x_get_y_applies_at_most_ten_thousand_times_per_cart() -> None:
    offer = {
        "kind": "buy_x_get_y",
        "buy": {"skus": ["CAN"]},
        "buy_quantity": 1,
        "get": {"skus": ["CAN"]},
        "get_quantity": 1,
    }
    crates = cart(("CAN", 10_000, 100), ("CAN", 10_000, 100), ("CAN", 10_000, 100))

    # 30,000 cans would make 15,000 pairs; the offer stops at 10,000 free cans.
    assert cut(offer, crates)[0] == 10_000 * 100
