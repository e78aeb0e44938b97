"""Which shop a public page (portal, chat) is for: the tenant its URL's slug names."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path

from channelhub.platform.auth import service as auth
from channelhub.platform.auth.models import Tenant
from channelhub.platform.errors import NotFoundError
from channelhub.platform.runtime import Runtime

Slug = Annotated[str, Path(description="The shop (tenant slug).")]
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


async def tenant_named(hub: Runtime, slug: str) -> Tenant | None:
    """The tenant whose slug is ``slug``; None for an unknown or malformed one."""
    if not _SLUG.match(slug):
        return None
    async with hub.db.reader() as session:
        try:
            return await auth.get_tenant(session, slug)
        except NotFoundError:
            return None
