"""FastAPI dependencies shared by every REST router."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.experience.rest.middleware import IDEMPOTENCY_RECORD
from channelhub.platform import idempotency
from channelhub.platform.auth.principal import Principal
from channelhub.platform.auth.service import authenticate
from channelhub.platform.db.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest
from channelhub.platform.errors import InvalidError, UnauthenticatedError
from channelhub.platform.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer chk_...`")


class ReplayedResponse(Exception):
    """Raised to answer with the response stored for an Idempotency-Key."""

    def __init__(self, stored: idempotency.StoredResponse) -> None:
        self.stored = stored


def get_hub(request: Request) -> Runtime:
    hub: Runtime = request.app.state.hub
    return hub


async def get_session(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.session
    return session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise UnauthenticatedError("send an API key as Authorization: Bearer <key>")
    return await authenticate(session, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def idempotent(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Makes the POST safe to retry: the same key and body replay the first "
            "successful response (with Idempotent-Replayed: true) for 24 hours; the same key "
            "with a different body is refused with 422."
        ),
    ] = None,
) -> None:
    if idempotency_key is None:
        return
    hub = get_hub(request)
    result = await idempotency.begin(
        session,
        principal.tenant_id,
        idempotency_key,
        idempotency.fingerprint(
            principal.actor, request.method, request.url.path, await request.body()
        ),
        ttl=hub.settings.idempotency_ttl,
    )
    if isinstance(result, idempotency.StoredResponse):
        raise ReplayedResponse(result)
    request.state.__setattr__(IDEMPOTENCY_RECORD, result)


def replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReplayedResponse)
    stored = exc.stored
    headers = {"Idempotent-Replayed": "true"}
    if stored.location:
        headers["Location"] = stored.location
    if stored.etag:
        headers["ETag"] = stored.etag
    return Response(
        stored.body, status_code=stored.status_code, media_type=stored.content_type, headers=headers
    )


async def page_request(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (1-200).")
    ] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(description="next_cursor from the previous page; omit for the first.")
    ] = None,
) -> PageRequest:
    return PageRequest.from_cursor(cursor, limit)


PageDep = Annotated[PageRequest, Depends(page_request)]


async def if_match_version(
    if_match: Annotated[
        str | None,
        Header(
            description='Optimistic concurrency: the ETag you read (e.g. "3"); a change '
            "made since then is refused with 412."
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidError('If-Match must be an ETag this API issued, e.g. "3"', field="If-Match")
    return int(value)


IfMatchDep = Annotated[int | None, Depends(if_match_version)]


def version_etag(version: int) -> str:
    return f'"{version}"'


def body_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def not_modified(request: Request, etag: str) -> bool:
    """True when the client's If-None-Match already names ``etag``."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates
