"""XML request bodies, read safely.

Bodies are parsed by defusedxml with document type declarations forbidden outright: no
DTD means no entity declarations (billion laughs, quadratic blow-up) and no external
entities or references (file or network reads). Such a body, a body that is not
well-formed XML, and one larger than ``CHANNELHUB_MAX_REQUEST_BODY_BYTES`` are refused
(400, 400, 413) before anything else happens.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, TypeVar, cast

import defusedxml.ElementTree as defused  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from channelhub.experience.xml.render import NAMESPACE

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it grows past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse(body: bytes) -> ET.Element:
    """The root element of ``body``; 400 when it is empty, not well-formed, or uses a DTD."""
    if not body.strip():
        raise HTTPException(400, "the request body is empty; send an XML document")
    try:
        return cast(ET.Element, defused.fromstring(body, forbid_dtd=True))
    except DefusedXmlException as exc:
        raise HTTPException(
            400,
            "document type declarations (DTDs) are not accepted, nor the entity "
            "declarations and external references they carry",
        ) from exc
    except ET.ParseError as exc:
        raise HTTPException(400, f"the request body is not well-formed XML: {exc}") from exc
    except (ValueError, LookupError) as exc:
        # The XML declaration names an encoding the parser does not know or cannot use.
        raise HTTPException(400, f"the request body's encoding cannot be read: {exc}") from exc


def _local_name(element: ET.Element) -> str | None:
    """The element's name when it is in no namespace or in ours, else None."""
    namespace, _, local = element.tag.rpartition("}")
    return local if namespace in ("", "{" + NAMESPACE) else None


def _invalid(location: tuple[str, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", *location), "msg": message, "type": "xml"}])


def fields_of(root: ET.Element, model: type[M], root_name: str) -> M:
    """The ``model`` that ``root`` describes: ``<root_name>`` holding one text element per
    field (in our namespace or in none; white space around a value is ignored). A wrong
    root, an unknown, repeated or non-text element, or an invalid value is a 422 naming
    the element as ``#/<root>/<field>``."""
    if _local_name(root) != root_name:
        raise _invalid((root_name,), f"the root element must be <{root_name}>")
    values: dict[str, Any] = {}
    for child in root:
        name = _local_name(child)
        if name is None or name not in model.model_fields:
            expected = " and ".join(model.model_fields)
            unknown = child.tag.rpartition("}")[2]
            raise _invalid((root_name, unknown), f"unknown element; <{root_name}> takes {expected}")
        if name in values:
            raise _invalid((root_name, name), "given more than once")
        if len(child):
            raise _invalid((root_name, name), "must hold text only")
        values[name] = (child.text or "").strip()
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", root_name, *error["loc"])} for error in exc.errors()]
        ) from exc
