"""Sparse fieldsets: ``GET ...?fields=code,headline,shipments.tracking_number``.

Mobile clients ask for the fields they show and get a compact answer; the answer is the
full representation with the other fields left out, so it can never say anything the full
one does not. Dotted names reach into nested objects and into each element of a list of
objects; on a list page (``{"data": [...], "next_cursor": ...}``) the names apply to each
item and the cursor is kept. A name the resource does not have is a 422 problem naming
the ``fields`` parameter, listing the names it does have.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channelhub.experience.rest.middleware import HeldAnswer
from channelhub.experience.rest.problems import problem_response
from channelhub.platform.errors import InvalidError

FieldTree = dict[str, "FieldTree"]
"""Requested names; an empty subtree takes the whole value."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_MAX_NAMES = 100
_PAGE_KEYS = frozenset({"data", "next_cursor"})


def parse(raw: str) -> FieldTree:
    """``a,b.c,b.d`` -> ``{"a": {}, "b": {"c": {}, "d": {}}}``."""
    names = [name.strip() for name in raw.split(",") if name.strip()]
    if not names:
        raise InvalidError("fields names no field; e.g. fields=id,status", field="fields")
    if len(names) > _MAX_NAMES:
        raise InvalidError(f"fields names more than {_MAX_NAMES} fields", field="fields")
    tree: FieldTree = {}
    for name in names:
        if not _NAME.match(name):
            raise InvalidError(
                f"{name!r} is not a field name (lower-case names joined by dots)", field="fields"
            )
        node = tree
        parts = name.split(".")
        for depth, part in enumerate(parts):
            if depth == len(parts) - 1:
                node[part] = {}
            elif part in node and not node[part]:
                break  # the whole value was asked for already
            else:
                node = node.setdefault(part, {})
    return tree


def select(document: Any, tree: FieldTree, *, path: str = "") -> Any:
    """The parts of ``document`` that ``tree`` names (InvalidError on an unknown name)."""
    if not tree:
        return document
    if isinstance(document, list):
        return [select(item, tree, path=path) for item in document]
    if not isinstance(document, dict):
        # A null where an object may stand (no pickup store yet): nothing more to pick.
        if document is None:
            return None
        raise InvalidError(f"{path} has no fields to choose from", field="fields")
    chosen = {}
    for name, subtree in tree.items():
        if name not in document:
            where = f" of {path}" if path else ""
            raise InvalidError(
                f"unknown field {(path + '.' if path else '') + name!r}; the fields{where} "
                f"are {', '.join(sorted(document))}",
                field="fields",
            )
        chosen[name] = select(document[name], subtree, path=f"{path}.{name}" if path else name)
    return chosen


def compact(document: Any, tree: FieldTree) -> Any:
    """Apply ``tree`` to a resource, or to each item of a list page."""
    if isinstance(document, dict) and set(document) == _PAGE_KEYS:
        return {"data": select(document["data"], tree), "next_cursor": document["next_cursor"]}
    return select(document, tree)


class SparseFieldsMiddleware:
    """Applies ``?fields=`` to successful JSON answers of GET requests under ``/v1/``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith("/v1/")
            or b"fields=" not in scope.get("query_string", b"")
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        raw = request.query_params.get("fields")
        if raw is None:
            await self.app(scope, receive, send)
            return
        try:
            tree = parse(raw)
        except InvalidError as exc:
            await _problem(request, exc)(scope, receive, send)
            return

        async def compacted(
            start: Message, body: bytes
        ) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
            try:
                answer = compact(orjson.loads(body), tree)
            except InvalidError as exc:
                await _problem(request, exc)(scope, receive, send)
                return None
            return list(start.get("headers", [])), orjson.dumps(answer)

        await self.app(scope, receive, HeldAnswer(send, _json_ok, compacted).send)


def _json_ok(start: Message) -> bool:
    """A successful JSON answer (errors and 304s are never cut down)."""
    content_type = dict(start.get("headers", [])).get(b"content-type", b"")
    return bool(start["status"] == 200 and content_type.startswith(b"application/json"))


def _problem(request: Request, exc: InvalidError) -> Any:
    return problem_response(
        request, 422, exc.detail, errors=[{"detail": exc.detail, "parameter": "fields"}]
    )
