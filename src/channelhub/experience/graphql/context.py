"""What the resolvers of one GraphQL request share: its unit of work, its caller, its
DataLoaders and its clock reading."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from channelhub.experience.graphql.loaders import Loaders
from channelhub.experience.rest.tokens import verify_order
from channelhub.platform.auth.principal import Principal
from channelhub.platform.auth.service import authenticate
from channelhub.platform.clock import utc_now
from channelhub.platform.errors import UnauthenticatedError
from channelhub.platform.i18n import negotiate
from channelhub.platform.runtime import Runtime
from channelhub.process.orders import selfservice

ORDER_TOKEN_HEADER = "X-Order-Token"  # noqa: S105 - a header name, not a secret


@dataclass(frozen=True)
class Shopper:
    """A shopper holding a valid order token: the one order they may see and act on."""

    principal: Principal
    order_id: str


class Context(BaseContext):
    """Built per request. Database work happens inside ``unit_of_work`` (opened by the
    ``UnitOfWork`` extension around execution), one statement at a time: GraphQL resolves
    sibling fields concurrently, and one ``AsyncSession`` serves one statement at a time."""

    def __init__(self, hub: Runtime, connection: HTTPConnection) -> None:
        super().__init__()
        self.hub = hub
        self.headers = connection.headers
        self.now = utc_now()
        self.loaders = Loaders(self.session, self.now)
        self._session: AsyncSession | None = None
        self._session_lock = asyncio.Lock()
        self._auth_lock = asyncio.Lock()
        self._principal: Principal | UnauthenticatedError | None = None
        self._shopper: Shopper | UnauthenticatedError | None = None

    @contextlib.asynccontextmanager
    async def unit_of_work(self, *, write: bool) -> AsyncIterator[None]:
        """A read session for a query; for a mutation, one write transaction that commits
        when the whole operation has been resolved (each mutation field in its own
        savepoint, see ``savepoint``)."""
        opened = self.hub.db.transaction() if write else self.hub.db.reader()
        async with opened as session:
            self._session = session
            try:
                yield
            finally:
                self._session = None

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """The request's session, held by one resolver at a time."""
        if self._session is None:
            raise RuntimeError("the session is used outside the request's unit of work")
        async with self._session_lock:
            yield self._session

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[AsyncSession]:
        """The session inside a savepoint: an error raised in the block undoes only what
        the block wrote, so one failed mutation field leaves the others committed."""
        async with self.session() as session, session.begin_nested():
            yield session

    @property
    def has_api_key(self) -> bool:
        return "authorization" in self.headers

    @property
    def has_order_token(self) -> bool:
        return ORDER_TOKEN_HEADER.lower() in self.headers

    @property
    def accept_language(self) -> str | None:
        header = self.headers.get("accept-language")
        return negotiate(header) if header else None

    async def principal(self) -> Principal:
        """The caller of an API key sent as ``Authorization: Bearer <key>``; checked once
        per request."""
        async with self._auth_lock:
            if self._principal is None:
                self._principal = await self._authenticate()
        if isinstance(self._principal, UnauthenticatedError):
            raise self._principal
        return self._principal

    async def shopper(self) -> Shopper:
        """The shopper of the order named by the ``X-Order-Token`` header."""
        async with self._auth_lock:
            if self._shopper is None:
                self._shopper = await self._verify_token()
        if isinstance(self._shopper, UnauthenticatedError):
            raise self._shopper
        return self._shopper

    async def _authenticate(self) -> Principal | UnauthenticatedError:
        scheme, _, secret = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return UnauthenticatedError("send an API key as Authorization: Bearer <key>")
        try:
            async with self.session() as session:
                return await authenticate(session, secret.strip())
        except UnauthenticatedError as exc:
            return exc

    async def _verify_token(self) -> Shopper | UnauthenticatedError:
        token = self.headers.get(ORDER_TOKEN_HEADER, "").strip()
        if not token:
            return UnauthenticatedError(f"send the order token as {ORDER_TOKEN_HEADER}")
        try:
            async with self.session() as session:
                tenant_id, order_id = await verify_order(session, self.hub.settings, token)
        except UnauthenticatedError as exc:
            return exc
        return Shopper(selfservice.customer(tenant_id), order_id)
