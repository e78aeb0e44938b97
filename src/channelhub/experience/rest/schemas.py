"""Shapes shared by REST responses."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from channelhub.experience.rest.problems import Problem
from channelhub.platform.db.pagination import Page

T = TypeVar("T")


class ListResponse(BaseModel, Generic[T]):
    """One page of a list, newest first."""

    data: list[T] = Field(description="The items of this page.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )

    @classmethod
    def of(cls, page: Page[Any]) -> ListResponse[T]:
        return cls(data=list(page.items), next_cursor=page.next_cursor)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries documenting that these statuses answer with problem+json."""
    descriptions = {
        400: "Malformed JSON body.",
        401: "Missing, unknown or revoked API key.",
        403: "The API key lacks the required scope.",
        404: "No such resource in your tenant.",
        409: "Conflicts with current state (see `code`).",
        412: "If-Match names an outdated version.",
        422: "Invalid input; `errors` names each field at fault.",
        429: "Too many attempts; retry after `Retry-After` seconds.",
        503: "Database or event bus unavailable; retry later.",
    }
    return {
        status: {
            "model": Problem,
            "description": descriptions[status],
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }


READ_ERRORS = problem_responses(401, 403, 404, 422, 503)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 412, 422, 503)
