"""Templates: the defaults word every notice everywhere; a tenant's mistakes are caught
when saving, with the line; HTML is escaped, text is not; the sandbox holds."""

from __future__ import annotations

import time

import pytest

from channelhub.platform.i18n import SUPPORTED
from channelhub.process.notifications import templates
from channelhub.process.notifications.schemas import Channel
from channelhub.process.notifications.templates import Body, TemplateInvalid
from channelhub.process.orders.timeline import NoticeKind


@pytest.mark.parametrize("channel", list(Channel), ids=str)
@pytest.mark.parametrize("kind", list(NoticeKind), ids=str)
def test_the_default_of_every_channel_words_every_kind_in_every_language(
    kind: NoticeKind, channel: Channel
) -> None:
    for language in SUPPORTED:
        for status in templates.samples(kind, language):
            rendered = templates.render(
                templates.default(channel), templates.sample_context(kind, status)
            )
            assert status.headline in (
                rendered.subject if channel is not Channel.sms else rendered.text
            )
            assert status.next_step in rendered.text
            assert bool(rendered.html) == (channel is Channel.email)


def test_the_catalog_words_are_in_the_customer_language() -> None:
    status = templates.samples(NoticeKind.store_closed, "cs")[0]

    text = templates.render(
        templates.default(Channel.email), templates.sample_context(NoticeKind.store_closed, status)
    ).text

    assert text.startswith("Dobrý den, Ana Silva,\n")
    assert "Co pro Vás máme udělat?\n- Deliver to my home for free\n" in text
    assert "Tuto zprávu dostáváte k Vaší objednávce NW-1001 od Northwind." in text


@pytest.mark.parametrize(
    ("body", "part", "line", "words"),
    [
        pytest.param(
            Body("Hi", "Hello\n{{ status.headline }\n", ""),
            "text",
            2,
            "unexpected '}'",
            id="syntax",
        ),
        pytest.param(
            Body("Hi", "a", "<p>\n{% if status.code %}\n</p>"),
            "html",
            3,
            "Unexpected end of template",
            id="unclosed-block",
        ),
        pytest.param(
            Body("{{ staus.headline }}", "a", ""), "subject", 1, "'staus' is undefined", id="typo"
        ),
        pytest.param(
            Body("Hi", "one\ntwo\n{{ status.pickup.name }}", ""),
            "text",
            3,
            "'None' has no attribute 'name'",
            id="no-pickup-when-shipped",
        ),
        pytest.param(
            Body("Hi", "{{ words.__class__.__mro__ }}", ""),
            "text",
            1,
            "unsafe",
            id="sandbox",
        ),
    ],
)
def test_a_broken_template_is_refused_naming_the_part_and_line(
    body: Body, part: str, line: int, words: str
) -> None:
    with pytest.raises(TemplateInvalid) as caught:
        templates.check(NoticeKind.shipped, Channel.email, body, "en")

    assert caught.value.field == part
    assert caught.value.extra == {"line": line}
    assert f"{part} template, line {line}: " in caught.value.detail
    assert words in caught.value.detail


@pytest.mark.parametrize(
    ("channel", "body", "part"),
    [
        pytest.param(Channel.sms, Body("Hi", "a", ""), "subject", id="sms-has-no-subject"),
        pytest.param(Channel.push, Body("", "a", ""), "subject", id="push-needs-a-title"),
        pytest.param(Channel.sms, Body("", "a", "<p>a</p>"), "html", id="sms-has-no-html"),
    ],
)
def test_parts_a_channel_cannot_carry_are_refused(channel: Channel, body: Body, part: str) -> None:
    with pytest.raises(TemplateInvalid) as caught:
        templates.check(NoticeKind.shipped, channel, body, "en")

    assert caught.value.field == part


def test_html_escapes_what_it_shows_and_text_does_not() -> None:
    status = templates.samples(NoticeKind.order_confirmed, "en")[0]
    context = templates.context(
        notice=NoticeKind.order_confirmed,
        status=status,
        customer_name="<b>Ana</b> & Bo",
        shop="Northwind",
        order_url=None,
        unsubscribe_url=None,
    )

    rendered = templates.render(
        Body("{{ customer.name }}", "{{ customer.name }}", "{{ customer.name }}"), context
    )

    assert (rendered.subject, rendered.text, rendered.html) == (
        "<b>Ana</b> & Bo",
        "<b>Ana</b> & Bo\n",
        "&lt;b&gt;Ana&lt;/b&gt; &amp; Bo",
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        pytest.param("{{ 'a' * 10**8 }}", "a repeat longer than 100000", id="repeat"),
        pytest.param("{{ [0] * 10**9 }}", "a repeat longer than 100000", id="list-repeat"),
        pytest.param("{{ 9 ** 9 ** 9 }}", "a power over", id="power"),
        pytest.param("{{ range(10**9)|list }}", "a range longer than 100000", id="range"),
        pytest.param(
            "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
            "may loop at most 100000 times",
            id="nested-ranges",
        ),
        pytest.param(
            "{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "a value longer than 100000",
            id="doubling",
        ),
        pytest.param("{{ 'x'|center(10**9) }}", "a filter width over 1000", id="center"),
        pytest.param("{{ '%0999999999d' % 1 }}", "format width", id="percent-width"),
        pytest.param("{{ '{:>999999999}'.format(1) }}", "format width", id="format-width"),
        pytest.param(
            "{% for i in range(9000) %}{{ status.headline }}{% endfor %}",
            "longer than 100000 characters",
            id="output",
        ),
    ],
)
def test_a_template_that_would_freeze_the_hub_is_refused_at_once(text: str, why: str) -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateInvalid) as caught:
        templates.check(NoticeKind.shipped, Channel.sms, Body(subject="", text=text, html=""), "en")

    assert why in caught.value.detail
    assert time.perf_counter() - started < 1.0


def test_ordinary_arithmetic_and_loops_still_work() -> None:
    body = Body(
        subject="",
        text="{{ 'ab' * 2 }} {{ 2 ** 10 }} {{ range(3)|list }} {{ 'a' ~ 'b' }} "
        "{{ '%05d'|format(42) }} {{ 'x'|center(5) }}|{% for s in status.shipments %}"
        "{{ s.carrier }}{% endfor %}",
        html="",
    )
    status = templates.samples(NoticeKind.shipped, "en")[0]

    rendered = templates.render(body, templates.sample_context(NoticeKind.shipped, status))

    assert rendered.text == "abab 1024 [0, 1, 2] ab 00042   x  |ups\n"
