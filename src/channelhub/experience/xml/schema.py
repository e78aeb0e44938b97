"""The published XML Schema of every answer and request body of the XML API."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request, Response

from channelhub.experience.xml.responses import xml_read

XSD = resources.files("channelhub.experience.xml").joinpath("channelhub.xsd").read_bytes()
"""channelhub.xsd, as committed next to this module."""

router = APIRouter(prefix="/v1", tags=["schema"])


@router.get("/schema.xsd")
async def schema(request: Request) -> Response:
    """The XSD (target namespace ``https://channelhub.dev/xml/v1``)."""
    return xml_read(request, XSD)
