"""``/graphql`` over HTTP: POST (JSON) for queries and mutations, GET for queries, and the
GraphiQL IDE for a browser's GET.

Answers follow GraphQL-over-HTTP with ``application/json``: a request that reached
GraphQL gets HTTP 200, with ``errors`` (each with ``extensions.code``) when something
failed, UNAUTHENTICATED included. A request that is not a GraphQL request at all (a body
that is not JSON, no query, a mutation over GET, a body too large, NUL characters) gets a
4xx status with the same ``{"errors": [...]}`` shape.
"""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message
from starlette.websockets import WebSocket
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from channelhub.experience.graphql.context import Context
from channelhub.experience.graphql.errors import with_code
from channelhub.experience.graphql.schema import schema
from channelhub.platform.runtime import Runtime

PATH = "/graphql"
_NUL_FORMS = (b"%00", b"\\u0000", b"\x00")
"""NUL as a URL escape, a JSON escape or a raw byte: no database stores it the same way."""


def refusal(status_code: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status_code
    )


async def context_for(connection: HTTPConnection) -> Context:
    hub: Runtime = connection.app.state.hub
    return Context(hub, connection)


async def _body(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _replaying(request: Request, body: bytes) -> Request:
    """A request that hands the body already read to whoever reads it next."""

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


class Router(GraphQLRouter[Context, None]):
    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Every error leaves with an ``extensions.code``, whichever step raised it."""
        if result.errors:
            result.errors = [with_code(error) for error in result.errors]
        return await super().process_result(request, result)

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Any = UNSET,
        root_value: Any = UNSET,
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):
            return await super().run(request, context, root_value)
        hub: Runtime = request.app.state.hub
        limit = hub.settings.max_request_body_bytes
        body = await _body(request, limit)
        if body is None:
            return refusal(413, f"the request body exceeds {limit} bytes", "PAYLOAD_TOO_LARGE")
        raw = body + request.scope.get("query_string", b"")
        if any(form in raw for form in _NUL_FORMS):
            return refusal(
                400, "text may not contain NUL characters (\\u0000 or %00)", "BAD_USER_INPUT"
            )
        try:
            return await super().run(_replaying(request, body), context, root_value)
        except HTTPException as exc:
            return refusal(exc.status_code, exc.reason, "BAD_REQUEST")


def router() -> Router:
    """The ``/graphql`` route; the app's ``state.hub`` provides the database and settings."""
    return Router(
        schema,
        path=PATH,
        context_getter=context_for,
        subscription_protocols=(),
        # The GraphQL contract is its SDL (schema.graphql), not the REST OpenAPI document.
        include_in_schema=False,
    )
