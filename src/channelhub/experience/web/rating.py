"""The customer's one-click rating page, ``/helpdesk/rate/{token}``: the link a reply that
resolves a ticket carries (``Answering.rating_url``), with ``?score=1..5`` per choice.

Opening it with a score records the rating at once (a later click changes it) and thanks
the customer, offering a comment box; without a score it shows the five choices. The
token is signed (experience/rest/tokens.py) and names the tenant and the ticket; a
forged, altered or expired one gets a page saying so, never an error. The page speaks
the customer's language: ``?lang=``, else the ticket's, else the browser's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from channelhub.experience.rest.deps import get_hub
from channelhub.experience.rest.problems import STATUS_OF_KIND
from channelhub.experience.rest.tokens import verify_rating
from channelhub.experience.web import forms
from channelhub.experience.web.rendering import render, texts
from channelhub.experience.web.session import (
    CSRF_FIELD,
    RATING,
    RATING_CSRF,
    chosen_language,
    csrf,
    csrf_valid,
    preferred_language,
)
from channelhub.platform.errors import ChannelhubError, UnauthenticatedError
from channelhub.platform.i18n import DEFAULT, Texts
from channelhub.platform.runtime import Runtime
from channelhub.process.helpdesk import schemas
from channelhub.process.helpdesk import service as helpdesk
from channelhub.process.helpdesk.tickets import TicketNotFound, live

router = APIRouter(prefix=RATING, include_in_schema=False)

Token = Annotated[str, Path(description="The signed rating token.")]
SCORES = (1, 2, 3, 4, 5)
COMMENT_MAX = 2000


def _texts(request: Request, ticket_language: str) -> Texts:
    return texts(
        chosen_language(request) or ticket_language or preferred_language(request) or DEFAULT
    )


async def _rated_ticket(hub: Runtime, token: str) -> tuple[str, str, str] | None:
    """(tenant id, ticket id, the ticket's language) of a valid link, else None."""
    async with hub.db.reader() as session:
        try:
            tenant_id, ticket_id = await verify_rating(session, hub.settings, token)
            ticket = await live(session, tenant_id, ticket_id)
        except (UnauthenticatedError, TicketNotFound):
            return None
        return tenant_id, ticket_id, ticket.language


def _score(raw: str | None) -> int | None:
    if raw is None or not (raw.isascii() and raw.isdecimal()) or int(raw) not in SCORES:
        return None
    return int(raw)


async def _page(
    request: Request,
    t: Texts,
    *,
    status_code: int = 200,
    score: int | None = None,
    commented: bool = False,
    notice: str | None = None,
    comment: str = "",
    comment_error: str | None = None,
) -> Response:
    hub = get_hub(request)
    form = await csrf(hub, request, RATING_CSRF)
    here = request.url.path
    response = render(
        "rate.html",
        t,
        here=here,
        status_code=status_code,
        private=True,
        shop=None,
        csrf=form.token,
        score=score,
        scores=SCORES,
        commented=commented,
        notice=notice,
        errors={"comment": comment_error} if comment_error else {},
        comment=comment,
        comment_max=COMMENT_MAX,
    )
    form.keep(response, request)
    return response


def _invalid(request: Request) -> Response:
    t = texts(preferred_language(request) or DEFAULT)
    return render(
        "message.html",
        t,
        here=request.url.path,
        status_code=404,
        private=True,
        shop=None,
        title=t("This link is not valid"),
        message=t(
            "This rating link is not valid or has expired. If you copied it from an "
            "e-mail, please check that you copied all of it."
        ),
        link=None,
    )


def _unavailable(request: Request, t: Texts, error: ChannelhubError) -> Response:
    return render(
        "message.html",
        t,
        here=request.url.path,
        status_code=STATUS_OF_KIND[error.kind],
        private=True,
        shop=None,
        title=t("How did we do?"),
        message=t("We could not record your rating. Please try again later."),
        link=None,
    )


@router.get("/{token}")
async def rate_page(token: Token, request: Request) -> Response:
    """With ``?score=1..5``: record the rating and say thank you (with a comment box);
    without: the five choices."""
    hub = get_hub(request)
    found = await _rated_ticket(hub, token)
    if found is None:
        return _invalid(request)
    tenant_id, ticket_id, language = found
    t = _texts(request, language)
    raw = request.query_params.get("score")
    if raw is None:
        return await _page(request, t)
    score = _score(raw)
    if score is None:
        return await _page(request, t, status_code=400, notice=t("Choose a score from 1 to 5."))
    try:
        async with hub.db.transaction() as session:
            await helpdesk.rate(session, tenant_id, ticket_id, schemas.Rating(score=score))
    except ChannelhubError as exc:
        return _unavailable(request, t, exc)
    return await _page(request, t, score=score)


@router.post("/{token}")
async def comment(token: Token, request: Request) -> Response:
    """The optional comment of the thank-you page (with its score, and a CSRF token
    bound to this link)."""
    hub = get_hub(request)
    found = await _rated_ticket(hub, token)
    if found is None:
        return _invalid(request)
    tenant_id, ticket_id, language = found
    t = _texts(request, language)
    try:
        form = await forms.read_form(request)
    except forms.FormTooLarge:
        return await _page(
            request,
            t,
            status_code=413,
            notice=t("The form you sent is larger than any of ours. Please try again."),
        )
    score = _score(form.get("score"))
    text = form.get("comment", "").replace("\r\n", "\n").strip()
    if score is None:
        return await _page(request, t, status_code=400, notice=t("Choose a score from 1 to 5."))
    if not await csrf_valid(hub, request, form.get(CSRF_FIELD, ""), RATING_CSRF):
        return await _page(
            request,
            t,
            status_code=403,
            score=score,
            comment=text,
            notice=t("This form had expired. Please send it again."),
        )
    if not text or len(text) > COMMENT_MAX:
        error = (
            t("Write your comment first.")
            if not text
            else t("Keep the comment under {limit} characters.", limit=COMMENT_MAX)
        )
        return await _page(
            request, t, status_code=422, score=score, comment=text, comment_error=error
        )
    try:
        async with hub.db.transaction() as session:
            await helpdesk.rate(
                session, tenant_id, ticket_id, schemas.Rating(score=score, comment=text)
            )
    except ChannelhubError as exc:
        return _unavailable(request, t, exc)
    return await _page(request, t, score=score, commented=True)
