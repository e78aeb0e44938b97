"""The chat widget, under ``/chat/{shop}`` (the tenant's slug): a page on which a shopper
chats with the shop's agents, made to sit in an iframe on the merchant's own site, and the
small script that puts it there. See docs/helpdesk.md ("Chat widget").

- ``GET /chat/{shop}/widget.js``: the script a merchant adds to their pages. It adds one
  "Chat with us" button (in a shadow root, styled through the CSSOM, so no style leaks
  either way) that opens this page in an iframe; its only global is ``channelhubChat``.
- ``GET /chat/{shop}``: the chat page (also usable on its own): the conversation so far
  and a form with name, e-mail and message. Works without JavaScript; with it, a small
  poll of ``GET /chat/{shop}/messages`` shows the agents' replies as they are sent.
- ``POST /chat/{shop}/messages``: a message (a form, or JSON), received by the helpdesk
  like any chat message (``channel=chat``, ``thread_id`` = the conversation id).

**Who is writing** is whatever the visitor types: the message reaches the helpdesk with
``sender_trusted=False``, so its e-mail address never makes the visitor the buyer of an
order (no auto-answer with an order's details, the order link shown as unverified).

**The conversation** is a random id, held in a signed token (tenant and id, expiring
CONVERSATION_MAX_AGE after the first message) in an HttpOnly cookie under the shop's
chat path. The page shows the messages of that thread only (the visitor's and the
replies to it, never internal notes nor the rest of a ticket it was merged into).

**Cookies in a third-party frame.** An iframe on the merchant's site is a cross-site
context: SameSite=Lax or Strict cookies are not sent there. So the conversation and the
CSRF nonce are SameSite=None, which browsers accept only with Secure: over https (or
behind an https public URL) they are ``SameSite=None; Secure; Partitioned`` (CHIPS: kept
per embedding site, so the widget on shop A and the page opened directly do not share a
conversation); over plain http (development) they are SameSite=Lax and work when the
page is same-site or opened directly. The trade-off of SameSite=None is that the
browser sends the cookie with requests from any site, so every POST is CSRF-checked (a
signed double-submit token bound to the conversation) and nothing here answers a
cross-origin read. When the browser keeps no cookie in the frame (Safari, "block
third-party cookies"), a POST is accepted only from the page itself (``Sec-Fetch-Site:
same-origin``, set by the browser, which another site cannot forge) and the conversation
then travels in the page's address (``?conversation=<token>``): the page always shows
that link, so the visitor can come back to the conversation, or open it in a window of
its own.

**Framing.** These pages send ``Content-Security-Policy: frame-ancestors *`` (the portal
and console send ``'none'``); tenants have no list of their sites' origins to narrow it
to. Scripts, styles and connections stay ``'self'``.

The page's own words come from the portal's catalog (``_words``); the conversation is
shown verbatim.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from limits import parse
from pydantic import TypeAdapter, ValidationError
from starlette.responses import RedirectResponse, Response

from channelhub.experience.rest.deps import get_hub
from channelhub.experience.rest.problems import STATUS_OF_KIND, problem_response
from channelhub.experience.rest.ratelimit import RateLimits
from channelhub.experience.rest.routes.helpdesk import receiving
from channelhub.experience.web import forms
from channelhub.experience.web.rendering import (
    render,
    static_files,
    static_response,
    texts,
)
from channelhub.experience.web.session import (
    CSRF_FIELD,
    CsrfScope,
    chosen_language,
    csrf,
    csrf_valid,
    preferred_language,
    secure,
    signing_secret,
)
from channelhub.experience.web.shops import Slug, tenant_named
from channelhub.platform.auth.principal import Principal
from channelhub.platform.errors import (
    ChannelhubError,
    NotFoundError,
    RateLimitedError,
    UnauthenticatedError,
)
from channelhub.platform.i18n import DEFAULT, SUPPORTED, Texts
from channelhub.platform.ids import new_id
from channelhub.platform.runtime import Runtime
from channelhub.platform.signing import Signer
from channelhub.process.helpdesk import conversations, schemas
from channelhub.process.helpdesk import service as helpdesk
from channelhub.process.orders.schemas import Email

CHAT = "/chat"
CONVERSATION_COOKIE = "chw_conversation"
CHAT_CSRF_COOKIE = "chw_csrf"
CONVERSATION_PARAM = "conversation"
CONVERSATION_MAX_AGE = 30 * 24 * 3600
"""Seconds a conversation (its cookie and its link) stays valid after the first message."""
MESSAGE_MAX = 5000
NAME_MAX = 200
MESSAGES_SHOWN = 200
"""The latest messages of a conversation that the page and the poll show."""
POLL_MS = 4000
CHAT_PER_CLIENT = parse("20/minute")
"""Messages one client address may send per minute (all shops together)."""
CHAT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors *; base-uri 'none'"
)
"""The portal's policy, except that any site may frame these pages (they are meant to be
embedded in the merchant's shop)."""
CHAT_CSRF = CsrfScope(
    CHAT_CSRF_COOKIE,
    CHAT,
    b"channelhub.chat-csrf:",
    lambda request: (
        request.query_params.get(CONVERSATION_PARAM) or request.cookies.get(CONVERSATION_COOKIE, "")
    ),
)
"""A chat form is bound to the conversation it writes to (the one named in the address,
else the cookie's); the nonce cookie lives under the shop's chat path (``_keep``)."""

router = APIRouter(prefix=CHAT, include_in_schema=False)

_PURPOSE = "channelhub.chat-conversation"
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)
_STATIC = static_files("chat.css", "chat.js")
_JS = "text/javascript; charset=utf-8"


def _widget_labels() -> dict[str, dict[str, str]]:
    """The button's words in every language (the script picks the host page's)."""
    labels = {}
    for code in SUPPORTED:
        t = texts(code)
        labels[code] = {"open": t("Chat with us"), "close": t("Close the chat")}
    return labels


_WIDGET = static_files("chat-widget.js")["chat-widget.js"][0].replace(
    b"{/* labels */}", orjson.dumps(_widget_labels())
)


@dataclass(frozen=True)
class Shop:
    tenant_id: str
    slug: str
    name: str

    @property
    def path(self) -> str:
        return f"{CHAT}/{self.slug}"


@dataclass(frozen=True)
class Conversation:
    id: str
    token: str
    linked: bool
    """Named in the page's address (``?conversation=``) rather than the cookie."""


@dataclass(frozen=True)
class Line:
    """One message of the conversation as the visitor sees it."""

    id: str
    mine: bool
    text: str
    at: datetime

    def json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "from": "you" if self.mine else "shop",
            "text": self.text,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class Written:
    """A checked message: who wrote it (as typed, unverified) and what."""

    name: str
    email: str
    text: str


async def _shop(hub: Runtime, slug: str) -> Shop | None:
    tenant = await tenant_named(hub, slug)
    return None if tenant is None else Shop(tenant.id, tenant.slug, tenant.name)


def _texts(request: Request) -> Texts:
    return texts(preferred_language(request) or DEFAULT)


def _words(t: Texts) -> dict[str, str]:
    """The page's own words. They are worded here rather than in templates/chat/ because
    the catalog's check (tests/experience/web/test_translations.py) reads the web
    package's modules and the templates directly under templates/."""
    return {
        "title": t("Chat with us"),
        "intro": t("Write to us here: we answer on this page, usually within minutes."),
        "you": t("You"),
        "name": t("Your name"),
        "email": t("E-mail address"),
        "message": t("Message"),
        "send": t("Send"),
        "keep": t("To come back to this conversation later, keep this link:"),
        "new_window": t("Open the chat in a new window"),
    }


def _frameable(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CHAT_CSP
    return response


def _keep(response: Response, request: Request, shop: Shop, name: str, value: str) -> None:
    """A cookie the page needs inside a third-party iframe (see the module's docstring)."""
    https = secure(request)
    response.set_cookie(
        name,
        value,
        max_age=CONVERSATION_MAX_AGE if name == CONVERSATION_COOKIE else None,
        path=shop.path,
        httponly=True,
        samesite="none" if https else "lax",
        secure=https,
    )
    if https:
        # Starlette sets Partitioned only on Python 3.14+ (http.cookies learnt it there):
        # the attribute is added to the header it just wrote.
        header, cookie = response.raw_headers[-1]
        assert cookie.startswith(name.encode() + b"="), header
        response.raw_headers[-1] = (header, cookie + b"; Partitioned")


# --- the conversation ------------------------------------------------------------------


async def _signer(hub: Runtime) -> Signer:
    return Signer((await signing_secret(hub)).decode(), _PURPOSE)


async def _opened(hub: Runtime, shop: Shop, token: str) -> str | None:
    """The conversation id of a valid token of this shop, else None."""
    try:
        payload = (await _signer(hub)).verify(token, max_age_s=CONVERSATION_MAX_AGE)
    except UnauthenticatedError:
        return None
    found = payload.get("conversation")
    if payload.get("tenant") != shop.tenant_id or not isinstance(found, str):
        return None
    return found


async def _conversation(hub: Runtime, request: Request, shop: Shop) -> Conversation | None:
    """The visitor's conversation: the one named in the address, else the cookie's.
    NotFoundError when the address names one that is not valid (any more)."""
    linked = request.query_params.get(CONVERSATION_PARAM)
    if linked is not None:
        found = await _opened(hub, shop, linked)
        if found is None:
            raise NotFoundError("this conversation link is not valid or has expired")
        return Conversation(found, linked, linked=True)
    kept = request.cookies.get(CONVERSATION_COOKIE, "")
    found = await _opened(hub, shop, kept) if kept else None
    return Conversation(found, kept, linked=False) if found else None


async def _lines(hub: Runtime, shop: Shop, conversation_id: str) -> list[Line]:
    async with hub.db.reader() as session:
        found = await conversations.lines(session, shop.tenant_id, conversation_id, MESSAGES_SHOWN)
    return [Line(line.id, line.mine, line.text, line.at) for line in found]


async def _writer(hub: Runtime, shop: Shop, conversation_id: str) -> dict[str, str]:
    """The name and e-mail the visitor last wrote with here (to fill the form in)."""
    async with hub.db.reader() as session:
        found = await conversations.writer(session, shop.tenant_id, conversation_id)
    return {"name": found[0], "email": found[1]} if found else {}


def _address(shop: Shop, request: Request, conversation: Conversation | None, tail: str) -> str:
    """A chat address keeping the page's ``?lang=`` and a conversation named in the link."""
    query = {}
    language = chosen_language(request)
    if language:
        query["lang"] = language
    if conversation is not None and conversation.linked:
        query[CONVERSATION_PARAM] = conversation.token
    return shop.path + tail + (f"?{urlencode(query)}" if query else "")


def _link(shop: Shop, request: Request, conversation: Conversation) -> str:
    linked = Conversation(conversation.id, conversation.token, linked=True)
    return _address(shop, request, linked, "")


# --- pages -----------------------------------------------------------------------------


async def _page(
    request: Request,
    shop: Shop,
    conversation: Conversation | None,
    *,
    status_code: int = 200,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    hub = get_hub(request)
    t = _texts(request)
    form = await csrf(hub, request, CHAT_CSRF)
    lines: list[Line] = []
    filled = dict(values or {})
    if conversation is not None:
        lines = await _lines(hub, shop, conversation.id)
        if values is None:
            filled = await _writer(hub, shop, conversation.id)
    response = render(
        "chat/page.html",
        t,
        here=shop.path,
        status_code=status_code,
        private=True,
        shop=shop,
        w=_words(t),
        csrf=form.token,
        notice=notice,
        errors=errors or {},
        values=filled,
        lines=lines,
        action=_address(shop, request, conversation, "/messages"),
        poll_url=_address(shop, request, conversation, "/messages") if conversation else "",
        poll_ms=POLL_MS,
        link=_link(shop, request, conversation) if conversation else "",
        conversation_label=t("Conversation {id}", id=conversation.id[:8]) if conversation else "",
        standalone=_address(shop, request, conversation, ""),
        message_max=MESSAGE_MAX,
        name_max=NAME_MAX,
    )
    if form.fresh:
        _keep(response, request, shop, CHAT_CSRF_COOKIE, form.nonce)
    return _frameable(response)


def _message(
    request: Request,
    shop: Shop | None,
    *,
    status_code: int,
    title: str,
    message: str,
    link: tuple[str, str] | None = None,
) -> Response:
    t = _texts(request)
    return _frameable(
        render(
            "chat/message.html",
            t,
            here=request.url.path,
            status_code=status_code,
            private=True,
            shop=shop,
            title=title,
            message=message,
            link=link,
        )
    )


def _no_shop(request: Request) -> Response:
    t = _texts(request)
    return _message(
        request,
        None,
        status_code=404,
        title=t("Shop not found"),
        message=t("There is no shop at this address. Check the link you followed."),
    )


def _bad_link(request: Request, shop: Shop) -> Response:
    t = _texts(request)
    return _message(
        request,
        shop,
        status_code=404,
        title=t("This link is not valid"),
        message=t("This conversation link is not valid or has expired."),
        link=(_address(shop, request, None, ""), t("Start a new conversation")),
    )


def _wants_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() == "application/json"


# --- routes ----------------------------------------------------------------------------


@router.get("/_static/{name}")
async def static(name: str) -> Response:
    """The chat page's stylesheet and script (no CDN, nothing from elsewhere)."""
    return static_response(_STATIC, name)


@router.get("/{slug}/widget.js")
async def widget(slug: Slug, request: Request) -> Response:
    """The script a merchant adds to their shop's pages::

        <script src="https://hub.example.com/chat/northwind/widget.js" async></script>

    It finds the chat page from its own address and the language from ``data-lang`` on
    the script tag, else the page's ``<html lang>``. The same for every visitor: cached
    for an hour by browsers and proxies."""
    if await _shop(get_hub(request), slug) is None:
        return Response(
            b"/* channelhub: there is no shop at this address */\n",
            status_code=404,
            media_type=_JS,
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )
    return Response(
        _WIDGET,
        media_type=_JS,
        headers={
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            # A shop whose pages require CORP (Cross-Origin-Embedder-Policy) may load it.
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )


@router.get("/{slug}")
async def chat_page(slug: Slug, request: Request) -> Response:
    """The conversation so far and the form to write. Opened with ``?conversation=`` (the
    link the page shows), it continues that conversation and keeps it in the cookie."""
    hub = get_hub(request)
    shop = await _shop(hub, slug)
    if shop is None:
        return _no_shop(request)
    try:
        conversation = await _conversation(hub, request, shop)
    except NotFoundError:
        return _bad_link(request, shop)
    response = await _page(request, shop, conversation)
    if (
        conversation is not None
        and conversation.linked
        and request.cookies.get(CONVERSATION_COOKIE) != conversation.token
    ):
        _keep(response, request, shop, CONVERSATION_COOKIE, conversation.token)
    return response


@router.get("/{slug}/messages")
async def messages(slug: Slug, request: Request) -> Response:
    """The conversation's messages as JSON, oldest first (what the page polls):
    ``{"messages": [{"id", "from": "you"|"shop", "text", "at"}]}``; empty without a
    conversation."""
    hub = get_hub(request)
    shop = await _shop(hub, slug)
    if shop is None:
        return problem_response(request, 404, "there is no shop at this address")
    try:
        conversation = await _conversation(hub, request, shop)
    except NotFoundError as exc:
        return problem_response(request, 404, exc.detail)
    lines = await _lines(hub, shop, conversation.id) if conversation else []
    return Response(
        orjson.dumps({"messages": [line.json() for line in lines]}),
        media_type="application/json",
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Vary": "Cookie",
        },
    )


async def _read(request: Request) -> dict[str, str]:
    """The submitted fields, from a form or a JSON object of strings (the same size cap
    as every web form); FormTooLarge beyond it, FormErrors for JSON that is not that."""
    if not _wants_json(request):
        return await forms.read_form(request)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > forms.MAX_FORM_BYTES:
            raise forms.FormTooLarge
    try:
        data: Any = orjson.loads(bytes(body))
    except orjson.JSONDecodeError:
        raise forms.FormErrors({"body": "not JSON"}) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise forms.FormErrors({"body": "a JSON object of strings"})
    return {str(name): value.replace("\x00", "") for name, value in data.items()}


async def _trusted(hub: Runtime, request: Request, submitted: str) -> bool:
    """The form came from our page: a signed double-submit token when the browser keeps
    our nonce cookie; without it (cookies blocked in the frame), only a request the
    browser itself marks as coming from our own origin. A token is always needed."""
    if request.cookies.get(CHAT_CSRF_COOKIE):
        return await csrf_valid(hub, request, submitted, CHAT_CSRF)
    return bool(submitted) and request.headers.get("sec-fetch-site") == "same-origin"


def _checked(t: Texts, form: dict[str, str]) -> Written:
    errors: dict[str, str] = {}
    name = " ".join(form.get("name", "").split())
    email = form.get("email", "").strip()
    text = form.get("text", "").replace("\r\n", "\n").strip()
    if not name:
        errors["name"] = t("Enter your name.")
    elif len(name) > NAME_MAX:
        errors["name"] = t("Keep your name under {limit} characters.", limit=NAME_MAX)
    if not email:
        errors["email"] = t("Enter your e-mail address.")
    else:
        try:
            email = _EMAIL.validate_python(email).lower()
        except ValidationError:
            errors["email"] = t("Enter an e-mail address such as name@example.com.")
    if not text:
        errors["text"] = t("Write your message first.")
    elif len(text) > MESSAGE_MAX:
        errors["text"] = t("Keep your message under {limit} characters.", limit=MESSAGE_MAX)
    if errors:
        raise forms.FormErrors(errors)
    return Written(name, email, text)


def _refusal(
    request: Request,
    status: int,
    detail: str,
    *,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A refused JSON post, as problem+json naming each field at fault."""
    return problem_response(
        request,
        status,
        detail,
        errors=[{"detail": why, "pointer": f"#/{name}"} for name, why in (errors or {}).items()],
        headers=headers,
    )


@router.post("/{slug}/messages")
async def send(slug: Slug, request: Request) -> Response:
    """Send a message (form fields, or a JSON object: ``csrf_token``, ``name``,
    ``email``, ``text``): it joins the visitor's conversation, or starts one (and the
    cookie that keeps it). A form comes back to the page (post/redirect/get); JSON gets
    201 ``{"message_id", "conversation", "link", "csrf_token"}`` (the token for the next
    post: a token is bound to its conversation). Refusals: 403 (CSRF), 404, 413, 422
    (each field named), 429 (Retry-After)."""
    hub = get_hub(request)
    as_json = _wants_json(request)
    shop = await _shop(hub, slug)
    if shop is None:
        return _refusal(request, 404, "no shop") if as_json else _no_shop(request)
    t = _texts(request)
    try:
        conversation = await _conversation(hub, request, shop)
    except NotFoundError as exc:
        return _refusal(request, 404, exc.detail) if as_json else _bad_link(request, shop)
    try:
        form = await _read(request)
    except forms.FormTooLarge:
        detail = t("The form you sent is larger than any of ours. Please try again.")
        return (
            _refusal(request, 413, detail)
            if as_json
            else await _page(request, shop, conversation, status_code=413, notice=detail)
        )
    except forms.FormErrors as exc:
        return _refusal(request, 400, "send a JSON object of strings", errors=exc.errors)
    values = {name: form.get(name, "") for name in ("name", "email", "text")}

    async def refused(
        status: int, notice: str | None = None, errors: dict[str, str] | None = None
    ) -> Response:
        if as_json:
            return _refusal(request, status, notice or t("Please check the form"), errors=errors)
        return await _page(
            request,
            shop,
            conversation,
            status_code=status,
            notice=notice,
            errors=errors,
            values=values,
        )

    if not await _trusted(hub, request, form.get(CSRF_FIELD, "")):
        return await refused(403, t("This form had expired. Please send it again."))
    try:
        written = _checked(t, form)
    except forms.FormErrors as exc:
        return await refused(422, errors=exc.errors)
    limits: RateLimits = request.app.state.rate_limits
    client = request.client.host if request.client else "unknown"
    try:
        await limits.hit(CHAT_PER_CLIENT, "chat-client", client)
    except RateLimitedError as exc:
        wait = t(
            "You have sent many messages in a short time. Please try again in {seconds} seconds.",
            seconds=exc.retry_after_s,
        )
        too_many = await refused(429, wait)
        too_many.headers["Retry-After"] = str(exc.retry_after_s)
        return too_many
    conversation_id = conversation.id if conversation else secrets.token_urlsafe(24)
    message = schemas.MessageIn(
        channel=schemas.TicketChannel.chat,
        external_id=new_id("chw"),
        thread_id=conversation_id,
        requester=schemas.Requester(name=written.name, email=written.email),
        text=written.text,
    )
    try:
        async with hub.db.transaction() as session:
            accepted = await helpdesk.receive_message(
                session,
                Principal.system(shop.tenant_id, name="chat-widget"),
                message,
                receiving(request),
                sender_trusted=False,  # typed by whoever visits: proves no order's buyer
            )
    except ChannelhubError as exc:
        return await refused(
            STATUS_OF_KIND[exc.kind], t("We could not send your message. Please try again.")
        )
    if conversation is None:
        signer = await _signer(hub)
        token = signer.sign({"tenant": shop.tenant_id, "conversation": conversation_id})
        # Without our nonce cookie the browser keeps none in this frame: the conversation
        # goes on in the page's address instead.
        linked = CHAT_CSRF_COOKIE not in request.cookies
        conversation = Conversation(conversation_id, token, linked=linked)
    link = _link(shop, request, conversation)
    answer: Response
    if as_json:
        # The next post's token: bound to the conversation, which may have just begun.
        kept = conversation.token
        following = await csrf(hub, request, replace(CHAT_CSRF, bound_to=lambda _: kept))
        body = {
            "message_id": accepted.message_id,
            "conversation": conversation_id,
            "link": link,
            "csrf_token": following.token,
        }
        answer = Response(orjson.dumps(body), status_code=201, media_type="application/json")
        if following.fresh:
            _keep(answer, request, shop, CHAT_CSRF_COOKIE, following.nonce)
    else:
        answer = RedirectResponse(_address(shop, request, conversation, ""), status_code=303)
    _keep(answer, request, shop, CONVERSATION_COOKIE, conversation.token)
    return answer
