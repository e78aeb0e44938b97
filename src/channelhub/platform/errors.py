"""One error hierarchy. Each edge (REST, GraphQL, CLI) maps the ``kind`` to its own shape."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ValidationError


class ErrorKind(StrEnum):
    invalid = "invalid"
    not_found = "not_found"
    conflict = "conflict"
    forbidden = "forbidden"
    unauthenticated = "unauthenticated"
    precondition_failed = "precondition_failed"
    unavailable = "unavailable"
    rate_limited = "rate_limited"


class ChannelhubError(Exception):
    """An expected failure, with a stable machine-readable ``code`` and a human ``detail``.

    ``field`` names the input at fault when there is one (dotted path, e.g.
    ``variants.0.sku``, or a JSON pointer ``#/metadata/club.level`` when a key may hold
    dots); ``extra`` carries facts a client can act on (what is available,
    which id already exists).
    """

    kind: ErrorKind = ErrorKind.invalid
    code: str = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.field = field
        self.extra = extra


class InvalidError(ChannelhubError):
    kind = ErrorKind.invalid
    code = "invalid"


class NotFoundError(ChannelhubError):
    kind = ErrorKind.not_found
    code = "not_found"


class ConflictError(ChannelhubError):
    kind = ErrorKind.conflict
    code = "conflict"


class ForbiddenError(ChannelhubError):
    kind = ErrorKind.forbidden
    code = "forbidden"


class UnauthenticatedError(ChannelhubError):
    kind = ErrorKind.unauthenticated
    code = "unauthenticated"


class PreconditionFailedError(ChannelhubError):
    kind = ErrorKind.precondition_failed
    code = "precondition_failed"


class UnavailableError(ChannelhubError):
    """A dependency (database, bus) cannot be reached; the client should retry later."""

    kind = ErrorKind.unavailable
    code = "unavailable"


class RateLimitedError(ChannelhubError):
    """Too many attempts; ``retry_after_s`` says when the next one is allowed."""

    kind = ErrorKind.rate_limited
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


def first_validation_error(exc: ValidationError, whole: str = "") -> str:
    """``where: what`` for the first problem pydantic found; ``where`` is ``whole`` (or
    left out) when the problem is with the input as a whole rather than one field."""
    problem = exc.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or whole
    message = str(problem["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
