"""Validation rules: conditions on the cart, the customer, the channel, the location and the
time, composed with ``all`` / ``any`` / ``not``. Rules are data (JSON), type-checked when a
campaign is saved so that a rule naming an unknown field, or comparing a number with a
string, is refused with the path of the fault instead of quietly never matching.

A condition is ``{"field": "cart.subtotal", "op": "gte", "value": 5000}``; ``cart.subtotal``
and ``cart.quantity`` may count only some lines with ``"of": {"skus": [...]}`` or
``"of": {"categories": [...]}``.

The fields a rule may name are a ``Vocabulary``. Promotion rules use ``PROMOTION_FIELDS``;
another context reuses the same trees, operators and type checks over its own facts by
subclassing ``Condition`` (with its vocabulary) and ``All`` / ``AnyOf`` / ``Not`` (over its
condition), as customer segments do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Scalar = int | Annotated[float, Field(allow_inf_nan=False)] | str | bool
_METADATA_PREFIX = "customer.metadata."
_METADATA_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


class Op(StrEnum):
    eq = "eq"
    ne = "ne"
    gt = "gt"
    gte = "gte"
    lt = "lt"
    lte = "lte"
    in_ = "in"
    not_in = "not_in"
    contains = "contains"
    not_contains = "not_contains"
    contains_any = "contains_any"
    contains_all = "contains_all"
    exists = "exists"


_ORDERED = {Op.gt, Op.gte, Op.lt, Op.lte}
_EQUALITY = {Op.eq, Op.ne}
_MEMBERSHIP = {Op.in_, Op.not_in}
_SET_OPS = {Op.contains, Op.not_contains, Op.contains_any, Op.contains_all}

NUMBER_FIELDS: dict[str, str] = {
    "cart.subtotal": "Sum of the lines (minor units), before any discount.",
    "cart.quantity": "Units in the cart.",
    "cart.lines": "Distinct lines in the cart.",
    "cart.shipping": "Shipping price (minor units).",
    "time.hour": "Hour of the day, 0-23, in the campaign's time zone.",
    "time.weekday": "Day of the week, 1 (Monday) to 7 (Sunday), in the campaign's time zone.",
}
TEXT_FIELDS: dict[str, str] = {
    "customer.id": "The customer's id (cus_...).",
    "customer.email": "The customer's e-mail address.",
    "customer.tier": "The customer's tier.",
    "channel": "The sales channel (sch_...).",
    "brand": "The brand of the sales channel (brd_...).",
    "location": "The location (store) of the purchase (loc_...).",
    "time.date": "The date, YYYY-MM-DD, in the campaign's time zone.",
}
SET_FIELDS: dict[str, str] = {
    "cart.skus": "The SKUs in the cart.",
    "cart.categories": "The categories of the lines in the cart.",
    "customer.segments": "Keys of the customer's segments (see docs/customers.md).",
}
_ORDERED_TEXT = {"time.date"}


class Target(BaseModel):
    """Which cart lines something applies to: a line matches when its SKU is listed or
    one of its categories is."""

    model_config = ConfigDict(extra="forbid")

    skus: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=1000, description="SKUs."
    )
    categories: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=100, description="Categories."
    )

    @model_validator(mode="after")
    def _names_something(self) -> Target:
        if not self.skus and not self.categories:
            raise ValueError("name at least one SKU or category")
        return self

    def matches(self, line: CartFacts.Line) -> bool:
        return line.sku in self.skus or any(c in self.categories for c in line.categories)


@dataclass(frozen=True)
class Vocabulary:
    """The fields rules of one kind may name, by type. ``families`` are fields named by a
    prefix and a key (``customer.metadata.<key>``): prefix -> (kind, placeholder, key
    pattern), where kind is ``metadata`` (any scalar) or ``number``."""

    number: Mapping[str, str]
    text: Mapping[str, str]
    sets: Mapping[str, str] = field(default_factory=dict)
    ordered_text: frozenset[str] = frozenset()
    countable: tuple[str, ...] = ()
    families: Mapping[str, tuple[str, str, re.Pattern[str]]] = field(default_factory=dict)

    def kind_of(self, name: str) -> str:
        if name in self.number:
            return "number"
        if name in self.text:
            return "text"
        if name in self.sets:
            return "set"
        for prefix, (kind, _, pattern) in self.families.items():
            if name.startswith(prefix) and pattern.match(name[len(prefix) :]):
                return kind
        known = ", ".join(sorted([*self.number, *self.text, *self.sets]))
        named = ", ".join(
            f"{prefix}{placeholder}" for prefix, (_, placeholder, _) in self.families.items()
        )
        raise ValueError(f"unknown field {name!r}: use one of {known}, or {named}")

    def family_key(self, name: str) -> tuple[str, str] | None:
        """(prefix, key) of a field of a family, else None."""
        for prefix in self.families:
            if name.startswith(prefix):
                return prefix, name[len(prefix) :]
        return None


PROMOTION_FIELDS = Vocabulary(
    number=NUMBER_FIELDS,
    text=TEXT_FIELDS,
    sets=SET_FIELDS,
    ordered_text=frozenset(_ORDERED_TEXT),
    countable=("cart.subtotal", "cart.quantity"),
    families={_METADATA_PREFIX: ("metadata", "<key>", _METADATA_KEY)},
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_value(fields: Vocabulary, kind: str, name: str, op: Op, value: Any) -> None:
    """Raise ValueError unless ``op`` and ``value`` make sense for a field of ``kind``."""
    if op is Op.exists:
        if kind != "metadata" or not isinstance(value, bool):
            raise ValueError("exists takes true or false, on customer.metadata.<key> only")
        return
    if kind == "set":
        if op not in _SET_OPS:
            raise ValueError(f"{name} is a set: use contains, not_contains, contains_any or all")
        many = op in {Op.contains_any, Op.contains_all}
        if many and not (
            isinstance(value, list) and value and all(isinstance(v, str) for v in value)
        ):
            raise ValueError(f"{op} takes a non-empty list of strings")
        if not many and not isinstance(value, str):
            raise ValueError(f"{op} takes a string")
        return
    if op in _SET_OPS:
        if not fields.sets:
            raise ValueError(f"{op} is for set fields, and these rules have none")
        raise ValueError(f"{op} is for set fields ({', '.join(fields.sets)})")
    is_type = _is_number if kind == "number" else (lambda v: isinstance(v, str))
    if kind == "metadata":
        is_type = lambda v: isinstance(v, str | int | float | bool)  # noqa: E731
    if op in _MEMBERSHIP:
        if not (isinstance(value, list) and value and all(is_type(v) for v in value)):
            raise ValueError(f"{op} takes a non-empty list of {_type_name(kind)}")
        return
    if op in _ORDERED and kind == "text" and name not in fields.ordered_text:
        raise ValueError(f"{name} is text: use eq, ne, in or not_in")
    if not is_type(value):
        raise ValueError(f"{name} {op} takes {_type_name(kind)}")


def _type_name(kind: str) -> str:
    return {"number": "numbers", "text": "strings", "metadata": "strings, numbers or booleans"}[
        kind
    ]


class FactSource(Protocol):
    """What conditions are checked against: the value of a field (None when unknown)."""

    def value_of(self, name: str, of: Target | None = None) -> Any: ...


class Condition(BaseModel):
    """One comparison of a fact with a value."""

    model_config = ConfigDict(extra="forbid")
    vocabulary: ClassVar[Vocabulary] = PROMOTION_FIELDS

    field: str = Field(
        min_length=1, max_length=100, description="What to look at, e.g. cart.subtotal."
    )
    op: Op = Field(description="How to compare.")
    value: Scalar | list[Scalar] = Field(description="What to compare with.")
    of: Target | None = Field(
        default=None,
        description="cart.subtotal and cart.quantity only: count just these lines.",
    )

    @model_validator(mode="after")
    def _type_checked(self) -> Condition:
        fields = self.vocabulary
        kind = fields.kind_of(self.field)
        _check_value(fields, kind, self.field, self.op, self.value)
        if self.of is not None and self.field not in fields.countable:
            if not fields.countable:
                raise ValueError("of is not used by these rules")
            raise ValueError(f"of is for {' and '.join(fields.countable)} only")
        return self

    def holds(self, facts: FactSource) -> bool:
        actual = facts.value_of(self.field, self.of)
        return _compare(self.op, actual, self.value)

    def describe(self) -> str:
        of = f" of {self.of.model_dump(exclude_defaults=True)}" if self.of else ""
        return f"{self.field}{of} {self.op} {self.value!r}"


class All(BaseModel):
    model_config = ConfigDict(extra="forbid")
    all: list[Rule] = Field(min_length=1, max_length=50, description="Every one holds.")


class AnyOf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    any: list[Rule] = Field(min_length=1, max_length=50, description="At least one holds.")


class Not(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    not_: Rule = Field(alias="not", description="It does not hold.")


def rule_kind(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "condition"
    kinds: dict[type[BaseModel], str] = {All: "all", AnyOf: "any", Not: "not"}
    return next((kind for cls, kind in kinds.items() if isinstance(value, cls)), "condition")


Rule = Annotated[
    Annotated[All, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[Condition, Tag("condition")],
    Discriminator(rule_kind),
]
"""A condition, or ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``."""

All.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()

_MAX_DEPTH = 8


def depth(rule: Rule) -> int:
    if isinstance(rule, All):
        return 1 + max(depth(child) for child in rule.all)
    if isinstance(rule, AnyOf):
        return 1 + max(depth(child) for child in rule.any)
    if isinstance(rule, Not):
        return 1 + depth(rule.not_)
    return 1


def check_depth(rule: Rule | None) -> None:
    if rule is not None and depth(rule) > _MAX_DEPTH:
        raise ValueError(f"rules nest at most {_MAX_DEPTH} levels deep")


def unmet(rule: Rule | None, facts: FactSource) -> str | None:
    """None when the rule holds; otherwise which part of it did not, for a person."""
    if rule is None:
        return None
    if isinstance(rule, All):
        for child in rule.all:
            if (reason := unmet(child, facts)) is not None:
                return reason
        return None
    if isinstance(rule, AnyOf):
        reasons = [unmet(child, facts) for child in rule.any]
        if any(reason is None for reason in reasons):
            return None
        return "none of: " + "; ".join(r for r in reasons if r is not None)
    if isinstance(rule, Not):
        if unmet(rule.not_, facts) is None:
            return f"not ({_describe(rule.not_)})"
        return None
    return None if rule.holds(facts) else rule.describe()


def _describe(rule: Rule) -> str:
    if isinstance(rule, All):
        return " and ".join(_describe(child) for child in rule.all)
    if isinstance(rule, AnyOf):
        return " or ".join(_describe(child) for child in rule.any)
    if isinstance(rule, Not):
        return f"not ({_describe(rule.not_)})"
    return rule.describe()


def _compare(op: Op, actual: Any, expected: Any) -> bool:
    """Compare; values of different types never match (and never raise)."""
    if op is Op.exists:
        return (actual is not None) is expected
    if isinstance(actual, frozenset):
        if op is Op.contains:
            return expected in actual
        if op is Op.not_contains:
            return expected not in actual
        if op is Op.contains_any:
            return any(v in actual for v in expected)
        return all(v in actual for v in expected)
    if actual is None:
        return op in {Op.ne, Op.not_in}
    if op in _MEMBERSHIP:
        found = any(_same(actual, v) for v in expected)
        return found if op is Op.in_ else not found
    if op in _EQUALITY:
        return _same(actual, expected) is (op is Op.eq)
    if not _comparable(actual, expected):
        return False
    if op is Op.gt:
        return bool(actual > expected)
    if op is Op.gte:
        return bool(actual >= expected)
    if op is Op.lt:
        return bool(actual < expected)
    return bool(actual <= expected)


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return _comparable(a, b) and a == b


@dataclass(frozen=True)
class CartFacts:
    @dataclass(frozen=True)
    class Line:
        sku: str
        quantity: int
        unit_price: int
        categories: tuple[str, ...] = ()

    lines: tuple[Line, ...]
    shipping: int = 0


@dataclass(frozen=True)
class CustomerFacts:
    id: str | None = None
    email: str | None = None
    tier: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    segments: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Facts:
    """What rules look at: one cart, one customer, where and when."""

    cart: CartFacts
    customer: CustomerFacts
    channel: str | None
    brand: str | None
    location: str | None
    now: datetime
    timezone: str = "UTC"

    def value_of(self, name: str, of: Target | None = None) -> Any:
        if name.startswith(_METADATA_PREFIX):
            return self.customer.metadata.get(name[len(_METADATA_PREFIX) :])
        if name.startswith("cart."):
            return self._cart_value(name, of)
        if name == "customer.segments":
            return self.customer.segments
        if name.startswith("time."):
            local = self.now.astimezone(ZoneInfo(self.timezone))
            if name == "time.hour":
                return local.hour
            if name == "time.weekday":
                return local.isoweekday()
            return local.date().isoformat()
        return {
            "customer.id": self.customer.id,
            "customer.email": self.customer.email,
            "customer.tier": self.customer.tier or None,
            "channel": self.channel,
            "brand": self.brand,
            "location": self.location,
        }[name]

    def _cart_value(self, name: str, of: Target | None) -> Any:
        lines = [line for line in self.cart.lines if of is None or of.matches(line)]
        if name == "cart.subtotal":
            return sum(line.quantity * line.unit_price for line in lines)
        if name == "cart.quantity":
            return sum(line.quantity for line in lines)
        if name == "cart.lines":
            return len(lines)
        if name == "cart.shipping":
            return self.cart.shipping
        if name == "cart.skus":
            return frozenset(line.sku for line in lines)
        return frozenset(c for line in lines for c in line.categories)


def names_field(rules: Any, name: str) -> bool:
    """Whether a stored rule tree (JSON) has a condition on field ``name`` anywhere."""
    if isinstance(rules, dict):
        return rules.get("field") == name or any(names_field(v, name) for v in rules.values())
    if isinstance(rules, list):
        return any(names_field(item, name) for item in rules)
    return False
