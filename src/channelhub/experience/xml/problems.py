"""Errors of the XML API as RFC 9457 ``application/problem+xml``.

The XML app installs the REST problem handlers unchanged, so an error gets the same
status, ``code``, ``detail`` and field list in both channels; this middleware, the outermost
layer of the XML app, rewrites each ``application/problem+json`` answer into the XML shape
of RFC 9457 Appendix B: a ``problem`` element in the ``urn:ietf:rfc:7807`` namespace whose
members are child elements, with each item of an array (``errors``) in an ``i`` element.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channelhub.experience.rest.middleware import HeldAnswer
from channelhub.experience.rest.problems import PROBLEM_JSON
from channelhub.experience.xml.render import json_text, serialise

PROBLEM_XML = "application/problem+xml"
PROBLEM_NAMESPACE = "urn:ietf:rfc:7807"


def problem_xml(problem: dict[str, Any]) -> bytes:
    """A problem+json object as a problem+xml document."""
    root = ET.Element("problem")
    for member, value in problem.items():
        _member(ET.SubElement(root, member), value)
    return serialise(root, PROBLEM_NAMESPACE)


def _member(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, entry in value.items():
            if entry is not None:
                _member(ET.SubElement(element, key), entry)
    elif isinstance(value, list):
        for entry in value:
            _member(ET.SubElement(element, "i"), entry)
    elif value is not None:
        element.text = json_text(value)


class ProblemXmlMiddleware:
    """Answers problems as problem+xml; every other answer passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, HeldAnswer(send, _is_problem, _as_xml).send)


def _is_problem(start: Message) -> bool:
    return (
        MutableHeaders(raw=list(start.get("headers", [])))
        .get("content-type", "")
        .startswith(PROBLEM_JSON)
    )


async def _as_xml(start: Message, body: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    headers["content-type"] = PROBLEM_XML
    return headers.raw, problem_xml(orjson.loads(body))
