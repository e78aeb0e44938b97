"""The one error hierarchy, mapped to GraphQL.

Two shapes, as GraphQL clients expect them:

- **Top-level errors** (``errors`` of the response) for what stops a field: no or bad
  credentials, a missing scope, an unknown id, bad arguments, an invalid document, a limit.
  Each carries ``extensions.code`` (and ``extensions.field`` naming the argument at fault).
- **Typed errors** in a mutation's payload (``errors: [MutationError!]!``) for what the
  shopper or agent asked that cannot be done: a choice not offered, a line not returnable.
"""

from __future__ import annotations

import re

import strawberry
import structlog
from graphql import GraphQLError
from pydantic import ValidationError

from channelhub.platform.errors import ChannelhubError, ErrorKind

log = structlog.get_logger(__name__)

CODES = {
    ErrorKind.invalid: "BAD_USER_INPUT",
    ErrorKind.not_found: "NOT_FOUND",
    ErrorKind.conflict: "CONFLICT",
    ErrorKind.forbidden: "FORBIDDEN",
    ErrorKind.unauthenticated: "UNAUTHENTICATED",
    ErrorKind.precondition_failed: "PRECONDITION_FAILED",
    ErrorKind.unavailable: "UNAVAILABLE",
    ErrorKind.rate_limited: "RATE_LIMITED",
}
TYPED_KINDS = frozenset(
    {ErrorKind.invalid, ErrorKind.not_found, ErrorKind.conflict, ErrorKind.precondition_failed}
)
"""Kinds a mutation answers in its payload; the others (who is calling, may they, is the
hub up) are top-level errors."""
INTERNAL = "INTERNAL_SERVER_ERROR"
UNEXPECTED = "an unexpected error occurred; nothing was changed"
_LIMITS = (
    (re.compile(r"aliases found\. Allowed"), "TOO_MANY_ALIASES"),
    (re.compile(r"^Syntax Error: Document contains more than"), "QUERY_TOO_LARGE"),
)
"""Strawberry's alias and token limiters report plain errors; their wording says which
limit it was (a test pins each)."""
_SNAKE = re.compile(r"_([a-z0-9])")


def graphql_field(path: str) -> str:
    """A dotted Python field path as the GraphQL client named it: ``items.0.line_id`` ->
    ``items.0.lineId``."""
    return ".".join(_SNAKE.sub(lambda m: m.group(1).upper(), part) for part in path.split("."))


@strawberry.type(description="Why a mutation did not do what was asked.")
class MutationError:
    code: str = strawberry.field(
        description="Stable machine-readable reason, e.g. option_unavailable, "
        "no_choice_pending, invalid, order_not_found."
    )
    field: str | None = strawberry.field(
        description="The input field at fault (dotted path, e.g. items.0.quantity), if one is."
    )
    message: str = strawberry.field(description="What went wrong, for a person.")

    @classmethod
    def of(cls, exc: ChannelhubError) -> MutationError:
        return cls(
            code=exc.code,
            field=graphql_field(exc.field) if exc.field else None,
            message=exc.detail,
        )

    @classmethod
    def of_validation(cls, exc: ValidationError) -> list[MutationError]:
        """One error per problem pydantic found in the input."""
        found = []
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem["loc"])
            found.append(
                cls(
                    code="invalid",
                    field=graphql_field(where) if where else None,
                    message=str(problem["msg"]).removeprefix("Value error, "),
                )
            )
        return found


def _coded(
    error: GraphQLError, code: str, message: str | None = None, **extra: object
) -> GraphQLError:
    return GraphQLError(
        message if message is not None else error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), **extra, "code": code},
    )


def with_code(error: GraphQLError) -> GraphQLError:
    """``error`` with ``extensions.code`` set; an unexpected failure's message is replaced,
    so no internals reach the client (they are logged)."""
    if (error.extensions or {}).get("code"):
        return error
    cause = error.original_error
    if isinstance(cause, ChannelhubError):
        extra = {"reason": cause.code}
        if cause.field:
            extra["field"] = graphql_field(cause.field)
        return _coded(error, CODES[cause.kind], cause.detail, **extra)
    if isinstance(cause, ValidationError):
        problem = cause.errors()[0]
        where = graphql_field(".".join(str(part) for part in problem["loc"]))
        message = str(problem["msg"]).removeprefix("Value error, ")
        return _coded(error, "BAD_USER_INPUT", f"{where}: {message}", field=where)
    if cause is not None and not isinstance(cause, GraphQLError):
        return _coded(error, INTERNAL, UNEXPECTED)
    for pattern, code in _LIMITS:
        if pattern.search(error.message):
            return _coded(error, code)
    if error.message.startswith("Syntax Error"):
        return _coded(error, "GRAPHQL_PARSE_FAILED")
    if error.message.startswith("Variable '$"):
        return _coded(error, "BAD_USER_INPUT")
    return _coded(error, "GRAPHQL_VALIDATION_FAILED")


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log the failures a client cannot be blamed for; expected errors are answers, not
    incidents."""
    for error in errors:
        cause = error.original_error
        if cause is not None and not isinstance(cause, ChannelhubError | ValidationError):
            log.error("graphql.unexpected_error", path=error.path, exc_info=cause)
