"""Validation rules: type-checked when saved, evaluated without surprises."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from channelhub.process.promotions.rules import (
    CartFacts,
    CustomerFacts,
    Facts,
    Rule,
    check_depth,
    unmet,
)

RULE: TypeAdapter[Rule] = TypeAdapter(Rule)
MONDAY_2330_UTC = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
"""Still Monday in UTC; already Tuesday, 00:30, in Prague (UTC+1 in winter)."""

CART = CartFacts(
    lines=(
        CartFacts.Line("TENT-1", 1, 20000, ("camping",)),
        CartFacts.Line("SOCK-1", 3, 500, ("apparel", "camping")),
    ),
    shipping=499,
)


def facts(**customer: Any) -> Facts:
    return Facts(
        cart=CART,
        customer=CustomerFacts(**customer),
        channel="sch_web",
        brand="brd_1",
        location=None,
        now=MONDAY_2330_UTC,
    )


def check(rule: dict[str, Any], given: Facts | None = None) -> str | None:
    return unmet(RULE.validate_python(rule), given or facts())


@pytest.mark.parametrize(
    ("rule", "holds"),
    [
        ({"field": "cart.subtotal", "op": "gte", "value": 21500}, True),
        ({"field": "cart.subtotal", "op": "gt", "value": 21500}, False),
        ({"field": "cart.quantity", "op": "eq", "value": 4}, True),
        ({"field": "cart.quantity", "op": "eq", "value": 3, "of": {"skus": ["SOCK-1"]}}, True),
        ({"field": "cart.subtotal", "op": "lt", "value": 1000, "of": {"categories": ["x"]}}, True),
        ({"field": "cart.skus", "op": "contains", "value": "TENT-1"}, True),
        ({"field": "cart.categories", "op": "contains_all", "value": ["camping", "apparel"]}, True),
        ({"field": "cart.categories", "op": "contains_any", "value": ["food", "toys"]}, False),
        ({"field": "channel", "op": "in", "value": ["sch_app", "sch_web"]}, True),
        ({"field": "location", "op": "eq", "value": "loc_1"}, False),
        ({"field": "time.weekday", "op": "eq", "value": 1}, True),
        ({"field": "time.date", "op": "gte", "value": "2026-11-30"}, True),
        ({"not": {"field": "cart.skus", "op": "contains", "value": "TENT-1"}}, False),
        (
            {
                "any": [
                    {"field": "cart.lines", "op": "gt", "value": 5},
                    {"field": "cart.shipping", "op": "gt", "value": 0},
                ]
            },
            True,
        ),
    ],
)
def test_conditions_on_the_cart_channel_and_time(rule: dict[str, Any], holds: bool) -> None:
    assert (check(rule) is None) is holds


def test_time_rules_use_the_campaigns_time_zone() -> None:
    prague = Facts(**{**facts().__dict__, "timezone": "Europe/Prague"})
    rule = {"field": "time.weekday", "op": "eq", "value": 2}

    assert check(rule) is not None
    assert check(rule, prague) is None
    assert check({"field": "time.hour", "op": "eq", "value": 0}, prague) is None


def test_any_customer_metadata_key_can_be_matched() -> None:
    member = facts(id="cus_1", tier="gold", metadata={"club": "runners", "visits": 12})

    assert (
        check({"field": "customer.metadata.club", "op": "eq", "value": "runners"}, member) is None
    )
    assert check({"field": "customer.metadata.visits", "op": "gte", "value": 10}, member) is None
    assert check({"field": "customer.tier", "op": "in", "value": ["gold", "vip"]}, member) is None
    assert check({"field": "customer.metadata.club", "op": "exists", "value": False}, member)
    # A value of another type never matches, and never raises.
    assert check({"field": "customer.metadata.club", "op": "gt", "value": 3}, member)
    assert check({"field": "customer.metadata.missing", "op": "eq", "value": "x"}, member)
    assert check({"field": "customer.metadata.missing", "op": "ne", "value": "x"}, member) is None


def test_an_unmet_rule_says_which_part_failed() -> None:
    reason = check(
        {
            "all": [
                {"field": "cart.subtotal", "op": "gte", "value": 100},
                {"field": "cart.skus", "op": "contains", "value": "BOOT-9"},
            ]
        }
    )

    assert reason == "cart.skus contains 'BOOT-9'"


@pytest.mark.parametrize(
    ("rule", "path", "message"),
    [
        ({"field": "cart.totl", "op": "gte", "value": 1}, (), "unknown field 'cart.totl'"),
        ({"field": "cart.subtotal", "op": "gte", "value": "100"}, (), "takes numbers"),
        ({"field": "cart.skus", "op": "gte", "value": 1}, (), "is a set"),
        ({"field": "customer.tier", "op": "gt", "value": "gold"}, (), "is text"),
        ({"field": "channel", "op": "in", "value": []}, (), "non-empty list"),
        ({"field": "cart.lines", "op": "eq", "value": 1, "of": {"skus": ["A"]}}, (), "of is for"),
        ({"field": "cart.quantity", "op": "eq", "value": 1, "of": {}}, ("of",), "at least one"),
        ({"field": "cart.subtotal", "op": "exists", "value": True}, (), "exists takes"),
        (
            {"all": [{"field": "cart.subtotal", "op": "gte", "value": 1}, {"field": "x.y"}]},
            ("all", "all", 1, "condition", "op"),
            "Field required",
        ),
        ({"any": []}, ("any", "any"), "at least 1 item"),
    ],
)
def test_a_bad_rule_is_refused_with_the_path_of_the_fault(
    rule: dict[str, Any], path: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        RULE.validate_python(rule)

    error = caught.value.errors()[0]
    assert message in error["msg"]
    assert tuple(error["loc"])[len(error["loc"]) - len(path) :] == path


def test_rules_nest_only_so_deep() -> None:
    rule: dict[str, Any] = {"field": "cart.lines", "op": "gt", "value": 0}
    for _ in range(8):
        rule = {"not": rule}

    with pytest.raises(ValueError, match="8 levels"):
        check_depth(RULE.validate_python(rule))
