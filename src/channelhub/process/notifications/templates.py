"""Message templates: sandboxed Jinja2 over the order-status Process API's result.

A message renders ``status`` — the same ``CustomerStatus`` that ``GET /v1/orders/{id}/status``
returns, in the order's language — so the e-mail says what the API says, word for word. The
few words of its own (greeting, link labels, footer) come from the ``notifications`` gettext
catalog beside this module. Built-in defaults word every notice on every channel in every
supported language; a tenant or brand may replace one (kind x channel x language).

Templates run in Jinja2's sandbox with ``StrictUndefined``: a misspelt variable is an error,
not an empty string. Tenants' templates are checked when saved — syntax first, then a render
against sample statuses of the notice's kind — so the error, with its line number, reaches
whoever wrote it instead of a customer.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import traceback
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from channelhub.platform.errors import InvalidError
from channelhub.platform.i18n import Texts
from channelhub.process.notifications import rules
from channelhub.process.notifications.schemas import Channel, Rendered
from channelhub.process.orders import schemas as orders
from channelhub.process.orders.timeline import NoticeKind
from channelhub.process.stores.schemas import StoreStatus

LOCALES = Path(__file__).parent / "locale"
DOMAIN = "notifications"

_SOURCE_NAME = "<template>"
"""The file name Jinja2 gives a template made from a string: how its frames are found."""


class TemplateInvalid(InvalidError):
    code = "template_invalid"


@dataclass(frozen=True)
class Body:
    subject: str
    text: str
    html: str


MAX_SIZE = 100_000
"""The longest string, list or number of characters a template may build with ``*``, the
largest ``range()``, and (in characters) the longest rendered part: a message is a few
kilobytes, and a template that builds more is a mistake or an attack on the event loop."""
MAX_POWER = 10**12
"""The largest result of ``**``."""


_STEPS: ContextVar[list[int] | None] = ContextVar("template_steps", default=None)
"""Loop iterations left to the template being rendered."""


class _Generator(CodeGenerator):
    """Every ``~`` concatenation goes through ``environment.bounded`` (Jinja2 offers no
    hook for it), so doubling a string in a loop stops at the cap."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded(")
        super().visit_Concat(node, frame)
        self.write(")")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # Every loop draws on one budget per render: nested loops cannot multiply.
        if not getattr(node, "counted", False):
            node.iter = nodes.Call(
                nodes.EnvironmentAttribute("counted"), [node.iter], [], None, None
            )
            node.counted = True  # type: ignore[attr-defined]
        super().visit_For(node, frame)


_WIDE = re.compile(r"%[-#0 +]*(\*|\d{4,})|%[-#0 +]*\d*\.(\*|\d{4,})|\{[^{}]*:[^{}]*\d{4,}")
"""A %-format or str.format field asking for a width or precision of 1000 or more."""
_WIDTH_FILTERS = ("center", "indent", "wordwrap", "truncate", "batch", "slice")


class _Bounded(SandboxedEnvironment):
    """Jinja2's sandbox, bounded so that no template can hold the event loop or its memory
    for long: ``*`` and ``**`` are checked before they run (``'a' * 10**8`` would allocate
    for seconds), ``~`` and ``+`` results are capped, ``range()`` is capped, format widths
    and the width arguments of filters are limited, and (in ``_render_part``) so is what
    a template writes."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _Generator

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _range
        for name in _WIDTH_FILTERS:
            self.filters[name] = _narrow(self.filters[name])
        self.filters["format"] = _checked_format(self.filters["format"])

    def bounded(self, value: Any) -> Any:
        return _capped(value)

    def counted(self, iterable: Any) -> Iterator[Any]:
        budget = _STEPS.get()
        if budget is None:  # rendered outside _render_part: a budget of its own
            budget = [MAX_SIZE]
        for value in iterable:
            budget[0] -= 1
            if budget[0] < 0:
                raise SecurityError(f"a template may loop at most {MAX_SIZE} times")
            yield value

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        _check_format(value.__self__)
        sandboxed = wrapped

        def bounded(*args: Any, **kwargs: Any) -> str:
            result: str = _capped(sandboxed(*args, **kwargs))
            return result

        return bounded

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if _is_number(left) and _is_number(right) and abs(right) > 64 and abs(left) > 1:
                raise SecurityError(f"a power over {MAX_POWER} is not allowed")
            result = left**right
            if _is_number(result) and abs(result) > MAX_POWER:
                raise SecurityError(f"a power over {MAX_POWER} is not allowed")
            return result
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple | bytes)
                    and isinstance(times, int)
                    and len(sequence) * max(times, 0) > MAX_SIZE
                ):
                    raise SecurityError(f"a repeat longer than {MAX_SIZE} is not allowed")
        if operator == "%" and isinstance(left, str):
            _check_format(left)
        return _capped(super().call_binop(context, operator, left, right))


def _capped(value: Any) -> Any:
    if isinstance(value, str | list | tuple | bytes) and len(value) > MAX_SIZE:
        raise SecurityError(f"a value longer than {MAX_SIZE} is not allowed")
    return value


def _check_format(text: str) -> None:
    if _WIDE.search(text):
        raise SecurityError("a format width or precision of 1000 or more is not allowed")


def _narrow(original: Callable[..., Any]) -> Callable[..., Any]:
    """A width-taking filter that refuses widths (and counts) over 1000."""

    @functools.wraps(original)
    def narrow(*args: Any, **kwargs: Any) -> Any:
        if any(_is_number(a) and abs(a) > 1000 for a in (*args[1:], *kwargs.values())):
            raise SecurityError("a filter width over 1000 is not allowed")
        return _capped(original(*args, **kwargs))

    return narrow


def _checked_format(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def checked(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            _check_format(value)
        return _capped(original(value, *args, **kwargs))

    return checked


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _range(*args: int) -> range:
    found = range(*args)
    if len(found) > MAX_SIZE:
        raise SecurityError(f"a range longer than {MAX_SIZE} is not allowed")
    return found


def _environment(*, html: bool) -> SandboxedEnvironment:
    return _Bounded(
        undefined=StrictUndefined, autoescape=html, trim_blocks=True, lstrip_blocks=True
    )


_TEXT = _environment(html=False)
_HTML = _environment(html=True)


@functools.lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    return (_HTML if html else _TEXT).from_string(source)


def _line(exc: BaseException) -> int | None:
    """The template line a render error happened on (Jinja2 rewrites tracebacks so the
    template's own lines appear as frames of ``<template>``)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == _SOURCE_NAME:
            return frame.lineno
    return None


def _invalid(part: str, message: str, line: int | None) -> TemplateInvalid:
    where = f"line {line}: " if line is not None else ""
    return TemplateInvalid(f"{part} template, {where}{message}", field=part, line=line)


def _compile(part: str, source: str) -> Template:
    try:
        return _compiled(source, part == "html")
    except TemplateSyntaxError as exc:
        raise _invalid(part, exc.message or "syntax error", exc.lineno) from exc


def _render_part(part: str, source: str, context: dict[str, Any]) -> str:
    template = _compile(part, source)
    try:
        # Rendered piece by piece, so a loop that writes too much stops at the cap.
        pieces: list[str] = []
        size = 0
        steps = _STEPS.set([MAX_SIZE])
        try:
            for piece in template.generate(context):
                size += len(piece)
                if size > MAX_SIZE:
                    raise SecurityError(f"the rendered {part} is longer than {MAX_SIZE} characters")
                pieces.append(piece)
        finally:
            _STEPS.reset(steps)
        return "".join(pieces)
    except Exception as exc:
        # Anything a template does wrong surfaces here (an undefined name, a sandbox
        # refusal, 1/0, "a" + 1): it is the template's fault, reported as such.
        raise _invalid(part, str(exc) or type(exc).__name__, _line(exc)) from exc


def render_text(part: str, source: str, context: dict[str, Any]) -> str:
    """One text template, bounded like every customer message; ``TemplateInvalid`` names
    ``part`` (the input field at fault) and the line."""
    return _render_part(part, source, context)


def render(body: Body, context: dict[str, Any]) -> Rendered:
    """The message; ``TemplateInvalid`` (naming the part and line) if the template fails.
    A subject is one line whatever the template's whitespace."""
    return Rendered(
        subject=" ".join(_render_part("subject", body.subject, context).split()),
        text=_render_part("text", body.text, context).strip() + "\n",
        html=_render_part("html", body.html, context) if body.html else "",
    )


def check(kind: NoticeKind, channel: Channel, body: Body, language: str) -> None:
    """Refuse a template that cannot work: a part the channel has no use for or lacks, a
    syntax error, or an error rendering any shape of status the notice can come with."""
    if channel is Channel.sms and body.subject:
        raise TemplateInvalid("an SMS has no subject; leave it empty", field="subject")
    if channel is not Channel.sms and not body.subject.strip():
        raise TemplateInvalid(f"a {channel.value} message needs a subject", field="subject")
    if channel is not Channel.email and body.html:
        raise TemplateInvalid("only e-mails have an HTML part; leave it empty", field="html")
    for part in ("subject", "text", "html"):
        _compile(part, getattr(body, part))
    for status in samples(kind, language):
        render(body, sample_context(kind, status))


# --- words and context ------------------------------------------------------------------


def words(language: str, *, name: str, number: str, shop: str) -> dict[str, str]:
    """The catalog's words, in ``language``, that templates may use as ``words.<key>``."""
    t = Texts(LOCALES, DOMAIN, language)
    return {
        "greeting": t("Hello {name},", name=name) if name else t("Hello,"),
        "thanks": t("Thank you for your order."),
        "choices": t("What would you like us to do?"),
        "track": t("Track your parcel"),
        "view_order": t("View your order"),
        "unsubscribe": t("Unsubscribe"),
        "footer": t(
            "You receive this message about your order {number} from {shop}.",
            number=number,
            shop=shop,
        ),
    }


def unsubscribe_words(language: str, *, shop: str) -> dict[str, str]:
    """The unsubscribe page's words, in the language of the e-mail it came from."""
    t = Texts(LOCALES, DOMAIN, language)
    return {
        "question": t("Stop e-mails about your orders from {shop}?", shop=shop),
        "button": t("Unsubscribe"),
        "done": t("You will no longer receive e-mails about your orders from {shop}.", shop=shop),
    }


def context(
    *,
    notice: NoticeKind,
    status: orders.CustomerStatus,
    customer_name: str,
    shop: str,
    order_url: str | None,
    unsubscribe_url: str | None,
) -> dict[str, Any]:
    """Everything a template sees (documented in docs/notifications.md)."""
    return {
        "notice": notice.value,
        "status": status.model_dump(mode="json"),
        "customer": {"name": customer_name},
        "shop": {"name": shop},
        "links": {"order": order_url, "unsubscribe": unsubscribe_url},
        "words": words(status.language, name=customer_name, number=status.number, shop=shop),
    }


# --- built-in defaults ------------------------------------------------------------------

_EMAIL_TEXT = """\
{{ words.greeting }}

{% if notice == "order_confirmed" %}
{{ words.thanks }}
{% endif %}
{{ status.headline }}
{{ status.next_step }}
{% if notice == "store_closed" and status.actions %}

{{ words.choices }}
{% for action in status.actions %}
- {{ action.label }}
{% endfor %}
{% endif %}
{% for shipment in status.shipments if shipment.tracking_url %}

{{ words.track }} ({{ shipment.carrier }} {{ shipment.tracking_number }}): \
{{ shipment.tracking_url }}
{% endfor %}
{% if links.order %}

{{ words.view_order }}: {{ links.order }}
{% endif %}

--
{{ words.footer }}
{% if links.unsubscribe %}
{{ words.unsubscribe }}: {{ links.unsubscribe }}
{% endif %}
"""

_EMAIL_HTML = """\
<!doctype html>
<html lang="{{ status.language }}">
<body style="font-family: sans-serif; line-height: 1.5; max-width: 40em">
<p>{{ words.greeting }}</p>
{% if notice == "order_confirmed" %}
<p>{{ words.thanks }}</p>
{% endif %}
<h1 style="font-size: 1.3em">{{ status.headline }}</h1>
<p>{{ status.next_step }}</p>
{% if notice == "store_closed" and status.actions %}
<p>{{ words.choices }}</p>
<ul>
{% for action in status.actions %}
<li>{{ action.label }}</li>
{% endfor %}
</ul>
{% endif %}
{% for shipment in status.shipments if shipment.tracking_url %}
<p><a href="{{ shipment.tracking_url }}">{{ words.track }}</a> \
({{ shipment.carrier }} {{ shipment.tracking_number }})</p>
{% endfor %}
{% if links.order %}
<p><a href="{{ links.order }}">{{ words.view_order }}</a></p>
{% endif %}
<hr>
<p style="font-size: 0.8em; color: #666">{{ words.footer }}
{% if links.unsubscribe %}
<a href="{{ links.unsubscribe }}">{{ words.unsubscribe }}</a>
{% endif %}
</p>
</body>
</html>
"""

_DEFAULTS = {
    Channel.email: Body(subject="{{ status.headline }}", text=_EMAIL_TEXT, html=_EMAIL_HTML),
    Channel.sms: Body(
        subject="",
        text="{{ status.headline }} {{ status.next_step }}"
        "{% if links.order %} {{ links.order }}{% endif %}",
        html="",
    ),
    Channel.push: Body(subject="{{ status.headline }}", text="{{ status.next_step }}", html=""),
}


def default(channel: Channel) -> Body:
    """The built-in template of a channel: it words every notice kind, in every language,
    because what it says comes from the status and the catalog."""
    return _DEFAULTS[channel]


# --- samples ----------------------------------------------------------------------------

_PICKUP_KINDS = {NoticeKind.ready_for_pickup, NoticeKind.store_closed}
_SHIPPING_KINDS = {
    NoticeKind.shipped,
    NoticeKind.out_for_delivery,
    NoticeKind.delivery_exception,
    NoticeKind.delivered,
}
_EITHER_KINDS = {
    NoticeKind.order_confirmed,
    NoticeKind.closure_resolved,
    NoticeKind.return_received,
    NoticeKind.refund_issued,
}
_SAMPLE_TIME = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)


def _store() -> orders.PickupView:
    status = StoreStatus(
        location_id="loc_sample",
        code="ST-PORTO",
        name="Porto store",
        state="open",
        open_now=True,
        opens_at=None,
        closes_at=None,
        today=[],
        timezone="Europe/Lisbon",
        closed_reason=None,
        closed_since=None,
        reopens_at=None,
    )
    return orders.PickupView(
        location_id="loc_sample", name="Porto store", address="Rua 1, Porto", status=status
    )


def _shipment() -> orders.ShipmentView:
    return orders.ShipmentView(
        id="shp_sample",
        carrier="ups",
        service="standard",
        tracking_number="1Z999",
        tracking_url="https://carrier.example/track/1Z999",
        status=orders.TrackingStatus.in_transit,
        status_text="In transit",
        estimated_delivery=_SAMPLE_TIME.date(),
        events=[
            orders.TrackingEventView(
                status=orders.TrackingStatus.in_transit,
                text="In transit",
                carrier_text="Departed facility",
                location="Lisboa",
                occurred_at=_SAMPLE_TIME,
            )
        ],
    )


_NOT_PICKUP = frozenset(
    {"shipped", "partially_shipped", "out_for_delivery", "delivery_attempt_failed"}
    | {"at_pickup_point", "delivery_problem", "delivered"}
)
_NOT_SHIPPED = frozenset({"ready_for_pickup", "action_needed", "picked_up"})


def samples(kind: NoticeKind, language: str) -> list[orders.CustomerStatus]:
    """Statuses of every shape a notice of ``kind`` can meet: with a pickup store, with
    shipments, or with neither, each with every real status code the notice can still be
    sent in (``rules.STILL_TRUE``) that fits the shape; a store closure comes with the
    customer's choices. The first is the preview's sample."""
    shapes: list[tuple[bool, bool]] = []  # (pickup, shipments)
    if kind in _PICKUP_KINDS or kind in _EITHER_KINDS:
        shapes.append((True, False))
    if kind in _SHIPPING_KINDS or kind in _EITHER_KINDS:
        shapes.append((False, True))
    if not shapes or kind in _EITHER_KINDS:
        shapes.append((False, False))
    actions = (
        [
            orders.Action(action="choose_ship_home", label="Deliver to my home for free"),
            orders.Action(action="choose_other_store", label="Pick up at another store", stores=[]),
            orders.Action(action="cancel", label="Cancel and refund me in full"),
        ]
        if kind is NoticeKind.store_closed
        else []
    )
    codes = sorted(rules.STILL_TRUE[kind])
    return [
        orders.CustomerStatus(
            order_id="ord_sample",
            number="NW-1001",
            language=language,
            code=code,
            headline="Your order NW-1001 is ready for pickup at Porto store.",
            next_step="Collect it at Rua 1, Porto. Bring your order number.",
            eta=_SAMPLE_TIME.date() if shipments else None,
            eta_text="Tuesday, 1 December 2026" if shipments else None,
            order_status=orders.OrderStatus.confirmed,
            payment_status=orders.PaymentStatus.paid,
            pickup=_store() if pickup else None,
            shipments=[_shipment()] if shipments else [],
            actions=actions,
            updated_at=_SAMPLE_TIME,
        )
        for pickup, shipments in shapes
        for code in codes
        if not (pickup and code in _NOT_PICKUP) and not (shipments and code in _NOT_SHIPPED)
    ]


def sample_context(kind: NoticeKind, status: orders.CustomerStatus) -> dict[str, Any]:
    return context(
        notice=kind,
        status=status,
        customer_name="Ana Silva",
        shop="Northwind",
        order_url="https://shop.example/order?token=sample",
        unsubscribe_url="https://hub.example/v1/self-service/unsubscribe?token=sample",
    )
