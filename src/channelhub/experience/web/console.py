"""The agent console, under ``/console``: an inbox of tickets with their SLA clocks, and a
ticket page with everything an agent answers from. See docs/helpdesk-console.md.

Agents sign in with an API key (``helpdesk:read``; changes need ``helpdesk:write``) that
is kept sealed in a SameSite=Strict session cookie (session.py) and authenticated again on
every request, so revoking the key ends the session. Every page works without JavaScript:
forms post and redirect back (post/redirect/get); a refused form comes back with the
process layer's reason and the HTTP status a REST client would get, with what the agent
typed kept. Every POST carries a CSRF token bound to the session.

The console's own words are English (agents); the order's texts come from the process
layer in the customer's language, as the customer reads them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from babel.numbers import format_currency
from fastapi import APIRouter, Path, Request
from limits import parse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from channelhub.experience.rest.deps import get_hub
from channelhub.experience.rest.problems import STATUS_OF_KIND
from channelhub.experience.rest.ratelimit import RateLimits
from channelhub.experience.rest.routes.helpdesk import receiving
from channelhub.experience.rest.tokens import sign_rating
from channelhub.experience.web import forms
from channelhub.experience.web.rendering import render, static_files, static_response, texts
from channelhub.experience.web.session import (
    CONSOLE,
    CONSOLE_CSRF,
    CSRF_FIELD,
    agent_key,
    csrf,
    csrf_valid,
    forget_agent,
    keep_agent,
    signing_secret,
)
from channelhub.platform.auth import service as auth
from channelhub.platform.auth.principal import Principal
from channelhub.platform.db.pagination import PageRequest
from channelhub.platform.errors import (
    ChannelhubError,
    ForbiddenError,
    RateLimitedError,
    UnauthenticatedError,
    first_validation_error,
)
from channelhub.platform.money import minor_unit_exponent
from channelhub.platform.runtime import Runtime
from channelhub.process.helpdesk import admin, inboxview, schemas
from channelhub.process.helpdesk import service as helpdesk

router = APIRouter(prefix=CONSOLE, include_in_schema=False)

TicketId = Annotated[str, Path(description="Ticket id (tkt_...).")]
PER_PAGE = 25
LOGIN_PER_CLIENT = parse("10/minute")
"""Sign-in attempts one client address may make per minute."""
_EN = texts("en")
_STATIC = static_files("console.css")
_STATUSES = ("open", "pending", "resolved", "merged")
_DONE = {
    "replied": "Reply sent.",
    "resolved": "Reply sent; the ticket is resolved.",
    "noted": "Note added.",
    "updated": "Ticket updated.",
    "merged": "Ticket merged into this one.",
    "unmerged": "Merge undone: the other ticket has its messages back.",
}
"""Notices after a change (by a fixed key in the URL: nothing typed is reflected)."""
_EXPIRED = (
    "This form had expired or did not come from the console; nothing was changed. "
    "Please send it again."
)


# --- pages and sessions ----------------------------------------------------------------


async def _page(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> Response:
    """A console page (never cached), with the CSRF token its forms carry."""
    hub = get_hub(request)
    form = await csrf(hub, request, CONSOLE_CSRF)
    response = render(
        f"console/{template}",
        _EN,
        here=request.url.path,
        status_code=status_code,
        private=True,
        csrf=form.token,
        **context,
    )
    form.keep(response, request)
    return response


async def _message(
    request: Request, title: str, message: str, *, status_code: int, signed_in: bool = True
) -> Response:
    return await _page(
        request,
        "message.html",
        status_code=status_code,
        title=title,
        message=message,
        signed_in=signed_in,
    )


async def _agent(hub: Runtime, request: Request) -> Principal | None:
    """The signed-in agent: a session whose key is still valid and may read tickets."""
    key = await agent_key(hub, request)
    if key is None:
        return None
    async with hub.db.reader() as session:
        try:
            principal = await auth.authenticate(session, key)
        except UnauthenticatedError:
            return None
    try:
        principal.require(helpdesk.READ)
    except ForbiddenError:
        return None
    return principal


def _to_login(request: Request) -> Response:
    """To the sign-in page, coming back here afterwards (a GET's own address)."""
    back = request.url.path if request.method == "GET" else CONSOLE
    if request.method == "GET" and request.url.query:
        back += f"?{request.url.query}"
    gone = RedirectResponse(f"{CONSOLE}/login?{urlencode({'next': back})}", status_code=303)
    forget_agent(gone, request)
    return gone


def _next(value: str) -> str:
    """Where to go after signing in: a console page only (never another site)."""
    inside = value == CONSOLE or value.startswith((f"{CONSOLE}/", f"{CONSOLE}?"))
    if inside and not any(c in value for c in "\\\r\n"):
        return value
    return CONSOLE


@router.get("/_static/{name}")
async def static(name: str) -> Response:
    """The console's stylesheet."""
    return static_response(_STATIC, name)


# --- signing in and out ----------------------------------------------------------------


async def _login_page(
    request: Request, *, status_code: int = 200, notice: str | None = None, next_url: str
) -> Response:
    return await _page(
        request,
        "login.html",
        status_code=status_code,
        notice=notice,
        next_url=next_url,
        signed_in=False,
    )


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The sign-in form: an API key with ``helpdesk:read``."""
    next_url = _next(request.query_params.get("next", CONSOLE))
    if await _agent(get_hub(request), request) is not None:
        return RedirectResponse(next_url, status_code=303)
    return await _login_page(request, next_url=next_url)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the key and keep it in the session cookie. A refused key is never echoed
    back into the page."""
    hub = get_hub(request)
    try:
        form = await forms.read_form(request)
    except forms.FormTooLarge:
        return await _login_page(
            request, status_code=413, notice="That was too much.", next_url=CONSOLE
        )
    next_url = _next(form.get("next", CONSOLE))
    if not await csrf_valid(hub, request, form.get(CSRF_FIELD, ""), CONSOLE_CSRF):
        return await _login_page(request, status_code=403, notice=_EXPIRED, next_url=next_url)
    limits: RateLimits = request.app.state.rate_limits
    client = request.client.host if request.client else "unknown"
    try:
        await limits.hit(LOGIN_PER_CLIENT, "console-login", client)
    except RateLimitedError as exc:
        refused = await _login_page(
            request,
            status_code=429,
            notice=f"Too many attempts. Please try again in {exc.retry_after_s} seconds.",
            next_url=next_url,
        )
        refused.headers["Retry-After"] = str(exc.retry_after_s)
        return refused
    key = form.get("api_key", "").strip()
    if not key:
        return await _login_page(
            request, status_code=422, notice="Enter your API key.", next_url=next_url
        )
    async with hub.db.reader() as session:
        try:
            principal = await auth.authenticate(session, key)
        except UnauthenticatedError:
            return await _login_page(
                request,
                status_code=401,
                notice="That API key is unknown or revoked.",
                next_url=next_url,
            )
    try:
        principal.require(helpdesk.READ)
    except ForbiddenError:
        return await _login_page(
            request,
            status_code=403,
            notice="That API key lacks the helpdesk:read scope.",
            next_url=next_url,
        )
    signed_in = RedirectResponse(next_url, status_code=303)
    await keep_agent(hub, signed_in, request, key)
    return signed_in


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Forget the session in this browser."""
    hub = get_hub(request)
    try:
        form = await forms.read_form(request)
    except forms.FormTooLarge:
        form = {}
    if not await csrf_valid(hub, request, form.get(CSRF_FIELD, ""), CONSOLE_CSRF):
        return await _message(request, "Not signed out", _EXPIRED, status_code=403)
    gone = RedirectResponse(f"{CONSOLE}/login", status_code=303)
    forget_agent(gone, request)
    return gone


# --- the inbox -------------------------------------------------------------------------


def _inbox_url(**params: str | None) -> str:
    kept = {name: value for name, value in params.items() if value}
    return f"{CONSOLE}?{urlencode(kept)}" if kept else CONSOLE


@router.get("")
async def inbox(request: Request) -> Response:
    """Tickets newest first with their SLA clocks; the queues with their open tickets.
    ``?queue=que_...`` (or ``none``), ``?status=open|pending|resolved|merged``,
    ``?cursor=`` for the next page."""
    hub = get_hub(request)
    principal = await _agent(hub, request)
    if principal is None:
        return _to_login(request)
    queue = request.query_params.get("queue", "").strip()
    status = request.query_params.get("status", "").strip()
    cursor = request.query_params.get("cursor") or None
    if status and status not in _STATUSES:
        return await _message(
            request,
            "Inbox",
            f"There is no status {status!r}; choose one of {', '.join(_STATUSES)}.",
            status_code=422,
        )
    try:
        page = PageRequest.from_cursor(cursor, PER_PAGE)
        async with hub.db.reader() as session:
            found = await inboxview.inbox(
                session,
                principal,
                page,
                status=schemas.TicketStatus(status) if status else None,
                queue_id=None if queue in ("", "none") else queue,
                unqueued=queue == "none",
            )
    except ChannelhubError as exc:
        return await _message(request, "Inbox", exc.detail, status_code=STATUS_OF_KIND[exc.kind])
    names = {q.id: q.name for q in found.queues if q.id}
    return await _page(
        request,
        "inbox.html",
        inbox=found,
        queue=queue,
        status=status,
        statuses=_STATUSES,
        queue_names=names,
        queue_url=lambda queue_id: _inbox_url(queue=queue_id, status=status),
        first_url=_inbox_url(queue=queue, status=status) if cursor else None,
        next_url=(
            _inbox_url(queue=queue, status=status, cursor=found.next_cursor)
            if found.next_cursor
            else None
        ),
        signed_in=True,
    )


# --- a ticket --------------------------------------------------------------------------


def _money(amount: int, currency: str) -> str:
    value = Decimal(amount).scaleb(-minor_unit_exponent(currency))
    return format_currency(value, currency, locale="en")


def _template_choices(
    templates: list[schemas.ReplyTemplate], language: str
) -> list[tuple[str, str]]:
    """(key, name) once per key, named as in the ticket's language when it has one."""
    names: dict[str, str] = {}
    for template in templates:
        if template.key not in names or template.language == language:
            names[template.key] = template.name
    return sorted(names.items(), key=lambda item: item[1].lower())


async def _rating_url(hub: Runtime, session: AsyncSession, tenant_id: str, ticket_id: str) -> str:
    """The customer's rating link (call ``signing_secret`` before opening ``session``)."""
    token = await sign_rating(session, hub.settings, tenant_id, ticket_id)
    return f"{hub.settings.public_url.rstrip('/')}/helpdesk/rate/{token}"


async def _ticket_page(
    request: Request,
    principal: Principal,
    ticket_id: str,
    *,
    status_code: int = 200,
    notice: str | None = None,
    text: str | None = None,
    text_label: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    """The ticket page; ``text`` replaces the draft in the reply box (a template, or what
    the agent typed when a reply was refused)."""
    hub = get_hub(request)
    # The signing key is made (and committed) in a transaction of its own first: signing
    # in the read session below must not be what creates it (a reader's writes are lost).
    await signing_secret(hub)
    try:
        async with hub.db.reader() as session:
            url = await _rating_url(hub, session, principal.tenant_id, ticket_id)
            view = await helpdesk.view(session, principal, ticket_id, rating_url=url)
            clocks = await inboxview.ticket_clocks(session, principal, ticket_id)
            agents = await admin.list_agents(session, principal)
            queues = await admin.list_queues(session, principal)
            templates = await admin.list_templates(session, principal)
    except ChannelhubError as exc:
        return await _message(request, "Ticket", exc.detail, status_code=STATUS_OF_KIND[exc.kind])
    ticket = view.ticket
    answered = _answered(view.messages)
    if text is None:
        # The draft answers the customer's latest message: once that is answered, it is
        # not offered again (the process layer keeps it until the customer writes again).
        offered = ticket.draft and not answered
        text = ticket.draft if offered else ""
        text_label = "Draft \N{EM DASH} review before sending" if offered else "Reply"
    done = _DONE.get(request.query_params.get("done", ""))
    return await _page(
        request,
        "ticket.html",
        status_code=status_code,
        view=view,
        ticket=ticket,
        clocks=clocks,
        agents=agents,
        agent_names={agent.id: agent.name for agent in agents},
        queue_names={queue.id: queue.name for queue in queues},
        templates=_template_choices(templates, ticket.language),
        reply_text=text,
        reply_label=text_label or "Reply",
        answered=answered,
        notice=notice,
        done=None if notice else done,
        values=values or {},
        money=_money,
        base=f"{CONSOLE}/tickets/{ticket.id}",
        can_write=_can_write(principal),
        signed_in=True,
    )


def _answered(messages: list[schemas.Message]) -> bool:
    """The conversation's latest message (notes aside) went out to the customer."""
    said = [m for m in messages if m.kind != "note"]
    return bool(said) and said[-1].direction == "out"


def _typed(form: dict[str, str], name: str) -> str:
    """A textarea as typed: browsers send its line breaks as CRLF; the hub stores LF."""
    return form.get(name, "").replace("\r\n", "\n").strip()


def _can_write(principal: Principal) -> bool:
    try:
        principal.require(helpdesk.WRITE)
    except ForbiddenError:
        return False
    return True


@router.get("/tickets/{ticket_id}")
async def ticket_page(ticket_id: TicketId, request: Request) -> Response:
    """The ticket: messages, activity, merges, the order panel, and the forms to act."""
    principal = await _agent(get_hub(request), request)
    if principal is None:
        return _to_login(request)
    return await _ticket_page(request, principal, ticket_id)


async def _acting(request: Request, ticket_id: str) -> tuple[Principal, dict[str, str]] | Response:
    """The agent and the checked form of a POST on a ticket; or the page to answer with
    instead (signed out, too large, a missing or forged CSRF token)."""
    hub = get_hub(request)
    principal = await _agent(hub, request)
    if principal is None:
        return _to_login(request)
    try:
        form = await forms.read_form(request)
    except forms.FormTooLarge:
        return await _ticket_page(
            request, principal, ticket_id, status_code=413, notice="That was too much."
        )
    if not await csrf_valid(hub, request, form.get(CSRF_FIELD, ""), CONSOLE_CSRF):
        return await _ticket_page(
            request,
            principal,
            ticket_id,
            status_code=403,
            notice=_EXPIRED,
            text=form.get("text"),
            text_label="Your reply (not sent)" if form.get("text") else None,
            values=form,
        )
    return principal, form


async def _apply(
    request: Request,
    principal: Principal,
    ticket_id: str,
    form: dict[str, str],
    change: Callable[[AsyncSession], Awaitable[object]],
    done: str,
) -> Response:
    """Apply a change in one transaction; refused (a ChannelhubError, or input the process
    layer's models reject), the ticket page again with the reason and what was typed."""
    try:
        async with get_hub(request).db.transaction() as session:
            await change(session)
    except ValidationError as exc:
        return await _refused(request, principal, ticket_id, form, 422, first_validation_error(exc))
    except ChannelhubError as exc:
        return await _refused(
            request, principal, ticket_id, form, STATUS_OF_KIND[exc.kind], exc.detail
        )
    return RedirectResponse(f"{CONSOLE}/tickets/{ticket_id}?done={done}", status_code=303)


async def _refused(
    request: Request,
    principal: Principal,
    ticket_id: str,
    form: dict[str, str],
    status_code: int,
    reason: str,
) -> Response:
    """The ticket page saying why a change was refused, keeping what the agent typed."""
    return await _ticket_page(
        request,
        principal,
        ticket_id,
        status_code=status_code,
        notice=f"Not done: {reason}",
        text=form.get("text"),
        text_label="Your reply (not sent)",
        values=form,
    )


@router.post("/tickets/{ticket_id}/reply")
async def reply(ticket_id: TicketId, request: Request) -> Response:
    """Send the reply box to the customer (``action=resolve``: and resolve the ticket;
    the reply then carries the rating link)."""
    acting = await _acting(request, ticket_id)
    if isinstance(acting, Response):
        return acting
    principal, form = acting
    resolve = form.get("action") == "resolve"
    how = receiving(request).answering

    async def change(session: AsyncSession) -> None:
        data = schemas.Reply(text=_typed(form, "text"), resolve=resolve)
        await helpdesk.reply(session, principal, ticket_id, data, how)

    return await _apply(
        request, principal, ticket_id, form, change, "resolved" if resolve else "replied"
    )


@router.post("/tickets/{ticket_id}/template")
async def fill_template(ticket_id: TicketId, request: Request) -> Response:
    """Fill the reply box with a template rendered for this ticket (nothing is sent)."""
    acting = await _acting(request, ticket_id)
    if isinstance(acting, Response):
        return acting
    principal, form = acting
    key = form.get("template", "")
    try:
        async with get_hub(request).db.reader() as session:
            rendered = await helpdesk.render_template(
                session, principal, ticket_id, key, schemas.RenderRequest()
            )
    except ChannelhubError as exc:
        return await _refused(
            request, principal, ticket_id, form, STATUS_OF_KIND[exc.kind], exc.detail
        )
    return await _ticket_page(
        request,
        principal,
        ticket_id,
        text=rendered.text,
        text_label=f"Template \N{LEFT DOUBLE QUOTATION MARK}{key}\N{RIGHT DOUBLE QUOTATION MARK}"
        " \N{EM DASH} review before sending",
        values={"template": key},
    )


TicketChange = Callable[[AsyncSession, Principal, dict[str, str]], Awaitable[object]]


async def _act(request: Request, ticket_id: str, change: TicketChange, done: str) -> Response:
    """A console POST on a ticket that changes it: checked (see ``_acting``), then applied
    (see ``_apply``)."""
    acting = await _acting(request, ticket_id)
    if isinstance(acting, Response):
        return acting
    principal, form = acting

    async def apply(session: AsyncSession) -> object:
        return await change(session, principal, form)

    return await _apply(request, principal, ticket_id, form, apply, done)


@router.post("/tickets/{ticket_id}/note")
async def note(ticket_id: TicketId, request: Request) -> Response:
    """An internal note (the customer never sees it)."""

    async def change(session: AsyncSession, principal: Principal, form: dict[str, str]) -> None:
        data = schemas.Note(text=_typed(form, "note"))
        await helpdesk.note(session, principal, ticket_id, data)

    return await _act(request, ticket_id, change, "noted")


@router.post("/tickets/{ticket_id}/assign")
async def assign(ticket_id: TicketId, request: Request) -> Response:
    """Give the ticket to an agent (empty: nobody)."""

    async def change(session: AsyncSession, principal: Principal, form: dict[str, str]) -> None:
        data = schemas.TicketUpdate(assignee_id=form.get("assignee_id", "").strip() or None)
        await helpdesk.update_ticket(session, principal, ticket_id, data)

    return await _act(request, ticket_id, change, "updated")


@router.post("/tickets/{ticket_id}/status")
async def set_status(ticket_id: TicketId, request: Request) -> Response:
    """Open, pending or resolved."""

    async def change(session: AsyncSession, principal: Principal, form: dict[str, str]) -> None:
        data = schemas.TicketUpdate.model_validate({"status": form.get("status", "")})
        await helpdesk.update_ticket(session, principal, ticket_id, data)

    return await _act(request, ticket_id, change, "updated")


@router.post("/tickets/{ticket_id}/merge")
async def merge(ticket_id: TicketId, request: Request) -> Response:
    """Merge another ticket (by id) into this one."""

    async def change(session: AsyncSession, principal: Principal, form: dict[str, str]) -> None:
        data = schemas.MergeRequest(source_id=form.get("source_id", "").strip())
        await helpdesk.merge_tickets(session, principal, ticket_id, data)

    return await _act(request, ticket_id, change, "merged")


@router.post("/tickets/{ticket_id}/merges/{merge_id}/undo")
async def undo_merge(
    ticket_id: TicketId,
    merge_id: Annotated[str, Path(description="Merge id (mrg_...).")],
    request: Request,
) -> Response:
    """Undo a merge shown on this ticket's page; back to this page."""

    async def change(session: AsyncSession, principal: Principal, _form: dict[str, str]) -> None:
        await helpdesk.unmerge_tickets(session, principal, merge_id)

    return await _act(request, ticket_id, change, "unmerged")


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}")
async def attachment(
    ticket_id: TicketId,
    attachment_id: Annotated[str, Path(description="Attachment id (att_...).")],
    request: Request,
) -> Response:
    """The attachment as received, always as a download (never rendered by the browser)."""
    hub = get_hub(request)
    principal = await _agent(hub, request)
    if principal is None:
        return _to_login(request)
    try:
        async with hub.db.reader() as session:
            found = await helpdesk.attachment(session, principal, ticket_id, attachment_id)
    except ChannelhubError as exc:
        return await _message(
            request, "Attachment", exc.detail, status_code=STATUS_OF_KIND[exc.kind]
        )
    if found.content is None:
        return await _message(
            request,
            "Attachment",
            "The attachment was not kept: it was over the size cap, or erased with its "
            "sender's personal data.",
            status_code=422,
        )
    return Response(
        found.content,
        media_type="application/octet-stream",
        headers={
            "content-disposition": "attachment; filename*=UTF-8''"
            + quote(found.filename or "attachment", safe=""),
            "x-content-type-options": "nosniff",
            "cache-control": "no-store",
        },
    )
