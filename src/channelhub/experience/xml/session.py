"""A read session for each XML read, where the REST dependencies look for it.

The hub's unit-of-work middleware serves the REST paths (``/v1/...``) only. The XML app
gives each safe request a read session at ``request.state.session`` the same way, so the
REST dependencies (API-key principal, order token, paging) work here unchanged. The one
XML write, the self-service look-up, opens its own transaction.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from channelhub.platform.db.database import Database

_SAFE_METHODS = frozenset({"GET", "HEAD"})


class ReadSessionMiddleware:
    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        async with self.db.reader() as session:
            scope.setdefault("state", {})["session"] = session
            await self.app(scope, receive, send)
