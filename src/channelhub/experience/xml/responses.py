"""XML answers to reads, with an ETag so a client can ask "changed since?"."""

from __future__ import annotations

from fastapi import Request, Response

from channelhub.experience.rest.deps import body_etag, not_modified
from channelhub.experience.xml.render import MEDIA_TYPE


def xml_read(request: Request, body: bytes, *, vary: str | None = None) -> Response:
    """``body`` with its ETag, or 304 when the client's If-None-Match names it already."""
    headers = {"ETag": body_etag(body)}
    if vary is not None:
        headers["Vary"] = vary
    if not_modified(request, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
