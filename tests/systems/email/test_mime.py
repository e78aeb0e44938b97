"""Parsing inbound mail: what a customer sent, whatever shape it arrived in."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channelhub.systems.email.mime import Attachment, ParsedMail, new_text, parse

CAP = 1_000


def mail(headers: str, body: bytes | str = b"Hello\r\n") -> bytes:
    head = headers.strip("\n").replace("\n", "\r\n").encode()
    data = body.encode() if isinstance(body, str) else body
    return head + b"\r\n\r\n" + data


HEADERS = """From: Ana Silva <ana@example.com>
To: help@shop.example
Subject: Where is my order?
Date: Mon, 3 Mar 2025 10:00:00 +0100
Message-ID: <m1@example.com>"""

ALTERNATIVE_WITH_ATTACHMENTS = """From: "Silva, Ana" <Ana.Silva@Example.COM>
To: Help <HELP@shop.example>, orders@shop.example
Cc: boss@example.com, not an address
Reply-To: ana+replies@example.com
Subject: Order NW-1
Date: Mon, 3 Mar 2025 10:00:00 +0100
Message-ID: <m1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="MIXED"

--MIXED
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Dobr=C3=BD den, where is order NW-1? The invoice is attached, and a very long=
 line is joined.
--ALT
Content-Type: multipart/related; boundary="REL"

--REL
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+RG9icsO9IGRlbiwgd2hlcmUgaXMgPGI+b3JkZXI8L2I+IE5XLTE/PC9wPjxpbWcgc3JjPSJj
aWQ6bG9nbyI+
--REL
Content-Type: image/png
Content-ID: <logo>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--REL--
--ALT--
--MIXED
Content-Type: application/pdf; name="ignored.pdf"
Content-Disposition: attachment; filename*=utf-8''fa%C4%8Dtura%20NW-1.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--MIXED--
"""


def test_a_multipart_alternative_message_with_attachments_is_read_whole() -> None:
    parsed = parse(
        ALTERNATIVE_WITH_ATTACHMENTS.replace("\n", "\r\n").encode(), max_attachment_bytes=CAP
    )

    assert parsed == ParsedMail(
        message_id="<m1@example.com>",
        in_reply_to="",
        references=[],
        from_address="ana.silva@example.com",
        from_name="Silva, Ana",
        to=["help@shop.example", "orders@shop.example"],
        cc=["boss@example.com"],
        reply_to=["ana+replies@example.com"],
        subject="Order NW-1",
        date=datetime(2025, 3, 3, 9, 0, tzinfo=UTC),
        text=(
            "Dobrý den, where is order NW-1? The invoice is attached, and a very long line"
            " is joined."
        ),
        html='<p>Dobrý den, where is <b>order</b> NW-1?</p><img src="cid:logo">',
        attachments=[
            Attachment("", "image/png", 8, b"\x89PNG\r\n\x1a\n", too_large=False),
            Attachment("fačtura NW-1.pdf", "application/pdf", 9, b"%PDF-1.4\n", too_large=False),
        ],
        defects=[],
    )


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        pytest.param("=?utf-8?B?T2JqZWRuw6F2a2EgxI0uIDQy?=", "Objednávka č. 42", id="utf8-base64"),
        pytest.param(
            "Re: =?UTF-8?Q?Obj=C3=A9dn=C3=A1vka?= 42", "Re: Objédnávka 42", id="utf8-q-with-text"
        ),
        pytest.param(
            "=?iso-8859-2?Q?P=F8=EDli=B9_=BElu=BBou=E8k=FD_k=F9=F2?=",
            "Příliš žluťoučký kůň",
            id="iso-8859-2-czech",
        ),
        pytest.param(
            # One letter (č, C4 8D) split across two words, white space between them dropped.
            "=?utf-8?B?xA==?=\n =?utf-8?B?jSBhIMWZ?=",
            "č a ř",
            id="letter-split-across-words",
        ),
        pytest.param(
            "=?iso-8859-2?q?=E8?= =?utf-8?q?=C3=A9?= x", "čé x", id="two-charsets-adjacent"
        ),
        pytest.param("Your\n\torder   shipped", "Your order shipped", id="folded-one-line"),
    ],
)
def test_rfc2047_subjects_are_decoded_to_one_line(subject: str, expected: str) -> None:
    raw = mail(
        "From: a@example.com\nMessage-ID: <s@x>\nDate: Mon, 3 Mar 2025 10:00:00 +0000\n"
        f"Subject: {subject}"
    )

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert (parsed.subject, parsed.defects) == (expected, [])


def test_a_broken_encoded_word_is_shown_as_sent() -> None:
    parsed = parse(
        mail(f"{HEADERS}\nCc: x@y.z").replace(b"Where is my order?", b"=?utf-8?B?A?= ok"),
        max_attachment_bytes=CAP,
    )

    assert parsed.subject == "=?utf-8?B?A?= ok"
    assert parsed.defects == ["an encoded word in the Subject is broken; shown as sent"]


def test_an_unknown_charset_is_read_as_utf8_with_replacements() -> None:
    raw = mail(
        f"{HEADERS}\nContent-Type: text/plain; charset=x-unknown",
        "Olá, encomenda nº 7 ".encode() + b"\xff",
    )

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert parsed.text == "Olá, encomenda nº 7 \ufffd"
    assert parsed.defects == [
        "unknown charset x-unknown in the text/plain part, decoded as UTF-8 with replacements"
    ]


@pytest.mark.parametrize(
    ("charset", "body", "expected", "defects"),
    [
        pytest.param("windows-1250", b"P\xf8\xedli\x9a", "Příliš", [], id="declared-charset"),
        pytest.param(
            "iso-8859-1", b"\x93quoted\x94", "\u201cquoted\u201d", [], id="latin1-read-as-cp1252"
        ),
        pytest.param("us-ascii", "Dobrý".encode(), "Dobrý", [], id="utf8-mislabelled-ascii"),
        pytest.param(
            None,
            b"Caf\xe9",
            "Café",
            ["8-bit text in the text/plain part has no charset; decoded as Windows-1252"],
            id="no-charset-not-utf8",
        ),
        pytest.param(
            "utf-8",
            b"ok \xe9 ok",
            "ok \ufffd ok",
            ["the text/plain part is not valid utf-8; undecodable bytes replaced"],
            id="invalid-for-its-charset",
        ),
        pytest.param(
            "base64",
            b"abc",
            "abc",
            ["unknown charset base64 in the text/plain part, decoded as UTF-8"],
            id="not-a-text-codec",
        ),
    ],
)
def test_body_charsets(charset: str | None, body: bytes, expected: str, defects: list[str]) -> None:
    content_type = f"text/plain; charset={charset}" if charset else "text/plain"
    raw = mail(f"{HEADERS}\nContent-Type: {content_type}\nContent-Transfer-Encoding: 8bit", body)

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert (parsed.text, parsed.defects) == (expected, defects)


@pytest.mark.parametrize(
    ("encoding", "body", "expected", "defects"),
    [
        pytest.param(
            "base64",
            "Hello there, not base64 at all!",
            "Hello there, not base64 at all!",
            ["a part labelled base64 is not base64; kept as sent"],
            id="plain-text-labelled-base64",
        ),
        pytest.param(
            "x-compressed",
            "as sent",
            "as sent",
            ["unknown transfer encoding 'x-compressed'; the part is kept as sent"],
            id="unknown-encoding",
        ),
    ],
)
def test_wrong_transfer_encodings_are_reported(
    encoding: str, body: str, expected: str, defects: list[str]
) -> None:
    raw = mail(f"{HEADERS}\nContent-Transfer-Encoding: {encoding}", body)

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert (parsed.text, parsed.defects) == (expected, defects)


WRONG_BOUNDARY = """{headers}
Content-Type: multipart/mixed;{boundary}

--real
Content-Type: text/plain

The body.
--real
Content-Type: text/csv
Content-Disposition: attachment; filename="order.csv"

id,qty
--real--
"""


@pytest.mark.parametrize(
    ("boundary", "parser_defect"),
    [
        pytest.param(' boundary="wrong"', "The claimed start boundary was never found", id="wrong"),
        pytest.param(
            "", "A message claimed to be a multipart but had no boundary parameter", id="missing"
        ),
    ],
)
def test_a_wrong_or_missing_boundary_is_recovered_from_the_body(
    boundary: str, parser_defect: str
) -> None:
    raw = WRONG_BOUNDARY.format(headers=HEADERS, boundary=boundary).replace("\n", "\r\n")

    parsed = parse(raw.encode(), max_attachment_bytes=CAP)

    assert parsed.text == "The body."
    assert parsed.attachments == [
        Attachment("order.csv", "text/csv", 6, b"id,qty", too_large=False)
    ]
    assert parsed.defects == [
        parser_defect,
        "A message claimed to be a multipart but no subparts were found",
        "the boundary of a multipart/mixed part was recovered from its body",
    ]


def test_a_multipart_without_any_delimiter_is_shown_as_sent() -> None:
    raw = mail(f"{HEADERS}\nContent-Type: multipart/mixed", "No parts here,\njust text.")

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert parsed.text == "No parts here,\njust text."
    assert parsed.defects == [
        "A message claimed to be a multipart but had no boundary parameter",
        "A message claimed to be a multipart but no subparts were found",
        "a multipart/mixed part has no usable boundary; shown as sent",
    ]


SCRIPTED_HTML = """<html><head><title>Hi</title><style>p {color: red}</style>
<script>steal()</script></head>
<body onload="steal()">
<p>Where is   my
order?<img src="https://tracker.example/open.gif" onerror="steal()"></p>
<p>Click <a href="javascript:steal()">here</a> or <a href="https://shop.example/o/1">there</a>.<br>Thanks,<br>Ana</p>
<img src="cid:sig" alt="signature">
<blockquote><p>On our side it shipped.</p><p>The shop</p></blockquote>
<iframe src="https://evil.example"></iframe><svg onload="steal()"></svg>
</body></html>"""


def test_html_is_sanitised_and_laid_out_as_text() -> None:
    raw = mail(f"{HEADERS}\nContent-Type: text/html; charset=utf-8", SCRIPTED_HTML)

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert parsed.html == (
        "<p>Where is   my\norder?<img></p>\n"
        '<p>Click <a rel="noopener noreferrer">here</a> or '
        '<a href="https://shop.example/o/1" rel="noopener noreferrer">there</a>.'
        "<br>Thanks,<br>Ana</p>\n"
        '<img src="cid:sig" alt="signature">\n'
        "<blockquote><p>On our side it shipped.</p><p>The shop</p></blockquote>"
    )
    for dangerous in ("<script", "steal", "onerror", "onload", "javascript:", "tracker", "iframe"):
        assert dangerous not in parsed.html
    assert parsed.text == (
        "Where is my order?\n\nClick here or there.\nThanks,\nAna\n\n> On our side it shipped.\n\n"
        "> The shop"
    )
    assert new_text(parsed.text) == "Where is my order?\n\nClick here or there.\nThanks,\nAna"


def test_text_plain_is_preferred_over_html() -> None:
    raw = mail(
        f'{HEADERS}\nContent-Type: multipart/alternative; boundary="b"',
        "--b\r\nContent-Type: text/html\r\n\r\n<p>From HTML</p>\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nFrom text\r\n--b--\r\n",
    )

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert (parsed.text, parsed.html) == ("From text", "<p>From HTML</p>")


def test_an_attachment_over_the_cap_is_listed_without_its_content() -> None:
    big = bytes(range(256)) * 8
    raw = mail(
        f'{HEADERS}\nContent-Type: multipart/mixed; boundary="b"',
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPhoto of the damage attached.\r\n"
        b"--b\r\nContent-Type: image/jpeg\r\n"
        b'Content-Disposition: attachment; filename="../../etc/damage.jpg"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(big).replace(b"\n", b"\r\n")
        + b"--b\r\nContent-Type: text/plain\r\n"
        b"Content-Disposition: attachment; filename=small.txt\r\n\r\nsmall\r\n"
        b"--b--\r\n",
    )

    parsed = parse(raw, max_attachment_bytes=len(big) - 1)

    assert parsed.text == "Photo of the damage attached."
    assert parsed.attachments == [
        Attachment("damage.jpg", "image/jpeg", len(big), None, too_large=True),
        Attachment("small.txt", "text/plain", 5, b"small", too_large=False),
    ]
    assert parsed.defects == []


def test_an_attached_message_is_an_attachment_not_the_body() -> None:
    inner = mail("From: shop@example.com\nSubject: Your order", "Inner text\r\n")
    raw = mail(
        f'{HEADERS}\nContent-Type: multipart/mixed; boundary="b"',
        b"--b\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--b--\r\n",
    )

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert parsed.text == "See below."
    (attached,) = parsed.attachments
    assert (attached.content_type, attached.too_large) == ("message/rfc822", False)
    assert parse(attached.content or b"", max_attachment_bytes=CAP).text == "Inner text"


def test_missing_headers_are_defects_not_failures() -> None:
    parsed = parse(b"Subject: hi\r\n\r\nJust text\r\n", max_attachment_bytes=CAP)

    assert (parsed.message_id, parsed.from_address, parsed.date, parsed.text) == (
        "",
        "",
        None,
        "Just text",
    )
    assert parsed.defects == ["no sender address (From)", "no Message-ID", "no Date"]


def test_garbage_bytes_still_make_a_parsed_mail() -> None:
    garbage = random.Random(7).randbytes(4_000)

    parsed = parse(garbage, max_attachment_bytes=CAP)

    assert isinstance(parsed, ParsedMail)
    assert parsed.defects[:2] == ["no sender address (From)", "no Message-ID"]
    assert "8-bit text in the text/plain part has no charset; decoded as Windows-1252" in (
        parsed.defects
    )
    assert "\x00" not in parsed.text
    assert len(parsed.text) > 1_000


def test_threading_headers() -> None:
    raw = mail(
        "From: ana@example.com\n"
        "Message-ID: bare-id@example.com\n"
        "In-Reply-To: <r3@shop.example> (Help's message of Monday)\n"
        "References: <r1@shop.example>\n <r2@shop.example>\t<r1@shop.example>\n"
        " <r3@shop.example>\n"
        "Date: Mon, 3 Mar 2025 10:00:00 -0000"
    )

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert parsed.message_id == "<bare-id@example.com>"
    assert parsed.in_reply_to == "<r3@shop.example>"
    assert parsed.references == ["<r1@shop.example>", "<r2@shop.example>", "<r3@shop.example>"]
    assert parsed.date == datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("date", "expected", "defects"),
    [
        pytest.param(
            "Tue, 4 Mar 2025 01:30:00 +0530",
            datetime(2025, 3, 3, 20, 0, tzinfo=UTC),
            [],
            id="offset",
        ),
        pytest.param("4 Mar 2025 01:30 GMT", datetime(2025, 3, 4, 1, 30, tzinfo=UTC), [], id="gmt"),
        pytest.param("yesterday", None, ["the Date 'yesterday' could not be read"], id="junk"),
    ],
)
def test_dates_are_utc(date: str, expected: datetime | None, defects: list[str]) -> None:
    parsed = parse(
        mail(f"From: a@example.com\nMessage-ID: <d@x>\nDate: {date}"), max_attachment_bytes=CAP
    )

    assert (parsed.date, parsed.defects) == (expected, defects)


def test_raw_utf8_headers_and_file_names_are_read() -> None:
    raw = (
        "From: Žofie Nováková <zofie@example.cz>\r\nSubject: Reklamace: rozbitý hrnek\r\n"
        "Message-ID: <u@x>\r\nDate: Mon, 3 Mar 2025 10:00:00 +0000\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDobrý den\r\n"
        "--b\r\nContent-Type: image/jpeg\r\n"
        'Content-Disposition: attachment; filename="hrnek č.1.jpg"\r\n'
        "\r\nJPEG\r\n--b--\r\n"
    ).encode()

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert (parsed.from_name, parsed.subject, parsed.text) == (
        "Žofie Nováková",
        "Reklamace: rozbitý hrnek",
        "Dobrý den",
    )
    assert [a.filename for a in parsed.attachments] == ["hrnek č.1.jpg"]
    assert parsed.defects == []


def test_encoded_file_names_and_display_names() -> None:
    raw = mail(
        "From: =?utf-8?q?Jos=C3=A9?= <jose@example.es>\nMessage-ID: <f@x>\n"
        "Date: Mon, 3 Mar 2025 10:00:00 +0000\n"
        'Content-Type: multipart/mixed; boundary="b"',
        "--b\r\nContent-Type: text/plain\r\n\r\nhola\r\n"
        '--b\r\nContent-Type: application/pdf; name="=?utf-8?q?factura_n=C2=BA1.pdf?="\r\n\r\n'
        "%PDF\r\n--b--\r\n",
    )

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert parsed.from_name == "José"
    assert [a.filename for a in parsed.attachments] == ["factura nº1.pdf"]


def test_control_characters_never_reach_the_text() -> None:
    raw = mail(f"{HEADERS}\nContent-Type: text/plain; charset=utf-8", b"a\x00b\x07c\r\nd\re\tf")

    parsed = parse(raw, max_attachment_bytes=CAP)

    assert parsed.text == "abc\nd\ne\tf"


def storable(parsed: ParsedMail) -> None:
    """Every string can be written to PostgreSQL: valid UTF-8, no NUL."""
    strings = [
        parsed.message_id,
        parsed.in_reply_to,
        parsed.from_address,
        parsed.from_name,
        parsed.subject,
        parsed.text,
        parsed.html,
        *parsed.references,
        *parsed.to,
        *parsed.cc,
        *parsed.reply_to,
        *parsed.defects,
        *(a.filename for a in parsed.attachments),
        *(a.content_type for a in parsed.attachments),
    ]
    for value in strings:
        value.encode("utf-8")
        assert "\x00" not in value
    assert all(a.too_large == (a.content is None) for a in parsed.attachments)


FALLBACKS = ("the message could not be parsed", "a part could not be read")
"""What parse says when its own code failed (caught, but a bug all the same)."""


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3_000))
def test_parse_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    parsed = parse(raw, max_attachment_bytes=64)

    storable(parsed)
    assert not any(defect.startswith(FALLBACKS) for defect in parsed.defects)


HEADER_NAMES = ["From", "To", "Subject", "Date", "Message-ID", "References", "Content-Type"]
HEADER_NAMES += ["Content-Transfer-Encoding", "Content-Disposition", "In-Reply-To"]
HEADER_VALUES = [
    b'multipart/mixed; boundary="b"',
    b"multipart/alternative",
    b"text/html; charset=x-unknown",
    b"message/rfc822",
    b"base64",
    b"quoted-printable",
    b"attachment; filename*=utf-8''%C3%A9.txt",
    b"=?utf-8?b?w6k=?= =?iso-8859-2?q?=E8?=",
    b"<a@b> <c@d",
    b"Mon, 3 Mar 2025 10:00:00 +0100",
]
BODY_LINES = [
    b"--b",
    b"--b--",
    b"Content-Type: text/html",
    b"",
    b"<p onclick=x>hi<script>",
    b"w6k=",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(HEADER_NAMES),
            st.one_of(st.sampled_from(HEADER_VALUES), st.binary(max_size=40)),
        ),
        max_size=8,
    ),
    st.lists(st.one_of(st.sampled_from(BODY_LINES), st.binary(max_size=40)), max_size=12),
)
def test_parse_never_raises_on_mail_shaped_bytes(
    headers: list[tuple[str, bytes]], lines: list[bytes]
) -> None:
    raw = b"".join(name.encode() + b": " + value + b"\r\n" for name, value in headers)
    parsed = parse(raw + b"\r\n" + b"\r\n".join(lines), max_attachment_bytes=16)

    storable(parsed)
    assert not any(defect.startswith(FALLBACKS) for defect in parsed.defects)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Still nothing.\n\nOn Mon, 3 Mar 2025 at 10:00, Help <help@shop.example> wrote:\n"
            "> It shipped.\n",
            "Still nothing.",
            id="english",
        ),
        pytest.param(
            "Noch nichts.\n\nAm 03.03.2025 um 10:00 schrieb Help <help@shop.example>:\n> Versandt.",
            "Noch nichts.",
            id="german",
        ),
        pytest.param(
            "Toujours rien.\n\nLe lun. 3 mars 2025 à 10:00, Help <help@shop.example> "
            "a écrit\u00a0:\n"
            "> Expédié.",
            "Toujours rien.",
            id="french",
        ),
        pytest.param(
            "Nada aún.\n\nEl lun, 3 mar 2025 a las 10:00, Help (<help@shop.example>) escribió:\n"
            "> Enviado.",
            "Nada aún.",
            id="spanish",
        ),
        pytest.param(
            "Ancora niente.\n\nIl giorno lun 3 mar 2025 alle ore 10:00 Help <help@shop.example> "
            "ha scritto:\n> Spedito.",
            "Ancora niente.",
            id="italian",
        ),
        pytest.param(
            "Ainda nada.\n\nEm seg., 3 de mar. de 2025 às 10:00, Help <help@shop.example> "
            "escreveu:\n> Enviado.",
            "Ainda nada.",
            id="portuguese",
        ),
        pytest.param(
            "Pořád nic.\n\nDne 3. 3. 2025 v 10:00 Help <help@shop.example> napsal(a):\n> Odesláno.",
            "Pořád nic.",
            id="czech",
        ),
        pytest.param(
            "Still nothing.\n\nOn Mon, 3 Mar 2025 at 10:00, Help Desk of the Shop <\n"
            "help@shop.example> wrote:\n\n> It shipped.",
            "Still nothing.",
            id="introducer-wrapped",
        ),
        pytest.param(
            "Still nothing.\n\n-----Original Message-----\nFrom: Help\nSent: Monday\n\nIt shipped.",
            "Still nothing.",
            id="original-message",
        ),
        pytest.param(
            "Noch nichts.\n-----Ursprüngliche Nachricht-----\nVon: Help\n\nVersandt.",
            "Noch nichts.",
            id="original-message-german",
        ),
        pytest.param(
            "Still nothing.\n\n________________________________\nFrom: Help <help@shop.example>\n"
            "Sent: Monday, March 3, 2025 10:00\nTo: Ana\n\nIt shipped.",
            "Still nothing.",
            id="outlook-header-block",
        ),
        pytest.param(
            "Still nothing.\n\nAna\n-- \nAna Silva | +351 000 000 000",
            "Still nothing.\n\nAna",
            id="signature",
        ),
        pytest.param(
            "> Which size?\nL, please.\n> Which colour?\nBlue.",
            "L, please.\nBlue.",
            id="interleaved",
        ),
        pytest.param(
            "On Monday I called you.\nThen you wrote: nothing.\nStill waiting.",
            "On Monday I called you.\nThen you wrote: nothing.\nStill waiting.",
            id="a-sentence-is-not-an-introducer",
        ),
    ],
)
def test_new_text_keeps_only_what_was_just_written(text: str, expected: str) -> None:
    assert new_text(text) == expected


def test_a_huge_line_that_looks_like_an_introducer_is_kept_whole() -> None:
    """The introducer patterns once took minutes on one long line (a mail that stalled the
    hub): such a line is never an introducer, and comes back as written."""
    line = "Am " + "schrieb " * 125_000

    assert new_text(f"Hello\n{line}") == f"Hello\n{line.rstrip()}"
