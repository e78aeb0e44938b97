from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import selectinload

from channelhub.platform.db.repository import TenantRepository
from channelhub.process.stores.models import Location, LocationChannel

_BY_ID_OR_CODE = select(Location).where(
    Location.tenant_id == bindparam("tenant_id"),
    Location.id.in_(bindparam("refs", expanding=True))
    | Location.code.in_(bindparam("refs", expanding=True)),
)
"""Built once: reservations and stock updates resolve locations on every request."""


class LocationRepository(TenantRepository[Location]):
    model = Location

    def with_channels(self) -> Select[Location]:
        return self.scoped().options(selectinload(Location.channels))

    async def get_with_channels(
        self, location_id: str, *, for_update: bool = False
    ) -> Location | None:
        statement = self.with_channels().where(Location.id == location_id)
        if for_update:
            statement = statement.with_for_update(of=Location)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def by_code(self, code: str) -> Location | None:
        statement = self.scoped().where(Location.code == code)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def resolve(self, refs: Collection[str]) -> dict[str, Location]:
        """Locations by id or code, keyed by the reference given."""
        found = (
            await self.session.scalars(
                _BY_ID_OR_CODE, {"tenant_id": self.tenant_id, "refs": list(refs)}
            )
        ).all()
        by_ref: dict[str, Location] = {}
        for location in found:
            by_ref[location.id] = location
            by_ref[location.code] = location
        return {ref: by_ref[ref] for ref in refs if ref in by_ref}

    async def by_ids(self, location_ids: Collection[str]) -> dict[str, Location]:
        """Locations by id (never by code: a code may look like another location's id)."""
        found = await self.session.scalars(self.scoped().where(Location.id.in_(list(location_ids))))
        return {location.id: location for location in found}

    async def serving(self, sales_channel_id: str) -> Sequence[tuple[Location, int]]:
        """Active locations linked to a channel, with their priority, lowest first."""
        statement = (
            select(Location, LocationChannel.priority)
            .join(LocationChannel, LocationChannel.location_id == Location.id)
            .where(
                Location.tenant_id == self.tenant_id,
                Location.active.is_(True),
                LocationChannel.sales_channel_id == sales_channel_id,
            )
            .order_by(LocationChannel.priority, Location.code)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]
