"""The portal's pages, under ``/portal/{shop}`` (the tenant's slug). See docs/portal.md.

Every page works without JavaScript: forms post and redirect back (post/redirect/get),
and a failed form comes back with the shopper's input and each error next to its field,
with the HTTP status a REST client would get (403 CSRF, 404, 409, 422, 429). The only
script subscribes the order page to its live updates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from channelhub.experience.rest.deps import get_hub
from channelhub.experience.rest.problems import STATUS_OF_KIND
from channelhub.experience.rest.ratelimit import LOOKUP_PER_CLIENT, LOOKUP_PER_ORDER, RateLimits
from channelhub.experience.rest.tokens import sign_order, verify_order
from channelhub.experience.web import forms, live
from channelhub.experience.web.rendering import (
    fragment,
    render,
    static_files,
    static_response,
    texts,
)
from channelhub.experience.web.session import (
    CSRF_FIELD,
    PORTAL,
    csrf,
    csrf_valid,
    forget_order,
    keep_order,
    order_token,
    preferred_language,
    remember_language,
    shop_path,
)
from channelhub.experience.web.shops import Slug, tenant_named
from channelhub.experience.web.views import STORES_PER_PAGE, OrderView, order_view, store_list
from channelhub.platform.auth.principal import Principal
from channelhub.platform.db.pagination import PageRequest
from channelhub.platform.errors import (
    ChannelhubError,
    InvalidError,
    RateLimitedError,
    UnauthenticatedError,
)
from channelhub.platform.i18n import DEFAULT, SUPPORTED, Texts
from channelhub.platform.runtime import Runtime
from channelhub.process.orders import closures, returns, selfservice
from channelhub.process.orders.repository import OrderNotFound

T = TypeVar("T")

router = APIRouter(prefix=PORTAL, include_in_schema=False)

_STATIC = static_files("portal.css", "portal.js")


@dataclass(frozen=True)
class Shop:
    tenant_id: str
    slug: str
    name: str

    @property
    def path(self) -> str:
        return shop_path(self.slug)

    @property
    def order_path(self) -> str:
        return f"{self.path}/order"


@dataclass(frozen=True)
class Shopper:
    """Whoever holds a valid token for one of this shop's orders."""

    principal: Principal
    order_id: str


async def _shop(hub: Runtime, slug: str) -> Shop | None:
    tenant = await tenant_named(hub, slug)
    return None if tenant is None else Shop(tenant.id, tenant.slug, tenant.name)


async def _verify(hub: Runtime, shop: Shop, token: str) -> Shopper | None:
    async with hub.db.reader() as session:
        try:
            tenant_id, order_id = await verify_order(session, hub.settings, token)
        except UnauthenticatedError:
            return None
    if tenant_id != shop.tenant_id:
        return None
    return Shopper(selfservice.customer(tenant_id), order_id)


async def _shopper(hub: Runtime, request: Request, shop: Shop) -> Shopper | None:
    token = order_token(request)
    return None if token is None else await _verify(hub, shop, token)


def _page_texts(request: Request) -> Texts:
    return texts(preferred_language(request) or DEFAULT)


def _no_shop(request: Request) -> Response:
    t = _page_texts(request)
    return render(
        "message.html",
        t,
        here=request.url.path,
        status_code=404,
        shop=None,
        title=t("Shop not found"),
        message=t("There is no shop at this address. Check the link you followed."),
        link=None,
    )


def _too_large(request: Request, shop: Shop) -> Response:
    t = _page_texts(request)
    return render(
        "message.html",
        t,
        here=shop.path,
        status_code=413,
        shop=shop,
        title=t("That was too much"),
        message=t("The form you sent is larger than any of ours. Please try again."),
        link=shop.path,
    )


def _explain(t: Texts, error: ChannelhubError) -> str:
    """A process-layer refusal in the shopper's words."""
    known = {
        "option_unavailable": t("That option is not available any more. Please choose another."),
        "no_choice_pending": t("There is nothing to choose for this order any more."),
        "nothing_returnable": t("Nothing on this order can be returned now."),
    }
    if error.code in known:
        return known[error.code]
    if error.field and error.field.startswith("items."):
        return t("You cannot return that many of one item. Please check the quantities.")
    return t("We could not do that: {reason}", reason=error.detail)


# --- find my order ------------------------------------------------------------------------


async def _find_page(
    request: Request,
    shop: Shop,
    *,
    status_code: int = 200,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    hub = get_hub(request)
    t = _page_texts(request)
    form = await csrf(hub, request)
    response = render(
        "find.html",
        t,
        here=shop.path,
        status_code=status_code,
        private=True,
        shop=shop,
        csrf=form.token,
        notice=notice,
        errors=errors or {},
        values=values or {},
        has_order=order_token(request) is not None,
    )
    form.keep(response, request)
    remember_language(response, request)
    return response


@router.get("/_static/{name}")
async def static(name: str) -> Response:
    """The portal's stylesheet and script (no CDN, nothing from elsewhere)."""
    return static_response(_STATIC, name)


@router.get("/{slug}")
async def find_order(slug: Slug, request: Request) -> Response:
    """The find-my-order form: order number and e-mail address."""
    shop = await _shop(get_hub(request), slug)
    if shop is None:
        return _no_shop(request)
    return await _find_page(request, shop)


@router.post("/{slug}/lookup")
async def lookup(slug: Slug, request: Request) -> Response:
    """Find the order with this number and e-mail; on success remember it in the order
    cookie and go to the order page. A wrong e-mail and an unknown number get the same
    page; attempts count against the same limits as the REST look-up."""
    hub = get_hub(request)
    shop = await _shop(hub, slug)
    if shop is None:
        return _no_shop(request)
    t = _page_texts(request)
    try:
        form = await forms.read_form(request)
    except forms.FormTooLarge:
        return _too_large(request, shop)
    values = {"number": form.get("number", ""), "email": form.get("email", "")}
    if not await csrf_valid(hub, request, form.get(CSRF_FIELD, "")):
        return await _find_page(
            request,
            shop,
            status_code=403,
            notice=t("This form had expired. Please send it again."),
            values=values,
        )
    try:
        wanted = forms.lookup(t, form)
    except forms.FormErrors as exc:
        return await _find_page(request, shop, status_code=422, errors=exc.errors, values=values)
    limits: RateLimits = request.app.state.rate_limits
    client = request.client.host if request.client else "unknown"
    try:
        await limits.hit(LOOKUP_PER_CLIENT, "lookup-client", client)
        await limits.hit(LOOKUP_PER_ORDER, "lookup-order", shop.slug, wanted.number.lower())
    except RateLimitedError as exc:
        refused = await _find_page(
            request,
            shop,
            status_code=429,
            notice=t(
                "Too many attempts. Please try again in {seconds} seconds.",
                seconds=exc.retry_after_s,
            ),
            values=values,
        )
        refused.headers["Retry-After"] = str(exc.retry_after_s)
        return refused
    try:
        async with hub.db.transaction() as session:
            tenant_id, order_id = await selfservice.find(
                session, shop.slug, wanted.number, wanted.email
            )
            token = await sign_order(session, hub.settings, tenant_id, order_id)
    except OrderNotFound:
        return await _find_page(
            request,
            shop,
            status_code=404,
            notice=t("No order matches this number and e-mail address. Please check both."),
            values=values,
        )
    found = RedirectResponse(shop.order_path, status_code=303)
    keep_order(found, request, shop.slug, token)
    return found


# --- the order ----------------------------------------------------------------------------


async def _current(hub: Runtime, request: Request, shopper: Shopper) -> OrderView:
    async with hub.db.reader() as session:
        return await order_view(
            session, shopper.principal, shopper.order_id, preferred_language(request)
        )


async def _order_page(
    request: Request,
    shop: Shop,
    shopper: Shopper,
    *,
    status_code: int = 200,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    hub = get_hub(request)
    view = await _current(hub, request, shopper)
    t = texts(view.status.language)
    form = await csrf(hub, request)
    response = render(
        "order.html",
        t,
        here=shop.order_path,
        status_code=status_code,
        private=True,
        shop=shop,
        view=view,
        csrf=form.token,
        notice=notice,
        errors=errors or {},
        values=values or {},
        reasons=forms.reasons(t),
        live_url=f"{shop.order_path}/events?seen={view.version}",
    )
    form.keep(response, request)
    remember_language(response, request)
    return response


def _back_to_find(request: Request, shop: Shop) -> Response:
    gone = RedirectResponse(shop.path, status_code=303)
    if order_token(request) is not None:
        forget_order(gone, request, shop.slug)
    return gone


@router.get("/{slug}/order")
async def order(slug: Slug, request: Request) -> Response:
    """The shopper's order. Opened with ``?token=`` (the link in an e-mail), it moves the
    token into the order cookie and redirects to itself without it."""
    hub = get_hub(request)
    shop = await _shop(hub, slug)
    if shop is None:
        return _no_shop(request)
    link = request.query_params.get("token")
    if link is not None:
        shopper = await _verify(hub, shop, link)
        if shopper is None:
            t = _page_texts(request)
            return await _find_page(
                request,
                shop,
                status_code=401,
                notice=t(
                    "This link is not valid or has expired. Find your order with its number "
                    "and your e-mail address."
                ),
            )
        lang = request.query_params.get("lang")
        opened = RedirectResponse(
            shop.order_path + (f"?lang={lang}" if lang in SUPPORTED else ""), status_code=303
        )
        opened.headers["Referrer-Policy"] = "no-referrer"
        keep_order(opened, request, shop.slug, link)
        return opened
    shopper = await _shopper(hub, request, shop)
    if shopper is None:
        return _back_to_find(request, shop)
    return await _order_page(request, shop, shopper)


async def _acting(
    request: Request, slug: str
) -> tuple[Shop, Shopper, OrderView, dict[str, str]] | Response:
    """The shop, the shopper, their order now and the checked form of a POST on the
    order; or the page to answer with instead (no shop, no order, a bad form)."""
    hub = get_hub(request)
    shop = await _shop(hub, slug)
    if shop is None:
        return _no_shop(request)
    shopper = await _shopper(hub, request, shop)
    if shopper is None:
        return _back_to_find(request, shop)
    try:
        form = await forms.read_form(request)
    except forms.FormTooLarge:
        return _too_large(request, shop)
    view = await _current(hub, request, shopper)
    if not await csrf_valid(hub, request, form.get(CSRF_FIELD, "")):
        t = texts(view.status.language)
        return await _order_page(
            request,
            shop,
            shopper,
            status_code=403,
            notice=t("This form had expired. Please send it again."),
            values=form,
        )
    return shop, shopper, view, form


async def _refused(
    request: Request, shop: Shop, shopper: Shopper, t: Texts, error: ChannelhubError
) -> Response:
    """The order page again, saying why the process layer refused (and with its status)."""
    return await _order_page(
        request, shop, shopper, status_code=STATUS_OF_KIND[error.kind], notice=_explain(t, error)
    )


async def _apply(
    request: Request,
    shop: Shop,
    shopper: Shopper,
    t: Texts,
    form: dict[str, str],
    read: Callable[[], T],
    change: Callable[[AsyncSession, T], Awaitable[object]],
) -> Response:
    """A state-changing form: ``read`` checks it (its FormErrors: the page again, 422),
    ``change`` applies it in one transaction (a refusal: the page again, saying why);
    done, back to the order page."""
    try:
        data = read()
    except forms.FormErrors as exc:
        return await _order_page(
            request, shop, shopper, status_code=422, errors=exc.errors, values=form
        )
    try:
        async with get_hub(request).db.transaction() as session:
            await change(session, data)
    except ChannelhubError as exc:
        return await _refused(request, shop, shopper, t, exc)
    return RedirectResponse(shop.order_path, status_code=303)


@router.post("/{slug}/order/closure-choice")
async def choose(slug: Slug, request: Request) -> Response:
    """Ship home for free, collect at another store, or cancel with a full refund, after
    the pickup store closed."""
    acting = await _acting(request, slug)
    if isinstance(acting, Response):
        return acting
    shop, shopper, view, form = acting
    t = texts(view.status.language)
    return await _apply(
        request,
        shop,
        shopper,
        t,
        form,
        lambda: forms.closure_choice(t, form),
        lambda session, choice: closures.choose(
            session, shopper.principal, shopper.order_id, choice
        ),
    )


@router.post("/{slug}/order/returns")
async def start_return(slug: Slug, request: Request) -> Response:
    """Ask to return items that reached the shopper: units per line, a reason from the
    fixed list, and a note."""
    acting = await _acting(request, slug)
    if isinstance(acting, Response):
        return acting
    shop, shopper, view, form = acting
    t = texts(view.status.language)
    if not view.returnable:
        return await _order_page(
            request,
            shop,
            shopper,
            status_code=409,
            notice=t("Nothing on this order can be returned now."),
        )
    allowed = {line.line_id: line.most for line in view.returnable}
    return await _apply(
        request,
        shop,
        shopper,
        t,
        form,
        lambda: forms.return_request(t, form, allowed),
        lambda session, data: returns.request_return(
            session, shopper.principal, shopper.order_id, data
        ),
    )


@router.post("/{slug}/order/forget")
async def forget(slug: Slug, request: Request) -> Response:
    """Remove the order from this browser (a shared computer)."""
    acting = await _acting(request, slug)
    if isinstance(acting, Response):
        return acting
    return _back_to_find(request, acting[0])


@router.get("/{slug}/order/events")
async def order_events(slug: Slug, request: Request) -> Response:
    """Server-Sent Events: ``status`` events carrying the order page's live part whenever
    it changes (see live.py). 401 without a valid order cookie."""
    hub = get_hub(request)
    shop = await _shop(hub, slug)
    if shop is None:
        return PlainTextResponse("no shop at this address", status_code=404)
    shopper = await _shopper(hub, request, shop)
    if shopper is None:
        return PlainTextResponse("find your order first", status_code=401)
    streams = _live_streams(request)
    if not streams.has_room(shopper.order_id):
        return PlainTextResponse(
            "too many live pages open; reload the page to see the latest",
            status_code=429,
            headers={"Retry-After": "60"},
        )
    language = preferred_language(request)
    form = await csrf(hub, request)

    async def snapshot() -> tuple[OrderView, str]:
        async with hub.db.reader() as session:
            view = await order_view(session, shopper.principal, shopper.order_id, language)
        t = texts(view.status.language)
        html = fragment(
            "_order_live.html",
            t,
            here=shop.order_path,
            shop=shop,
            view=view,
            csrf=form.token,
            errors={},
            values={},
            reasons=forms.reasons(t),
        )
        return view, html

    seen = request.headers.get("last-event-id") or request.query_params.get("seen", "")
    response = StreamingResponse(
        live.stream(snapshot, seen[:64], streams, shopper.order_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    form.keep(response, request)
    return response


def _live_streams(request: Request) -> live.LiveStreams:
    """This process's open streams (one registry per app)."""
    state = request.app.state
    if not hasattr(state, "live_streams"):
        state.live_streams = live.LiveStreams(get_hub(request).settings.portal_live_streams)
    streams: live.LiveStreams = state.live_streams
    return streams


# --- stores -------------------------------------------------------------------------------


@router.get("/{slug}/stores")
async def store_finder(slug: Slug, request: Request) -> Response:
    """The shop's stores: open or closed now, today's and the week's hours, and a
    temporary closure with its expected end."""
    hub = get_hub(request)
    shop = await _shop(hub, slug)
    if shop is None:
        return _no_shop(request)
    t = _page_texts(request)
    here = f"{shop.path}/stores"
    try:
        page = PageRequest.from_cursor(request.query_params.get("cursor"), STORES_PER_PAGE)
    except InvalidError:
        return render(
            "message.html",
            t,
            here=here,
            status_code=422,
            shop=shop,
            title=t("Our stores"),
            message=t("This list of stores is out of date. Please start from the first page."),
            link=here,
        )
    async with hub.db.reader() as session:
        listing = await store_list(session, shop.tenant_id, page)
    response = render(
        "stores.html",
        t,
        here=here,
        shop=shop,
        listing=listing,
        next_url=f"{here}?cursor={listing.next_cursor}" if listing.next_cursor else None,
    )
    remember_language(response, request)
    return response
