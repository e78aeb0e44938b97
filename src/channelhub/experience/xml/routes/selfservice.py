"""The self-service API in XML, for call-center web widgets: a shopper finds their order
with its number and e-mail address (or uses the token from a message) without an API key.

The look-up is the REST look-up itself, handed the fields of the XML body: the same rate
limits (counted together with REST look-ups), the same 404 for a wrong e-mail address and
an unknown number, the same token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from channelhub.experience.rest.deps import SessionDep, get_hub
from channelhub.experience.rest.routes import selfservice as rest
from channelhub.experience.xml import render
from channelhub.experience.xml.reading import fields_of, parse, read_body
from channelhub.experience.xml.render import MEDIA_TYPE
from channelhub.experience.xml.responses import xml_read
from channelhub.process.orders import status

router = APIRouter(prefix="/v1/self-service", tags=["self-service"])


@router.post("/{tenant}/orders/lookup")
async def lookup(
    tenant: Annotated[str, Path(description="The shop (tenant slug).", max_length=63)],
    request: Request,
    lang: rest.Lang = None,
    accept_language: rest.AcceptLanguage = None,
) -> Response:
    """Body ``<lookup><number>NW-1001</number><email>ana@example.com</email></lookup>``;
    answers ``<lookup_result>`` with the token (send it as X-Order-Token), when it
    expires, and the order's ``<status>``."""
    hub = get_hub(request)
    root = parse(await read_body(request, hub.settings.max_request_body_bytes))
    data = fields_of(root, rest.Lookup, "lookup")
    # The token may be signed with a key created on first use: it is committed before
    # the token is handed out.
    async with hub.db.transaction() as session:
        found = await rest.lookup(tenant, data, request, session, lang, accept_language)
    return Response(
        render.document("lookup_result", found.model_dump(mode="json")),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/order")
async def my_order(
    request: Request, session: SessionDep, shopper: rest.CustomerOrderDep
) -> Response:
    """``<customer_status>`` of the order the X-Order-Token names: headline, next step,
    ETA, tracking, pickup store and the actions available now."""
    found = await status.customer_status(
        session, shopper.principal, shopper.order_id, language=shopper.language
    )
    body = render.document("customer_status", found.model_dump(mode="json"))
    return xml_read(request, body, vary="Accept-Language, X-Order-Token")
