"""The XML app, mounted at ``/xml`` on the hub's app.

Its errors go through the REST problem handlers (same status, code, detail and fields)
and leave as problem+xml; its reads get a read session as REST reads do.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

import channelhub
from channelhub.experience.rest.problems import install_problem_handlers
from channelhub.experience.rest.ratelimit import RateLimits
from channelhub.experience.xml import schema
from channelhub.experience.xml.problems import ProblemXmlMiddleware
from channelhub.experience.xml.routes import orders, selfservice, stores
from channelhub.experience.xml.session import ReadSessionMiddleware
from channelhub.platform.runtime import Runtime


def create_xml_app(hub: Runtime, rate_limits: RateLimits) -> ASGIApp:
    """The XML API around ``hub``; ``rate_limits`` are the REST app's, so a shopper's
    look-ups count the same whichever API they use."""
    app = FastAPI(
        title="channelhub XML",
        version=channelhub.__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.hub = hub
    app.state.rate_limits = rate_limits
    install_problem_handlers(app)
    for module in (orders, stores, selfservice, schema):
        app.include_router(module.router)
    app.add_middleware(ReadSessionMiddleware, db=hub.db)
    return ProblemXmlMiddleware(app)
