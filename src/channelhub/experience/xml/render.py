"""Answers as XML documents in the ``https://channelhub.dev/xml/v1`` namespace.

The renderer walks the JSON form of a process-layer result (``model_dump(mode="json")``,
exactly what the REST API sends), so both channels show the same values written the same
way (times as UTC ISO 8601, dates as YYYY-MM-DD):

- an object's fields become child elements named like the JSON fields, in the same order;
- a field that is null in JSON is left out;
- a list field becomes an element holding one element per item, named after the list
  (``shipments`` holds ``shipment`` elements: see ``ITEM_NAMES``);
- free-form JSON (a timeline entry's ``data``) becomes ``value`` elements carrying the
  JSON ``type`` and, inside an object, the ``key``, so keys never have to be XML names.

Text the XML 1.0 character set cannot carry (control characters a carrier may send) is
replaced with U+FFFD, so an answer is always well-formed.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

NAMESPACE = "https://channelhub.dev/xml/v1"
MEDIA_TYPE = "application/xml"

ITEM_NAMES: Mapping[str, str] = {
    "shipments": "shipment",
    "events": "event",
    "actions": "action",
    "stores": "store",
    "today": "range",
    "monday": "range",
    "tuesday": "range",
    "wednesday": "range",
    "thursday": "range",
    "friday": "range",
    "saturday": "range",
    "sunday": "range",
    "hours": "range",
    "exceptions": "exception",
    "channels": "channel",
    "locations": "location",
    "pickup": "location",
}
"""The element of each item of a list field, by the field's name."""

FREE_FORM = frozenset({"data"})
"""Fields whose JSON has no fixed shape."""

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def legal_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def document(root: str, fields: Mapping[str, Any]) -> bytes:
    """One object (the JSON form of a result) as a document whose root is ``root``."""
    element = ET.Element(root)
    _fill(element, root, fields)
    return serialise(element)


def collection(
    root: str, item: str, items: Iterable[Mapping[str, Any]], next_cursor: str | None = None
) -> bytes:
    """A list as ``root`` holding one ``item`` element each, then ``next_cursor`` when
    there is a next page."""
    element = ET.Element(root)
    for fields in items:
        _fill(ET.SubElement(element, item), item, fields)
    if next_cursor is not None:
        ET.SubElement(element, "next_cursor").text = legal_text(next_cursor)
    return serialise(element)


def json_text(value: str | bool | float) -> str:
    """A JSON scalar as element text (booleans as XML Schema writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return legal_text(value)
    return str(value)


def serialise(root: ET.Element, namespace: str = NAMESPACE) -> bytes:
    """``root`` as a UTF-8 document in ``namespace``.

    Elements are built with plain names and the namespace is declared once, as the
    default, on the root: every element of the document is then in it (attributes stay
    in none)."""
    root.set("xmlns", namespace)
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="utf-8", xml_declaration=True)
    return buffer.getvalue()


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if name in FREE_FORM:
        _fill_free_form(element, value)
    elif isinstance(value, Mapping):
        for field, field_value in value.items():
            if field_value is not None:
                _fill(ET.SubElement(element, field), field, field_value)
    elif isinstance(value, list):
        item = ITEM_NAMES.get(name, "item")
        for entry in value:
            _fill(ET.SubElement(element, item), item, entry)
    else:
        element.text = json_text(value)


def _fill_free_form(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        element.set("type", "object")
        for key, entry in value.items():
            child = ET.SubElement(element, "value", key=legal_text(str(key)))
            _fill_free_form(child, entry)
    elif isinstance(value, list):
        element.set("type", "array")
        for entry in value:
            _fill_free_form(ET.SubElement(element, "value"), entry)
    elif value is None:
        element.set("type", "null")
    else:
        kind = {bool: "boolean", str: "string"}.get(type(value), "number")
        element.set("type", kind)
        element.text = json_text(value)
