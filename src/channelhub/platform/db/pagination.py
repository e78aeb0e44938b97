"""Keyset (cursor) pagination over prefixed ULID ids, newest first.

A cursor is opaque to clients: base64url of the last id seen. Keyset pages stay correct
while rows are inserted, and cost the same on page 1 and page 10,000.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.errors import InvalidError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_PAGE_SIZE
    after_id: str | None = None

    @classmethod
    def from_cursor(cls, cursor: str | None, limit: int = DEFAULT_PAGE_SIZE) -> PageRequest:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidError(f"limit must be between 1 and {MAX_PAGE_SIZE}", field="limit")
        return cls(limit=limit, after_id=decode_cursor(cursor) if cursor else None)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


async def keyset_page(
    session: AsyncSession, statement: Select[Any], key: Any, page: PageRequest
) -> Page[Any]:
    """Rows of ``statement`` newest first by the sortable id column ``key``, from the page's
    cursor; fetches one extra row to know whether more exist."""
    if page.after_id is not None:
        statement = statement.where(key < page.after_id)
    rows = (await session.scalars(statement.order_by(key.desc()).limit(page.limit + 1))).all()
    items = rows[: page.limit]
    more = len(rows) > page.limit
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if "_" not in value or not value.isascii() or len(value) > 40:
        raise InvalidError("cursor is not one this API issued", field="cursor")
    return value
