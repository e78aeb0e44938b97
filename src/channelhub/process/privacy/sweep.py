"""The generic pass of an erasure: every table, every column that can hold text.

It knows no context. It walks ``Base.metadata`` (so a table added tomorrow is covered
without anyone remembering to add it) and, in every string, JSON or binary column of the
tenant's rows, replaces what is left of the person's identifiers. A table is the tenant's
by its ``tenant_id`` column, or through a foreign key to a table that is (an order line
through its order); a table with neither is only touched where a row both holds an
identifier and names one of the person's records by id (a failed consumer's envelope about
their order), since nothing else says whose it is.

Rows that name one of the person's records by id are theirs, and are matched more
broadly (a one-word name, a short street line); elsewhere only identifiers specific
enough not to hit other people are replaced (an e-mail address, a phone number, a full
name, a street line of several words).

Rows are read in primary-key order, a page at a time (a small one where a row may hold a
file), and each changed row is written back by its primary key, in the caller's
transaction.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    LargeBinary,
    String,
    Table,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import Column
from sqlalchemy.types import TypeDecorator, TypeEngine

from channelhub.platform.db.base import Base
from channelhub.platform.db.core import execute_core
from channelhub.process.privacy.pseudonyms import Matcher

PAGE = 500
BINARY_PAGE = 25
"""Rows per page of a table with a binary column: each row may hold megabytes (a mail
with its attachments, an attached file)."""
KEPT = frozenset(
    {
        "orders.number",
        "promotion_vouchers.code",
        "promotion_redemption_items.code",
    }
)
"""Business keys other systems and printed material refer to: never rewritten (an order
keeps its number, a gift card its code), whatever they happen to spell."""
_SHORTEST_IDENTIFIER = 6
"""A string column narrower than this cannot hold an identifier worth finding."""


@dataclass
class Changes:
    """The rows an erasure changed, per table (a row changed twice counts once)."""

    rows: defaultdict[str, set[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(set))

    def add(self, table: str, key: tuple[Any, ...]) -> None:
        self.rows[table].add(key)

    def counts(self) -> dict[str, int]:
        return {table: len(keys) for table, keys in sorted(self.rows.items()) if keys}


class Keys:
    """The ids of the person's own records (customer, orders, tickets...): a value that
    contains one marks its row as theirs."""

    def __init__(self, ids: Iterable[str]) -> None:
        known = sorted({i for i in ids if i}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, known))) if known else None

    def named_in(self, values: Iterable[Any]) -> bool:
        if self._pattern is None:
            return False
        return any(self._pattern.search(text) for value in values for text in _texts(value))


def _texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes | bytearray | memoryview):
        yield bytes(value).decode("utf-8", "replace")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _base_type(column: Column[Any]) -> TypeEngine[Any]:
    kind: TypeEngine[Any] = column.type
    while isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return kind


def textual(column: Column[Any]) -> bool:
    """Whether the column can hold text: strings, JSON documents, bytes."""
    return isinstance(_base_type(column), String | JSON | LargeBinary)


def scrubbed_columns(table: Table) -> list[Column[Any]]:
    """The columns the sweep rewrites: every textual one except ids and foreign keys
    (generated, never personal), the tenant, kept business keys and columns too narrow to
    hold an identifier."""
    chosen = []
    for column in table.columns:
        kind = _base_type(column)
        if not textual(column) or column.foreign_keys or column.name == "tenant_id":
            continue
        if column.primary_key and column.name == "id":
            continue
        if f"{table.name}.{column.name}" in KEPT:
            continue
        length = getattr(kind, "length", None)
        if isinstance(kind, String) and length is not None and length < _SHORTEST_IDENTIFIER:
            continue
        chosen.append(column)
    return chosen


def _tenant_tables() -> set[Table]:
    """The table(s) ``tenant_id`` columns refer to: a row there is in scope by its key."""
    return {
        fk.column.table
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name == "tenant_id"
        for fk in column.foreign_keys
    }


def tenant_scope(
    table: Table, tenant_id: str, *, visiting: frozenset[Table] = frozenset()
) -> ColumnElement[bool] | None:
    """The condition selecting the tenant's rows of ``table``, or None when nothing in
    the schema says which tenant a row belongs to."""
    if "tenant_id" in table.columns:
        return table.columns["tenant_id"] == tenant_id
    if table in _tenant_tables():
        (key,) = table.primary_key.columns
        return key == tenant_id
    through = []
    for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
        parent = fk.column.table
        if parent in visiting or parent is table:
            continue
        scope = tenant_scope(parent, tenant_id, visiting=visiting | {table})
        if scope is not None:
            through.append(fk.parent.in_(select(fk.column).where(scope)))
    return or_(*through) if through else None


async def sweep(
    session: AsyncSession,
    tenant_id: str,
    *,
    everywhere: Matcher,
    theirs: Matcher,
    keys: Keys,
    changes: Changes,
    tables: Sequence[Table] | None = None,
) -> None:
    """Replace the person's identifiers in every table (see the module's docstring)."""
    for table in tables if tables is not None else Base.metadata.sorted_tables:
        columns = scrubbed_columns(table)
        if columns:
            await _sweep_table(
                session,
                table,
                tenant_id,
                columns,
                everywhere=everywhere,
                theirs=theirs,
                keys=keys,
                changes=changes,
            )


async def _sweep_table(
    session: AsyncSession,
    table: Table,
    tenant_id: str,
    columns: list[Column[Any]],
    *,
    everywhere: Matcher,
    theirs: Matcher,
    keys: Keys,
    changes: Changes,
) -> None:
    scope = tenant_scope(table, tenant_id)
    primary = list(table.primary_key.columns)
    read = list(dict.fromkeys([*primary, *columns, *(c for c in table.columns if textual(c))]))
    position = tuple_(*primary) if len(primary) > 1 else primary[0]
    size = BINARY_PAGE if any(isinstance(_base_type(c), LargeBinary) for c in read) else PAGE
    after: tuple[Any, ...] | None = None
    while True:
        statement = (
            select(*read)
            .where(scope if scope is not None else true())
            .order_by(*primary)
            .limit(size)
        )
        if after is not None:
            statement = statement.where(
                position > (tuple_(*after) if len(primary) > 1 else after[0])
            )
        rows = (await session.execute(statement)).mappings().all()
        for row in rows:
            theirs_by_key = keys.named_in(row[c.name] for c in read)
            if scope is None and not theirs_by_key:
                continue
            # A row naming one of the person's records, or their own e-mail or phone, is
            # about them: their names and street lines go too.
            mine = theirs_by_key or any(
                row[column.name] is not None
                and everywhere.scrub(row[column.name]) != row[column.name]
                for column in columns
            )
            matcher = theirs if mine else everywhere
            changed = {}
            for column in columns:
                value = row[column.name]
                if value is None:
                    continue
                scrubbed = matcher.scrub(value)
                if scrubbed != value:
                    changed[column.name] = scrubbed
            if changed:
                key = tuple(row[c.name] for c in primary)
                await execute_core(
                    session,
                    update(table)
                    .where(*(c == k for c, k in zip(primary, key, strict=True)))
                    .values(**changed),
                    {},
                )
                changes.add(table.name, key)
        if len(rows) < size:
            return
        after = tuple(rows[-1][c.name] for c in primary)
