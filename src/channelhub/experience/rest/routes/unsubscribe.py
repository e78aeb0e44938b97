"""One-click unsubscribe from the link in every customer e-mail (RFC 8058), without an API
key: the signed link is the proof."""

from __future__ import annotations

from html import escape
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from channelhub.experience.rest.deps import SessionDep, get_hub
from channelhub.experience.rest.schemas import problem_responses
from channelhub.platform.auth.models import Tenant
from channelhub.process.notifications import consent, templates
from channelhub.process.notifications import service as notifications

router = APIRouter(prefix="/v1/self-service", tags=["self-service"])

Token = Annotated[str, Query(max_length=2000, description="The token of the link in the e-mail.")]
ERRORS = problem_responses(401, 422, 503)


def _secret_key(request: Request) -> str | None:
    key = get_hub(request).settings.secret_key
    return key.get_secret_value() if key else None


def _page(language: str, title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{escape(title)}</title>'
        f'</head><body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">'
        f"{body}</body></html>"
    )


async def _shop(session: SessionDep, tenant_id: str) -> str:
    tenant = await session.get(Tenant, tenant_id)
    return tenant.name if tenant is not None else ""


@router.get(
    "/unsubscribe",
    response_class=HTMLResponse,
    responses=ERRORS,
    summary="Confirm unsubscribing",
)
async def confirm_page(token: Token, request: Request, session: SessionDep) -> HTMLResponse:
    """The page a customer reaches by clicking the e-mail's unsubscribe link: one button
    that confirms. Opening the link changes nothing (mail scanners follow links)."""
    target = await consent.read_token(session, _secret_key(request), token)
    words = templates.unsubscribe_words(
        target.language, shop=await _shop(session, target.tenant_id)
    )
    body = (
        f"<h1>{escape(words['question'])}</h1>"
        f'<form method="post" action="?token={escape(quote(token), quote=True)}">'
        f'<button type="submit">{escape(words["button"])}</button></form>'
    )
    return _page(target.language, words["question"], body)


@router.post(
    "/unsubscribe",
    response_class=HTMLResponse,
    responses=ERRORS,
    summary="Unsubscribe (one click)",
)
async def unsubscribe(token: Token, request: Request, session: SessionDep) -> HTMLResponse:
    """Unsubscribe the e-mail address of the link from the shop's order e-mails: what mail
    clients call for `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), and
    the confirmation page's button. Idempotent; the consent's source is
    `unsubscribe_link`."""
    target = await notifications.unsubscribe(session, token, _secret_key(request))
    words = templates.unsubscribe_words(
        target.language, shop=await _shop(session, target.tenant_id)
    )
    return _page(target.language, words["done"], f"<h1>{escape(words['done'])}</h1>")
