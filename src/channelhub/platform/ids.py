"""Prefixed, sortable identifiers: ``prd_01JD3X...``.

The prefix says what an id names (a support agent can tell an order from a ticket at a
glance); the ULID body sorts by creation time, which keyset pagination relies on.
"""

from __future__ import annotations

import re

from ulid import ULID

_PREFIX = re.compile(r"^[a-z]{2,5}$")


def new_id(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise ValueError(f"id prefix must be 2-5 lowercase letters, got {prefix!r}")
    return f"{prefix}_{ULID()!s}".lower()


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(f"{prefix}_") and len(value) == len(prefix) + 27
