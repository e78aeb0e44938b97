"""The one typed repository base. Tenant scoping lives here and nowhere else."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.db.base import TenantScoped
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.errors import InvalidError, NotFoundError

M = TypeVar("M", bound=TenantScoped)


class TenantRepository(Generic[M]):
    """Queries of one tenant's rows of ``model``.

    Every statement a subclass builds starts from ``self.scoped()``, so another tenant's
    row is indistinguishable from a missing one (a 404, never a 403 that leaks existence).
    """

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def scoped(self) -> Select[M]:
        return select(self.model).where(self.model.tenant_id == self.tenant_id)

    async def get(self, id_: str, *, for_update: bool = False) -> M | None:
        statement = self.scoped().where(self.model.id == id_)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    def add(self, row: M) -> M:
        row.tenant_id = self.tenant_id
        self.session.add(row)
        return row

    async def paginate(self, statement: Select[M], page: PageRequest) -> Page[M]:
        """Newest first, keyed on the sortable id."""
        return await keyset_page(self.session, statement, self.model.id, page)


async def owned_row(
    session: AsyncSession,
    model: type[M],
    tenant_id: str,
    row_id: str,
    missing: type[NotFoundError],
    *,
    field: str | None = None,
    for_update: bool = False,
) -> M:
    """The tenant's row ``row_id`` of ``model``. Missing (or another tenant's): ``missing``
    (a 404), or, when the id came in a request body's ``field``, a 422 naming it."""
    statement = select(model).where(model.tenant_id == tenant_id, model.id == row_id)
    if for_update:
        statement = statement.with_for_update()
    row = await session.scalar(statement)
    if row is None:
        message = f"no {missing.code.removesuffix('_not_found').replace('_', ' ')} {row_id!r}"
        if field is not None:
            raise InvalidError(message, field=field, code=missing.code)
        raise missing(message)
    return row
