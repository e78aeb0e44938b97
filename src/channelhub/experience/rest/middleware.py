"""Pure ASGI middleware: request context, and the request as the unit of work."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channelhub.experience.rest.problems import problem_response
from channelhub.platform import idempotency
from channelhub.platform.db.database import Database, is_connection_error
from channelhub.platform.ids import new_id
from channelhub.platform.observability import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENCY_RECORD = "idempotency_record"


class RequestContextMiddleware:
    """Gives each request an id (the caller's ``X-Request-ID`` if sane), binds it to every
    log line, returns it as a header, and records the access log line and metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = Request(scope).headers.get("x-request-id", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else new_id("req")
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], template).observe(elapsed)
            log.info(
                "http.request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


class UnitOfWorkMiddleware:
    """One database session per request, at ``request.state.session``.

    Safe methods get a read session. Other methods get a write transaction: the response
    is held back until the transaction has committed, so a client is never told "created"
    about something that was then lost; an error response (>= 400) rolls everything back.
    """

    def __init__(self, app: ASGIApp, db: Database, *, max_body_bytes: int) -> None:
        self.app = app
        self.db = db
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if _has_nul(scope.get("raw_path", b"")) or _has_nul(scope.get("query_string", b"")):
            await _refuse_nul(scope, receive, send)
            return
        if scope["method"] in _SAFE_METHODS:
            async with self.db.reader() as session:
                state["session"] = session
                await self.app(scope, receive, send)
            return
        # The whole body is read before the write slot is taken, so a slow client never
        # holds SQLite's single writer while it trickles bytes in.
        body = await _read_body(receive, self.max_body_bytes)
        if body is None:
            too_large = problem_response(
                Request(scope),
                413,
                f"the request body exceeds {self.max_body_bytes} bytes",
            )
            await too_large(scope, receive, send)
            return
        if _has_nul(body):
            await _refuse_nul(scope, receive, send)
            return
        replay = _replaying(body, receive)
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            async with self.db.transaction() as session:
                state["session"] = session
                await self.app(scope, replay, hold)
                status = held[0]["status"] if held else 500
                if status >= 400:
                    await session.rollback()
                elif (record := state.get(IDEMPOTENCY_RECORD)) is not None:
                    await idempotency.complete(session, record, _stored(held))
        except Exception as exc:
            # Either the handler failed in a way no exception handler maps, or the commit
            # itself failed: in both cases nothing was committed, and the held answer
            # (if any) must not reach the client.
            log.error("http.transaction_failed", exc_info=exc, answered=bool(held))
            await _send_problem(scope, receive, send, exc)
            return
        for message in held:
            await send(message)


_NUL_FORMS = (b"%00", b"\\u0000", b"\x00")


def _has_nul(raw: bytes) -> bool:
    """NUL in a URL (%00) or a JSON string (\\u0000): no database stores it the same way."""
    return any(form in raw for form in _NUL_FORMS)


async def _refuse_nul(scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(
        Request(scope), 422, "text may not contain NUL characters (\\u0000 or %00)"
    )
    await response(scope, receive, send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The complete request body, or None when it is larger than ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the real channel."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _stored(messages: list[Message]) -> idempotency.StoredResponse:
    start = messages[0]
    headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return idempotency.StoredResponse(
        status_code=start["status"],
        content_type=headers.get("content-type"),
        location=headers.get("location"),
        etag=headers.get("etag"),
        body=body,
    )


async def _send_problem(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    request = Request(scope)
    response: Any
    if is_connection_error(exc):
        response = problem_response(
            request, 503, "the database is unavailable; retry shortly", headers={"Retry-After": "5"}
        )
    else:
        response = problem_response(
            request, 500, "an unexpected error occurred; nothing was changed"
        )
    await response(scope, receive, send)


Rewrite = Callable[[Message, bytes], Awaitable[tuple[list[tuple[bytes, bytes]], bytes] | None]]
"""Given an answer's start message and whole body: its new headers and body, or None when
the rewrite has sent an answer of its own."""


class HeldAnswer:
    """An ASGI ``send`` that holds back an answer ``holds`` picks by its start message
    until its body is complete, then sends what ``rewrite`` makes of it (with a matching
    content-length); other answers pass straight through."""

    def __init__(self, send: Send, holds: Callable[[Message], bool], rewrite: Rewrite) -> None:
        self.downstream, self.holds, self.rewrite = send, holds, rewrite
        self.start: Message | None = None
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and self.holds(message):
            self.start = message
            return
        if self.start is None or message["type"] != "http.response.body":
            await self.downstream(message)
            return
        self.body.extend(message.get("body", b""))
        if message.get("more_body", False):
            return
        rewritten = await self.rewrite(self.start, bytes(self.body))
        if rewritten is None:
            return
        headers, body = rewritten
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.downstream({**self.start, "headers": headers})
        await self.downstream({"type": "http.response.body", "body": body})
