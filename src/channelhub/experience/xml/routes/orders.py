"""An order's customer-facing status and its timeline, as XML."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep
from channelhub.experience.xml import render
from channelhub.experience.xml.responses import xml_read
from channelhub.platform.i18n import negotiate
from channelhub.process.orders import service, status

router = APIRouter(prefix="/v1/orders", tags=["orders"])

OrderId = Annotated[str, Path(description="Order id (ord_...).")]
Lang = Annotated[
    str | None,
    Query(description="Language of the texts (en, pt, es, it, cs); default: the order's."),
]
AcceptLanguage = Annotated[str | None, Header(description="Used when lang is absent.")]


def language(lang: str | None, accept_language: str | None) -> str | None:
    """The language asked for, as the REST API reads it: ``lang``, then Accept-Language,
    else None (the order's own language)."""
    if lang:
        return negotiate(lang)
    return negotiate(accept_language) if accept_language else None


@router.get("/{order_id}/status")
async def order_status(
    order_id: OrderId,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """``<customer_status>``: what to tell the customer now, the one answer every channel
    renders. Needs `orders:read`."""
    found = await status.customer_status(
        session, principal, order_id, language=language(lang, accept_language)
    )
    body = render.document("customer_status", found.model_dump(mode="json"))
    return xml_read(request, body, vary="Accept-Language")


@router.get("/{order_id}/timeline")
async def order_timeline(
    order_id: OrderId, request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    """``<timeline>``: one ``<entry>`` per thing that happened, oldest first, then
    ``<next_cursor>`` when there is more. Needs `orders:read`."""
    found = await service.order_timeline(session, principal, order_id, page)
    items = [item.model_dump(mode="json") for item in found.items]
    return xml_read(request, render.collection("timeline", "entry", items, found.next_cursor))
