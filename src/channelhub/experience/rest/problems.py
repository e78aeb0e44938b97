"""RFC 9457 problem+json for every error the REST API returns.

``type`` is a relative URI (``/problems/<slug>``) that this server also serves as a short
explanation, so a client developer can follow it from any error they meet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from channelhub.platform.db.database import is_connection_error, is_transient_conflict
from channelhub.platform.errors import ChannelhubError, ErrorKind, RateLimitedError

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

STATUS_OF_KIND = {
    ErrorKind.invalid: 422,
    ErrorKind.not_found: 404,
    ErrorKind.conflict: 409,
    ErrorKind.forbidden: 403,
    ErrorKind.unauthenticated: 401,
    ErrorKind.precondition_failed: 412,
    ErrorKind.unavailable: 503,
    ErrorKind.rate_limited: 429,
}

PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "malformed-request": (
        "Malformed request",
        "The body is not valid JSON (or not the content type the operation takes). "
        "Nothing was changed.",
    ),
    "validation": (
        "Invalid input",
        "One or more fields are missing, unknown or invalid; `errors` names each one with a "
        "JSON pointer into the body (or the query/header parameter). Nothing was changed.",
    ),
    "unauthenticated": (
        "Authentication required",
        "Send a valid, unrevoked API key as `Authorization: Bearer <key>`.",
    ),
    "forbidden": (
        "Not allowed",
        "The API key is valid but lacks the scope the operation needs (`required_scope`).",
    ),
    "not-found": (
        "Not found",
        "Nothing with that id exists in your tenant (another tenant's ids look the same).",
    ),
    "conflict": (
        "Conflict",
        "The request contradicts current state (a taken SKU or slug, an Idempotency-Key "
        "in use). `code` says which; nothing was changed.",
    ),
    "precondition-failed": (
        "Precondition failed",
        "The resource changed since the version named in If-Match; read it again and retry.",
    ),
    "method-not-allowed": ("Method not allowed", "The path exists but not with this method."),
    "payload-too-large": (
        "Payload too large",
        "The request body is larger than the server accepts (CHANNELHUB_MAX_REQUEST_BODY_BYTES).",
    ),
    "too-many-requests": (
        "Too many requests",
        "Too many attempts from this client or for this order in a short time (a guard "
        "against guessing order numbers). Retry after `Retry-After` seconds.",
    ),
    "unavailable": (
        "Service unavailable",
        "A dependency (database or event bus) is unreachable. Retry after `Retry-After` seconds.",
    ),
    "internal": (
        "Internal error",
        "Something unexpected failed. Nothing was committed. Quote `request_id` when reporting.",
    ),
}

_SLUG_OF_STATUS = {
    400: "malformed-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    422: "validation",
    429: "too-many-requests",
    503: "unavailable",
}


class FieldError(BaseModel):
    detail: str = Field(description="What is wrong with this field.")
    pointer: str | None = Field(
        None, description="JSON pointer into the request body, e.g. #/variants/0/sku."
    )
    parameter: str | None = Field(
        None, description="Name of the query, path or header parameter at fault."
    )


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = Field(description="URI of the problem type; GET it for an explanation.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="HTTP status code.")
    detail: str = Field(description="What went wrong in this request, for a human.")
    code: str = Field(description="Stable machine-readable reason, e.g. sku_taken.")
    instance: str | None = Field(None, description="The request path.")
    request_id: str | None = Field(None, description="Request id; also in X-Request-ID.")
    errors: list[FieldError] | None = Field(None, description="Each field at fault.")


def problem_response(
    request: Request | None,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A problem+json response. ``extra`` members (facts a client can act on) never
    replace the standard ones."""
    slug = _SLUG_OF_STATUS.get(status, "internal")
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": PROBLEM_TYPES[slug][0],
        "status": status,
        "detail": detail,
        "code": code or slug.replace("-", "_"),
    }
    if request is not None:
        body["instance"] = request.url.path
        body["request_id"] = request.scope.get("state", {}).get("request_id")
    if errors:
        body["errors"] = errors
    for key, value in (extra or {}).items():
        if value is not None and key not in body:
            body[key] = value
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _field_error(field: str | None) -> list[dict[str, Any]] | None:
    if field is None:
        return None
    if field[:1].isupper() or field in {"limit", "cursor"}:
        return [{"detail": "see detail", "parameter": field}]
    if field.startswith("#/"):
        # Already a JSON pointer: for keys that may hold dots (metadata keys).
        return [{"detail": "see detail", "pointer": field}]
    return [{"detail": "see detail", "pointer": "#/" + field.replace(".", "/")}]


def _channelhub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChannelhubError)
    status = STATUS_OF_KIND[exc.kind]
    errors = _field_error(exc.field)
    if errors is not None:
        errors[0]["detail"] = exc.detail
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "5"}
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return problem_response(
        request, status, exc.detail, code=exc.code, errors=errors, headers=headers, extra=exc.extra
    )


def _location_error(problem: Mapping[str, Any], body: Any) -> dict[str, Any]:
    where, *path = problem["loc"]
    message = problem["msg"]
    if where == "body":
        missing = problem.get("type") == "missing"
        return {"detail": message, "pointer": "#/" + "/".join(_in_body(body, path, missing))}
    return {"detail": message, "parameter": ".".join(str(p) for p in path) or str(where)}


def _in_body(body: Any, path: list[Any], missing: bool) -> list[str]:
    """The parts of pydantic's error location that name places in the body. The tags it
    adds for a member of a discriminated union (``effect/percentage/percent``) are left
    out, so that the pointer leads to the value at fault (``effect/percent``)."""
    parts: list[str] = []
    node = body
    for index, part in enumerate(path):
        last = index == len(path) - 1
        if _holds(node, part):
            node = node[part]
        elif isinstance(part, str) and isinstance(node, dict | list) and not (last and missing):
            continue
        else:
            node = None
        parts.append(str(part))
    return parts


def _holds(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        first = next(p for p in problems if p.get("type") == "json_invalid")
        reason = first.get("ctx", {}).get("error", "invalid JSON")
        return problem_response(request, 400, f"the request body is not valid JSON: {reason}")
    errors = [_location_error(p, exc.body) for p in problems]
    first = errors[0]
    named = first.get("pointer") or first.get("parameter")
    detail = f"{named}: {first['detail']}" + (
        f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    )
    return problem_response(request, 422, detail, errors=errors)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(
        request, exc.status_code, str(exc.detail), headers=dict(exc.headers or {}) or None
    )


def _database_error(request: Request, exc: Exception) -> Response:
    if is_transient_conflict(exc):
        log.info("http.transient_conflict", path=request.url.path)
        return problem_response(
            request,
            503,
            "a concurrent change got in the way; nothing was changed, retry the request",
            code="concurrent_update",
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, DataError):
        # The database refused a value (a NUL character, a number out of its range...):
        # bad input, not a server fault.
        return problem_response(
            request,
            422,
            "a value cannot be stored: it contains a NUL character or is out of range",
            code="unstorable_value",
        )
    if is_connection_error(exc):
        log.warning("http.database_unavailable", error=type(exc).__name__)
        return problem_response(
            request, 503, "the database is unavailable; retry shortly", headers={"Retry-After": "5"}
        )
    return _unexpected_error(request, exc)


def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("http.unhandled_error", exc_info=exc, path=request.url.path)
    return problem_response(request, 500, "an unexpected error occurred; nothing was changed")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ChannelhubError, _channelhub_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
