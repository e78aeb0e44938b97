"""Types every part of the schema uses: money and page information."""

from __future__ import annotations

from datetime import datetime
from typing import NewType, TypeVar

import strawberry
from pydantic import BaseModel
from strawberry.experimental import pydantic as from_pydantic

from channelhub.platform.money import Money as MoneyModel

T = TypeVar("T")


def render(graphql_type: type[T], model: BaseModel, **extra: object) -> T:
    """``graphql_type``, a Strawberry type made from a Pydantic model, filled from
    ``model`` (``extra`` gives the fields the model does not have). One typed place for
    ``from_pydantic``, which mypy cannot see without Strawberry's own plugin."""
    rendered: T = graphql_type.from_pydantic(model, extra=extra)  # type: ignore[attr-defined]
    return rendered


def _whole_number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("MinorUnits must be a whole number")
    return value


MinorUnits = NewType("MinorUnits", int)
"""An amount in minor units; 64 bits, so GraphQL's 32-bit Int cannot carry it."""
MINOR_UNITS = strawberry.scalar(
    name="MinorUnits",
    description="An amount in minor units of its currency (1999 = 19.99 EUR), a 64-bit "
    "integer: GraphQL's Int has only 32 bits.",
    serialize=int,
    parse_value=_whole_number,
)


def _utc_text(value: datetime) -> str:
    """ISO 8601 as the REST API writes it: UTC as ``Z``."""
    text = value.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs a time zone offset, e.g. 2026-12-01T08:00:00Z")
    return parsed


DATETIME = strawberry.scalar(
    name="DateTime",
    description="A moment as ISO 8601 with its offset; UTC as `Z` (2026-12-01T08:00:00Z).",
    serialize=_utc_text,
    parse_value=_parse_datetime,
)


@from_pydantic.type(model=MoneyModel, name="Money", description=MoneyModel.__doc__)
class Money:
    amount: MinorUnits
    currency: strawberry.auto


@strawberry.type(description="Where a page of a list ends and whether more follow.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to get the next page; null on the last page."
    )
