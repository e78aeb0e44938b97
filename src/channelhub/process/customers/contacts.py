"""E-mail addresses and phone numbers in the one form the hub stores and looks up.

Phones are stored in E.164 (``+`` then 7 to 15 digits, the first not 0), so that
``+351 912-345-678``, ``(+351) 912 345 678`` and ``00351912345678`` are one customer and a
lookup hits the ``(tenant_id, phone)`` index. The ``phonenumbers`` library is not a
dependency of the hub, so this normaliser is deliberately small: it keeps the leading ``+``
(or the international ``00`` prefix) and the digits, allows the usual separators, and
refuses anything else, including a number without its country code, since the hub cannot
guess which country a national number belongs to.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-/()]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def normalise_email(value: str) -> str:
    """Stripped and lower-case: how e-mail addresses are stored and compared."""
    return value.strip().lower()


def normalise_phone(value: str) -> str:
    """The number in E.164 (``+351912345678``); ValueError when it is not a phone number
    with its country code."""
    # "+44 (0)20 ..." writes the trunk 0 that is dialled only at home: not part of E.164.
    compact = _SEPARATORS.sub("", value.strip().replace("(0)", ""))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.match(compact):
        raise ValueError(
            "not a phone number in international form: give + and the country code, "
            "e.g. +351 912 345 678"
        )
    return compact
