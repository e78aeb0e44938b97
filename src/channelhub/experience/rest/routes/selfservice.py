"""The self-service API: shoppers, without an API key, find their order with its number and
e-mail (or the link in a message), read its status and act on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, Field

from channelhub.experience.rest.deps import SessionDep, get_hub
from channelhub.experience.rest.ratelimit import LOOKUP_PER_CLIENT, LOOKUP_PER_ORDER, RateLimits
from channelhub.experience.rest.schemas import problem_responses
from channelhub.experience.rest.tokens import ORDER_LINK_MAX_AGE, sign_order, verify_order
from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import utc_now
from channelhub.platform.i18n import negotiate
from channelhub.process.orders import closures, returns, schemas, selfservice, status
from channelhub.process.orders.schemas import Email, OrderNumber

router = APIRouter(prefix="/v1/self-service", tags=["self-service"])

ERRORS = problem_responses(400, 401, 404, 409, 422, 503)
LOOKUP_ERRORS = problem_responses(400, 404, 422, 429, 503)

OrderToken = Annotated[
    str,
    Header(
        alias="X-Order-Token",
        description="The token from a look-up, or from the link in a message about the order.",
    ),
]
AcceptLanguage = Annotated[
    str | None, Header(description="The browser's languages; used when lang is absent.")
]
Lang = Annotated[
    str | None,
    Query(description="en, pt, es, it or cs; default: Accept-Language, then the order's."),
]


class Lookup(BaseModel):
    number: OrderNumber
    email: Email


class LookupResult(BaseModel):
    token: str = Field(description="Send as X-Order-Token to the other self-service calls.")
    expires_at: datetime = Field(description="When the token stops working (UTC).")
    status: schemas.CustomerStatus = Field(description="The order's status now.")


def _language(lang: str | None, accept_language: str | None) -> str | None:
    if lang:
        return negotiate(lang)
    return negotiate(accept_language) if accept_language else None


@dataclass(frozen=True)
class CustomerOrder:
    """The shopper, the one order their token names, and the language to answer in."""

    principal: Principal
    order_id: str
    language: str | None


async def customer_order(
    token: OrderToken,
    request: Request,
    session: SessionDep,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> CustomerOrder:
    tenant_id, order_id = await verify_order(session, get_hub(request).settings, token)
    return CustomerOrder(
        selfservice.customer(tenant_id), order_id, _language(lang, accept_language)
    )


CustomerOrderDep = Annotated[CustomerOrder, Depends(customer_order)]


async def _status(session: SessionDep, shopper: CustomerOrder) -> schemas.CustomerStatus:
    return await status.customer_status(
        session, shopper.principal, shopper.order_id, language=shopper.language
    )


@router.post("/{tenant}/orders/lookup", responses=LOOKUP_ERRORS, summary="Find my order")
async def lookup(
    tenant: Annotated[str, Path(description="The shop (tenant slug).", max_length=63)],
    data: Lookup,
    request: Request,
    session: SessionDep,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> LookupResult:
    """The order with this number and e-mail address, and a token to act on it. A wrong
    e-mail and an unknown number get the same 404. Limited per client and per order number
    (429 with Retry-After)."""
    limits: RateLimits = request.app.state.rate_limits
    client = request.client.host if request.client else "unknown"
    await limits.hit(LOOKUP_PER_CLIENT, "lookup-client", client)
    await limits.hit(LOOKUP_PER_ORDER, "lookup-order", tenant, data.number.strip().lower())
    tenant_id, order_id = await selfservice.find(session, tenant, data.number, data.email)
    token = await sign_order(session, get_hub(request).settings, tenant_id, order_id)
    found = await status.customer_status(
        session,
        selfservice.customer(tenant_id),
        order_id,
        language=_language(lang, accept_language),
    )
    return LookupResult(
        token=token,
        expires_at=utc_now() + timedelta(seconds=ORDER_LINK_MAX_AGE),
        status=found,
    )


@router.get("/order", responses=ERRORS, summary="My order's status")
async def my_order(session: SessionDep, shopper: CustomerOrderDep) -> schemas.CustomerStatus:
    """The same status every channel shows: headline, next step, ETA, tracking, pickup
    store, and the actions available now."""
    return await _status(session, shopper)


@router.post("/order/closure-choice", responses=ERRORS, summary="Choose after my store closed")
async def choose(
    data: schemas.ClosureChoice, session: SessionDep, shopper: CustomerOrderDep
) -> schemas.CustomerStatus:
    """Ship home for free, pick up at one of the offered stores, or cancel with a full
    refund; answers with the order's new status."""
    await closures.choose(session, shopper.principal, shopper.order_id, data)
    return await _status(session, shopper)


@router.post("/order/returns", status_code=201, responses=ERRORS, summary="Return items")
async def start_return(
    data: schemas.ReturnCreate, session: SessionDep, shopper: CustomerOrderDep
) -> schemas.CustomerStatus:
    """Ask to return items that reached you, within the return window; answers with the
    order's new status."""
    await returns.request_return(session, shopper.principal, shopper.order_id, data)
    return await _status(session, shopper)
