"""The ASGI application: every channel's API on one hub."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

import channelhub
from channelhub.experience.graphql.http import router as graphql_router
from channelhub.experience.rest import deps
from channelhub.experience.rest.fields import SparseFieldsMiddleware
from channelhub.experience.rest.middleware import RequestContextMiddleware, UnitOfWorkMiddleware
from channelhub.experience.rest.problems import install_problem_handlers
from channelhub.experience.rest.ratelimit import RateLimits
from channelhub.experience.rest.routes import (
    access,
    catalog,
    channels,
    connections,
    customers,
    events,
    exports,
    health,
    helpdesk,
    hooks,
    inventory,
    loyalty,
    notifications,
    orders,
    promotions,
    segments,
    selfservice,
    stores,
    unsubscribe,
    webhooks,
)
from channelhub.experience.web import chat, console, portal, rating
from channelhub.experience.xml.app import create_xml_app
from channelhub.platform.runtime import Runtime

DESCRIPTION = """\
channelhub keeps one version of the truth about a merchant's orders, stock, stores,
shipments and customers, and serves it the same way to every channel.

**Authentication**: `Authorization: Bearer <API key>`; each key belongs to one tenant and
carries scopes (`admin`, `catalog:read`, `catalog:write`, ...).

**Conventions**: errors are RFC 9457 `application/problem+json` naming the field at fault;
POSTs accept `Idempotency-Key`; lists use cursor pagination (`limit`, `cursor`,
`next_cursor`); reads send `ETag` and honour `If-None-Match`; any read takes
`fields=a,b.c` (sparse fieldsets: just those fields, a compact answer for mobile);
updates honour `If-Match`; money is integer minor units plus an ISO 4217 currency; times
are UTC ISO 8601; ids are prefixed and sortable (`prd_...`).
"""


def create_app(hub: Runtime, *, run_background: bool = True) -> FastAPI:
    """Build the app around ``hub``. With ``run_background`` the app's lifespan starts the
    relay and consumers (``channelhub serve``); without, the caller runs them."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_background:
            await hub.start()
        try:
            yield
        finally:
            if run_background:
                await hub.stop()

    app = FastAPI(
        title="channelhub",
        version=channelhub.__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.hub = hub
    install_problem_handlers(app)
    app.add_exception_handler(deps.ReplayedResponse, deps.replay)
    app.state.rate_limits = RateLimits(hub.settings.rate_limit_storage_url)
    app.state.delivery_targets = hooks.DeliveryTargets()
    # The hottest paths first (the router tries routes in order): inbound webhooks, then
    # checkout's validation and redemption.
    app.include_router(hooks.router)
    app.include_router(promotions.checkout)
    for module in (
        health,
        access,
        channels,
        catalog,
        stores,
        inventory,
        orders,
        selfservice,
        unsubscribe,
        notifications,
        connections,
        customers,
        segments,
        events,
        webhooks,
        helpdesk,
        promotions,
        loyalty,
        exports,
    ):
        app.include_router(module.router)
    app.include_router(portal.router)
    app.include_router(console.router)
    app.include_router(rating.router)
    app.include_router(chat.router)
    app.include_router(graphql_router())
    app.mount("/xml", create_xml_app(hub, app.state.rate_limits))
    app.add_middleware(
        UnitOfWorkMiddleware, db=hub.db, max_body_bytes=hub.settings.max_request_body_bytes
    )
    app.add_middleware(SparseFieldsMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app
