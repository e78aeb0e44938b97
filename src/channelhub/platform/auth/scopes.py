"""Scopes: ``admin`` or ``<resource>:read`` / ``<resource>:write``.

``admin`` grants everything; ``x:write`` implies ``x:read``. Which resources exist is the
process layer's business (``channelhub.process.access``); this module only knows the rules.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from channelhub.platform.errors import InvalidError

ADMIN = "admin"
_SCOPE = re.compile(r"^(?P<resource>[a-z][a-z_]*):(?P<access>read|write)$")


def grants(held: Collection[str], wanted: str) -> bool:
    if ADMIN in held or wanted in held:
        return True
    match = _SCOPE.match(wanted)
    return bool(match and match["access"] == "read" and f"{match['resource']}:write" in held)


def validate_scopes(scopes: Iterable[str], resources: Collection[str]) -> list[str]:
    """Return the scopes sorted and de-duplicated, or raise naming the first unknown one."""
    result: set[str] = set()
    for scope in scopes:
        match = _SCOPE.match(scope)
        if scope != ADMIN and (match is None or match["resource"] not in resources):
            known = ", ".join([ADMIN, *(f"{r}:read|write" for r in sorted(resources))])
            raise InvalidError(f"unknown scope {scope!r}; known: {known}", field="scopes")
        result.add(scope)
    if not result:
        raise InvalidError("a key needs at least one scope", field="scopes")
    return sorted(result)
