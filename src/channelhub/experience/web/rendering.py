"""Pages: Jinja2 templates beside this module, the portal's own words from its gettext
catalog (``locale/<language>/LC_MESSAGES/portal.po``), and the headers every page carries.

Order texts (headline, next step, action labels, tracking) come translated from the
process layer and are rendered verbatim; only the portal's frame (labels, buttons, form
errors) is worded here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time, get_day_names
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from channelhub.platform.clock import utc_now
from channelhub.platform.i18n import SUPPORTED, Texts

HERE = Path(__file__).parent
LOCALES = HERE / "locale"
DOMAIN = "portal"
LANGUAGE_NAMES = {
    "en": "English",
    "pt": "Português",
    "es": "Español",
    "it": "Italiano",
    "cs": "Čeština",
}
"""Each language named in itself, for the switcher."""
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""No inline script or style, no framing, and no Referer that could carry a link token."""

_MEDIA = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def texts(language: str) -> Texts:
    return Texts(LOCALES, DOMAIN, language)


def local_when(t: Texts, value: datetime, timezone: str) -> str:
    """A UTC instant on the store's wall clock, in the page's language: the time alone
    when it falls on the store's today ("18:00"), else the date and time."""
    zone = ZoneInfo(timezone)
    local = value.astimezone(zone)
    if local.date() == utc_now().astimezone(zone).date():
        return format_time(local, format="short", locale=t.language)
    return format_datetime(local, format="medium", locale=t.language)


def moment(t: Texts, value: datetime) -> str:
    """A UTC instant with its date, in the page's language (tracking scans)."""
    return format_datetime(value, format="medium", tzinfo=UTC, locale=t.language)


def weekday_names(t: Texts) -> dict[str, str]:
    """monday..sunday -> the day's name in the page's language."""
    names = get_day_names("wide", locale=t.language)
    return {day: names[index] for index, day in enumerate(WEEKDAYS)}


def render(
    template: str,
    t: Texts,
    *,
    here: str,
    status_code: int = 200,
    private: bool = False,
    **context: Any,
) -> HTMLResponse:
    """The page; ``private`` pages (anything about an order) are never stored by caches."""
    html = fragment(template, t, here=here, **context)
    headers = {
        **SECURITY_HEADERS,
        "Cache-Control": "no-store" if private else "no-cache",
        "Content-Language": t.language,
        "Vary": "Cookie, Accept-Language",
    }
    return HTMLResponse(html, status_code=status_code, headers=headers)


def fragment(template: str, t: Texts, *, here: str, **context: Any) -> str:
    """A template rendered to a string (a whole page, or the live part of one). ``here``
    is the page's own address, which the language switcher links to."""
    languages = [
        {"code": code, "name": LANGUAGE_NAMES[code], "url": f"{here}?lang={code}"}
        for code in SUPPORTED
    ]
    return _templates.get_template(template).render(
        t=t,
        lang=t.language,
        here=here,
        languages=languages,
        local_when=lambda value, zone: local_when(t, value, zone),
        moment=lambda value: moment(t, value),
        day_names=weekday_names(t),
        **context,
    )


def static_files(*names: str) -> dict[str, tuple[bytes, str]]:
    """Files of ``static/`` read once, to be served from memory: small files that change
    only with a release (no CDN, nothing from elsewhere)."""
    return {
        name: ((HERE / "static" / name).read_bytes(), _MEDIA[Path(name).suffix]) for name in names
    }


def static_response(files: dict[str, tuple[bytes, str]], name: str) -> Response:
    found = files.get(name)
    if found is None:
        return PlainTextResponse("not found", status_code=404)
    body, media = found
    return Response(
        body,
        media_type=media,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
