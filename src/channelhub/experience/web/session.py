"""What the web pages keep in a browser, and how they trust a form.

The portal keeps three cookies, all HttpOnly, SameSite=Lax, and Secure when the page came
over https or the hub's public URL is https (behind a TLS-terminating proxy):

- the order cookie holds the signed order token (from a look-up or an e-mail link), scoped
  to the shop's portal path, so the token never sits in a URL after the first visit;
- the CSRF cookie holds a random nonce; each state-changing form carries an HMAC, under
  the installation's signing key, of that nonce and of the order cookie, so a site that
  can plant cookies (a sibling subdomain) still cannot forge the form field for someone
  else's order (a "signed double-submit cookie" bound to the session);
- the language cookie remembers a language picked with ``?lang=``.

The agent console (``/console``) keeps its session cookie (the agent's API key, sealed:
encrypted and authenticated under a key derived from the installation's signing key, and
expiring) and its own CSRF nonce, both SameSite=Strict under ``/console``; the customer's
rating page keeps a CSRF nonce under ``/helpdesk/rate`` bound to the rating link. Each
place has its own ``CsrfScope``: a token made for one is worth nothing in another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.responses import Response

from channelhub.experience.rest.deps import get_hub
from channelhub.experience.rest.tokens import ORDER_LINK_MAX_AGE
from channelhub.platform.i18n import SUPPORTED, negotiate
from channelhub.platform.runtime import Runtime
from channelhub.platform.signing import signing_key

ORDER_COOKIE = "chp_order"
CSRF_COOKIE = "chp_csrf"
LANGUAGE_COOKIE = "chp_lang"
CSRF_FIELD = "csrf_token"
PORTAL = "/portal"
CONSOLE = "/console"
CONSOLE_SESSION_COOKIE = "chc_session"
CONSOLE_CSRF_COOKIE = "chc_csrf"
CONSOLE_SESSION_MAX_AGE = 12 * 3600
"""Seconds an agent stays signed in to the console (a working day)."""
RATING = "/helpdesk/rate"
RATING_CSRF_COOKIE = "chr_csrf"
_CONSOLE_SEAL = b"channelhub.console-session"
_YEAR_S = 365 * 24 * 3600
SameSite = Literal["lax", "strict"]


def shop_path(slug: str) -> str:
    return f"{PORTAL}/{slug}"


def secure(request: Request) -> bool:
    """Cookies are Secure when the page came over https, or the hub's public URL is https
    (a TLS-terminating proxy in front)."""
    return request.url.scheme == "https" or get_hub(request).settings.public_url.startswith(
        "https://"
    )


def _set(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    path: str,
    max_age: int | None = None,
    samesite: SameSite = "lax",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite=samesite,
        secure=secure(request),
    )


def _delete(
    response: Response, request: Request, name: str, *, path: str, samesite: SameSite = "lax"
) -> None:
    response.delete_cookie(
        name, path=path, httponly=True, samesite=samesite, secure=secure(request)
    )


# --- the order ---------------------------------------------------------------------------


def order_token(request: Request) -> str | None:
    return request.cookies.get(ORDER_COOKIE) or None


def keep_order(response: Response, request: Request, slug: str, token: str) -> None:
    """Remember the shopper's order for this shop (as long as the token is valid)."""
    _set(response, request, ORDER_COOKIE, token, path=shop_path(slug), max_age=ORDER_LINK_MAX_AGE)


def forget_order(response: Response, request: Request, slug: str) -> None:
    _delete(response, request, ORDER_COOKIE, path=shop_path(slug))


# --- language ----------------------------------------------------------------------------


def chosen_language(request: Request) -> str | None:
    """A language picked explicitly with ``?lang=`` (one of the supported codes)."""
    value = request.query_params.get("lang", "").strip().lower()
    return value if value in SUPPORTED else None


def preferred_language(request: Request) -> str | None:
    """The language to answer in: ``?lang=``, then the remembered choice, then the
    browser's Accept-Language; None when none of them is supported (the order's own
    language applies then, else English)."""
    remembered = request.cookies.get(LANGUAGE_COOKIE, "")
    for candidate in (chosen_language(request), remembered if remembered in SUPPORTED else None):
        if candidate:
            return candidate
    header = request.headers.get("accept-language", "")
    if not header:
        return None
    found = negotiate(header)
    named = {tag.split(";")[0].strip().split("-")[0].lower() for tag in header.split(",")}
    return found if found in named else None


def remember_language(response: Response, request: Request) -> None:
    language = chosen_language(request)
    if language:
        _set(response, request, LANGUAGE_COOKIE, language, path=PORTAL, max_age=_YEAR_S)


# --- CSRF --------------------------------------------------------------------------------


async def signing_secret(hub: Runtime) -> bytes:
    """The installation's signing key (``CHANNELHUB_SECRET_KEY``, else the generated one)."""
    configured = hub.settings.secret_key
    secret = configured.get_secret_value() if configured else None
    async with hub.db.reader() as session:
        key = await signing_key(session, secret, create=False)
    if key is None:
        # First use on a fresh installation: the key is made (and committed) once.
        async with hub.db.transaction() as session:
            key = await signing_key(session, secret, create=True)
    assert key is not None
    return key.encode()


@dataclass(frozen=True)
class CsrfScope:
    """Where a CSRF nonce lives and what its form tokens are bound to."""

    cookie: str
    path: str
    purpose: bytes
    bound_to: Callable[[Request], str]
    """What else the token signs: the session (or link) the form acts for."""
    samesite: SameSite = "lax"


PORTAL_CSRF = CsrfScope(
    CSRF_COOKIE,
    PORTAL,
    b"channelhub.portal-csrf:",
    lambda request: request.cookies.get(ORDER_COOKIE, ""),
)
CONSOLE_CSRF = CsrfScope(
    CONSOLE_CSRF_COOKIE,
    CONSOLE,
    b"channelhub.console-csrf:",
    lambda request: request.cookies.get(CONSOLE_SESSION_COOKIE, ""),
    samesite="strict",
)
RATING_CSRF = CsrfScope(
    RATING_CSRF_COOKIE,
    RATING,
    b"channelhub.rating-csrf:",
    lambda request: request.url.path,
)
"""The rating page's comment form is bound to its own link (the token is in the path)."""


class Csrf:
    """The browser's CSRF nonce and the form token that proves a form came from us."""

    def __init__(self, nonce: str, token: str, *, fresh: bool, scope: CsrfScope) -> None:
        self.nonce = nonce
        self.token = token
        self.fresh = fresh
        self.scope = scope

    def keep(self, response: Response, request: Request) -> None:
        if self.fresh:
            scope = self.scope
            _set(
                response,
                request,
                scope.cookie,
                self.nonce,
                path=scope.path,
                samesite=scope.samesite,
            )


def _sign(key: bytes, nonce: str, request: Request, scope: CsrfScope) -> str:
    message = scope.purpose + nonce.encode() + b"\x00" + scope.bound_to(request).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


async def csrf(hub: Runtime, request: Request, scope: CsrfScope = PORTAL_CSRF) -> Csrf:
    """The browser's nonce (a new one when it has none) and its form token."""
    nonce = request.cookies.get(scope.cookie, "")
    fresh = len(nonce) != 43  # token_urlsafe(32)
    if fresh:
        nonce = secrets.token_urlsafe(32)
    token = _sign(await signing_secret(hub), nonce, request, scope)
    return Csrf(nonce, token, fresh=fresh, scope=scope)


async def csrf_valid(
    hub: Runtime, request: Request, submitted: str, scope: CsrfScope = PORTAL_CSRF
) -> bool:
    nonce = request.cookies.get(scope.cookie, "")
    if not nonce or not submitted:
        return False
    expected = _sign(await signing_secret(hub), nonce, request, scope)
    return hmac.compare_digest(expected, submitted)


# --- the console's session -----------------------------------------------------------------


def _sealer(secret: bytes) -> Fernet:
    derived = hmac.new(secret, _CONSOLE_SEAL, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


async def keep_agent(hub: Runtime, response: Response, request: Request, api_key: str) -> None:
    """Sign the agent in: their API key, sealed (encrypted and authenticated, so neither
    the browser's cookie store nor a log of Cookie headers shows it, and it cannot be
    altered), in a SameSite=Strict cookie that only the console's pages receive."""
    sealed = _sealer(await signing_secret(hub)).encrypt(api_key.encode()).decode()
    _set(
        response,
        request,
        CONSOLE_SESSION_COOKIE,
        sealed,
        path=CONSOLE,
        max_age=CONSOLE_SESSION_MAX_AGE,
        samesite="strict",
    )


async def agent_key(hub: Runtime, request: Request) -> str | None:
    """The signed-in agent's API key; None without a session, or with one that is forged,
    expired (CONSOLE_SESSION_MAX_AGE) or sealed under another signing key. The caller
    still authenticates the key: a revoked key ends every session made with it."""
    sealed = request.cookies.get(CONSOLE_SESSION_COOKIE, "")
    if not sealed:
        return None
    try:
        opened = _sealer(await signing_secret(hub)).decrypt(
            sealed.encode(), ttl=CONSOLE_SESSION_MAX_AGE
        )
    except (InvalidToken, ValueError):
        return None
    return opened.decode()


def forget_agent(response: Response, request: Request) -> None:
    _delete(response, request, CONSOLE_SESSION_COOKIE, path=CONSOLE, samesite="strict")
