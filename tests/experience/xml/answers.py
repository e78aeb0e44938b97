"""Reading XML answers in tests: each one is validated against the published XSD, and
compared with the REST API's JSON for the same question."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib import resources
from typing import Any

import defusedxml.ElementTree as defused
import httpx
import xmlschema

NS = {"ch": "https://channelhub.dev/xml/v1"}
PROBLEM_NS = "urn:ietf:rfc:7807"

SCHEMA = xmlschema.XMLSchema(
    resources.files("channelhub.experience.xml").joinpath("channelhub.xsd").read_text()
)


def local(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def xml_answer(response: httpx.Response, root: str) -> ET.Element:
    """The root of a 200 XML answer, after checking it against the XSD."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml"
    SCHEMA.validate(response.content)
    element: ET.Element = defused.fromstring(response.content)
    assert element.tag == f"{{{NS['ch']}}}{root}"
    return element


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The members of an RFC 9457 problem+xml answer (``i`` items as lists)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+xml"
    root: ET.Element = defused.fromstring(response.content)
    assert root.tag == f"{{{PROBLEM_NS}}}problem"
    members: dict[str, Any] = _members(root)
    return members


def _members(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    if all(local(child) == "i" for child in children):
        return [_members(child) for child in children]
    return {local(child): _members(child) for child in children}


def assert_same_as_json(element: ET.Element, value: Any, path: str = "") -> None:
    """``element`` says exactly what the JSON ``value`` says: the same fields in the same
    order (nulls left out), the same items, the same texts."""
    if element.get("type") is not None:
        _assert_same_free_form(element, value, path)
    elif isinstance(value, dict):
        present = [(key, entry) for key, entry in value.items() if entry is not None]
        children = list(element)
        assert [local(child) for child in children] == [key for key, _ in present], path
        for child, (key, entry) in zip(children, present, strict=True):
            assert_same_as_json(child, entry, f"{path}/{key}")
    elif isinstance(value, list):
        children = list(element)
        assert len(children) == len(value), path
        for index, (child, entry) in enumerate(zip(children, value, strict=True)):
            assert_same_as_json(child, entry, f"{path}/{index}")
    else:
        _assert_same_scalar(element, value, path)


def _assert_same_scalar(element: ET.Element, value: Any, path: str) -> None:
    assert list(element) == [], path
    if isinstance(value, bool):
        assert element.text == ("true" if value else "false"), path
    elif isinstance(value, int | float):
        assert float(element.text or "nan") == value, path
    else:
        assert (element.text or "") == value, path


def _assert_same_free_form(element: ET.Element, value: Any, path: str) -> None:
    children = list(element)
    if isinstance(value, dict):
        assert element.get("type") == "object", path
        assert [child.get("key") for child in children] == list(value), path
        for child, (key, entry) in zip(children, value.items(), strict=True):
            _assert_same_free_form(child, entry, f"{path}/{key}")
    elif isinstance(value, list):
        assert element.get("type") == "array", path
        assert len(children) == len(value), path
        for index, (child, entry) in enumerate(zip(children, value, strict=True)):
            _assert_same_free_form(child, entry, f"{path}/{index}")
    elif value is None:
        assert (element.get("type"), children) == ("null", []), path
    else:
        kinds = {bool: "boolean", str: "string"}
        assert element.get("type") == kinds.get(type(value), "number"), path
        _assert_same_scalar(element, value, path)
