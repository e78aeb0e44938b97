"""Inbound e-mail, parsed into what the helpdesk shows and classifies, without ever raising.

Anyone can send us anything: ``parse`` always answers, and says in ``defects`` what was
wrong (a missing header, an unknown charset, a broken boundary) rather than refusing the
message, which is stored raw anyway and can be parsed again after a fix.

Why the structure comes from the ``compat32`` policy and the headers are decoded here: the
default policy parses a header when it is first read, with a parser that still raises on
some hostile input and that turns an unknown charset into lone surrogates (which no
database stores). ``compat32`` keeps every header as the string that was sent, so one code
path, ours, decodes RFC 2047 words, 8-bit headers and bodies, and records what it had to
guess.
"""

from __future__ import annotations

import binascii
import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

import nh3


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    content: bytes | None
    """None when ``too_large``: the message is kept, this part's bytes are not."""
    too_large: bool


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    """``<id@host>``, or "" when the message has none."""
    in_reply_to: str
    references: list[str]
    from_address: str
    from_name: str
    to: list[str]
    cc: list[str]
    reply_to: list[str]
    subject: str
    date: datetime | None
    text: str
    """The plain-text body, or text laid out from the HTML body when there is none."""
    html: str
    """The HTML body, sanitised for display (see ``_DISPLAY``)."""
    attachments: list[Attachment]
    defects: list[str]


MAX_DEPTH = 20
"""Multiparts nested deeper than this are not read (they only ever come from an attack)."""

_TRANSFER_ENCODINGS = frozenset(
    {"", "7bit", "8bit", "binary", "quoted-printable", "base64", "x-uuencode", "uuencode"}
)

_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=\s]")


def parse(raw: bytes, *, max_attachment_bytes: int) -> ParsedMail:
    """The message in ``raw``; an attachment larger than ``max_attachment_bytes`` is listed
    (``too_large``) without its content."""
    defects: list[str] = []
    try:
        return _parse(raw, max_attachment_bytes, defects)
    except Exception as exc:
        # The last resort, for what the checks below did not foresee: the bytes as text.
        defects.append(f"the message could not be parsed ({type(exc).__name__}); shown as sent")
        return _unreadable(raw, defects)


def _parse(raw: bytes, cap: int, defects: list[str]) -> ParsedMail:
    message = BytesParser(policy=policy.compat32).parsebytes(raw)
    headers: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        headers.setdefault(name.strip().lower(), []).append(_unfold(str(value)))

    def first(name: str) -> str:
        values = headers.get(name)
        return _unescape(values[0], f"the {name.title()} header", defects) if values else ""

    def addresses(name: str) -> list[tuple[str, str]]:
        values = [
            _unescape(v, f"the {name.title()} header", defects) for v in headers.get(name, [])
        ]
        return _addresses(values)

    senders = addresses("from")
    if not senders:
        defects.append("no sender address (From)")
    from_name, from_address = senders[0] if senders else ("", "")
    message_ids = _message_ids(first("message-id"))
    if not message_ids:
        defects.append("no Message-ID")
    date = _date(first("date"), defects)
    plain, html, attachments = _walk(message, cap, defects)
    clean_html = "\n".join(_DISPLAY.clean(_scrub(part)).strip() for part in html)
    text = _scrub("\n".join(plain)).strip("\n")
    if not text.strip() and clean_html:
        text = _html_text(clean_html)
    return ParsedMail(
        message_id=message_ids[0] if message_ids else "",
        in_reply_to=next(iter(_message_ids(first("in-reply-to"))), ""),
        references=_unique(_message_ids(first("references"))),
        from_address=from_address,
        from_name=_one_line(_decode_words(from_name, "the From name", defects)),
        to=_unique(address for _, address in addresses("to")),
        cc=_unique(address for _, address in addresses("cc")),
        reply_to=_unique(address for _, address in addresses("reply-to")),
        subject=_one_line(_decode_words(first("subject"), "the Subject", defects)),
        date=date,
        text=text,
        html=clean_html,
        attachments=attachments,
        defects=_unique(_scrub(d) for d in defects),
    )


def _unreadable(raw: bytes, defects: list[str]) -> ParsedMail:
    text = _scrub(_decode(raw, None, "the message", defects))
    return ParsedMail(
        message_id="",
        in_reply_to="",
        references=[],
        from_address="",
        from_name="",
        to=[],
        cc=[],
        reply_to=[],
        subject="",
        date=None,
        text=text,
        html="",
        attachments=[],
        defects=_unique(_scrub(d) for d in defects),
    )


# Body and attachments


def _walk(
    message: Message, cap: int, defects: list[str]
) -> tuple[list[str], list[str], list[Attachment]]:
    """The plain-text and HTML body parts, in order, and the attachments.

    Every text/plain or text/html part that is not an attachment is body: Apple Mail splits
    a body around inline images, so the parts are joined rather than the first one taken.
    Attached messages (``message/*``) are attachments, not read further."""
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        defects.extend(_defect_text(defect) for defect in part.defects)
        try:
            _repair_8bit_params(part, defects)
            content_type = part.get_content_type()
            if part.get_content_maintype() == "message" or not (
                part.is_multipart() or content_type.startswith("multipart/")
            ):
                _leaf(part, content_type, cap, plain, html, attachments, defects)
                continue
            if depth >= MAX_DEPTH:
                defects.append(f"multiparts nested deeper than {MAX_DEPTH} levels were not read")
                continue
            if not part.is_multipart():
                # A multipart whose boundary is missing or never found: one body as sent.
                recovered = _recover_boundary(part, content_type)
                if recovered is None:
                    defects.append(f"a {content_type} part has no usable boundary; shown as sent")
                    plain.append(_text_of(part, "a part without a boundary", defects))
                    continue
                defects.append(f"the boundary of a {content_type} part was recovered from its body")
                part = recovered
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(
                    (sub, depth + 1) for sub in reversed(payload) if isinstance(sub, Message)
                )
        except Exception as exc:
            defects.append(f"a part could not be read ({type(exc).__name__}) and was left out")
    return plain, html, attachments


def _leaf(
    part: Message,
    content_type: str,
    cap: int,
    plain: list[str],
    html: list[str],
    attachments: list[Attachment],
    defects: list[str],
) -> None:
    is_attachment = part.get_content_disposition() == "attachment" or bool(part.get_filename())
    if content_type in ("text/plain", "text/html") and not is_attachment:
        (plain if content_type == "text/plain" else html).append(
            _text_of(part, f"the {content_type} part", defects)
        )
        return
    content = _content(part, defects)
    too_large = len(content) > cap
    attachments.append(
        Attachment(
            filename=_filename(part, defects),
            content_type=content_type,
            size=len(content),
            content=None if too_large else content,
            too_large=too_large,
        )
    )


def _content(part: Message, defects: list[str]) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list):
        # message/*: the enclosed message (or delivery-status header blocks) as sent.
        return b"".join(sub.as_bytes() for sub in payload if isinstance(sub, Message))
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding == "base64" and isinstance(payload, str) and _NOT_BASE64.search(payload):
        defects.append("a part labelled base64 is not base64; kept as sent")
        return payload.encode("utf-8", "surrogateescape")
    if encoding not in _TRANSFER_ENCODINGS:
        defects.append(
            f"unknown transfer encoding {_one_line(encoding)!r}; the part is kept as sent"
        )
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _text_of(part: Message, where: str, defects: list[str]) -> str:
    return _decode(_content(part, defects), part.get_content_charset(), where, defects)


def _filename(part: Message, defects: list[str]) -> str:
    """The part's file name without any path: RFC 2231 and (though no standard allows them
    there, Outlook writes them) RFC 2047 words are decoded."""
    name = _decode_words(part.get_filename() or "", "a file name", defects)
    return _one_line(re.split(r"[/\\]", name)[-1])[:255]


def _repair_8bit_params(part: Message, defects: list[str]) -> None:
    """Raw 8-bit (UTF-8) parameters, such as a file name, made readable: left alone,
    ``compat32`` would hand them back with every non-ASCII letter replaced."""
    for name, value in part.raw_items():
        if name.lower() in ("content-type", "content-disposition") and _has_8bit(str(value)):
            part.replace_header(name, _unescape(_unfold(str(value)), f"the {name} header", defects))


def _recover_boundary(part: Message, content_type: str) -> Message | None:
    """The multipart re-read with the boundary its body actually uses (the first line that
    looks like a delimiter), or None when there is none."""
    body = part.get_payload()
    if not isinstance(body, str):
        return None
    found = re.search(r"^--([0-9A-Za-z'()+_,\-./:=?]{1,70})[ \t]*\r?$", body, re.MULTILINE)
    if found is None:
        return None
    head = f'Content-Type: {content_type}; boundary="{found.group(1)}"\r\n\r\n'
    recovered = BytesParser(policy=policy.compat32).parsebytes(
        (head + body).encode("utf-8", "surrogateescape")
    )
    return recovered if recovered.is_multipart() else None


def _defect_text(defect: Exception) -> str:
    """The defect in words: the first line of its class's docstring (its arguments are the
    offending line, not an explanation)."""
    doc = (type(defect).__doc__ or type(defect).__name__).strip()
    return doc.splitlines()[0].rstrip(".")


# Headers


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", "")


def _has_8bit(value: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in value)


def _unescape(value: str, where: str, defects: list[str]) -> str:
    """A header value with the raw 8-bit bytes the parser escaped decoded (RFC 6532 allows
    UTF-8 in headers; older mailers write their local charset)."""
    if not _has_8bit(value):
        return value
    return _decode(value.encode("utf-8", "surrogateescape"), None, where, defects)


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")


def _decode_words(value: str, where: str, defects: list[str]) -> str:
    """RFC 2047 encoded words decoded. Adjacent words in one charset are joined before
    decoding (mailers split a multi-byte letter across two of them), the white space between
    encoded words is dropped as RFC 2047 says, and a word that cannot be decoded stays as
    it was sent."""
    out: list[str] = []
    run = bytearray()
    run_charset: str | None = None
    position = 0

    def flush() -> None:
        nonlocal run_charset
        if run_charset is not None:
            out.append(_decode(bytes(run), run_charset, where, defects))
        run.clear()
        run_charset = None

    for word in _ENCODED_WORD.finditer(value):
        between = value[position : word.start()]
        position = word.end()
        charset, encoding, encoded = word.groups()
        charset = charset.partition("*")[0].lower()  # RFC 2231 adds *language
        data = _word_bytes(encoding, encoded)
        if data is None:
            defects.append(f"an encoded word in {where} is broken; shown as sent")
            flush()
            out.append(between + word.group())
            continue
        adjacent = run_charset is not None and not between.strip()
        if adjacent and charset == run_charset:
            run.extend(data)
            continue
        flush()
        out.append("" if adjacent else between)
        run_charset = charset
        run.extend(data)
    flush()
    out.append(value[position:])
    return "".join(out)


def _word_bytes(encoding: str, encoded: str) -> bytes | None:
    data = encoded.encode("ascii", "replace")
    try:
        if encoding in "Qq":
            return binascii.a2b_qp(data, header=True)
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(display name still encoded, lower-cased addr-spec) of each usable address."""
    found = []
    for name, address in getaddresses(values):
        address = address.strip().lower()
        if re.fullmatch(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+", address):
            found.append((name, address))
    return found


_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def _message_ids(value: str) -> list[str]:
    """Each ``<id>`` in a Message-ID, In-Reply-To or References header; a bare id (no
    brackets, as some mailers write it) counts as one."""
    ids = [f"<{found}>" for found in _MESSAGE_ID.findall(value)]
    bare = value.strip()
    if not ids and bare and "@" in bare and not re.search(r"[\s<>]", bare):
        ids = [f"<{bare}>"]
    return [_one_line(found) for found in ids]


def _date(value: str, defects: list[str]) -> datetime | None:
    if not value.strip():
        defects.append("no Date")
        return None
    try:
        date = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        defects.append(f"the Date {_one_line(value)[:80]!r} could not be read")
        return None
    # RFC 5322 "-0000" (parsed as naive): the time is UTC, the sender's zone unknown.
    return date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)


# Text


_UNKNOWN_TO_PYTHON = {"windows-874": "cp874", "iso-8859-8-i": "iso8859-8"}
_WIDER = {"iso8859-1": "cp1252", "gb2312": "gb18030", "gbk": "gb18030", "euc_kr": "cp949"}
"""Charsets read as the wider one mail clients actually write (as browsers do, per the
WHATWG Encoding Standard): curly quotes in "ISO-8859-1" text are Windows-1252."""


def _codec(label: str) -> str | None:
    try:
        name = codecs.lookup(_UNKNOWN_TO_PYTHON.get(label, label)).name
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None
    return _WIDER.get(name, name)


def _decode(data: bytes, charset: str | None, where: str, defects: list[str]) -> str:
    """``data`` as text. Without a charset (or "US-ASCII", which 8-bit text often wrongly
    claims) UTF-8 is tried, then Windows-1252; an unknown charset is read as UTF-8."""
    label = (charset or "").strip().strip("\"'").partition("*")[0].lower()
    if label in ("", "us-ascii", "ascii"):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            defects.append(f"8-bit text in {where} has no charset; decoded as Windows-1252")
            return data.decode("cp1252", "replace")
    codec = _codec(label)
    shown = _one_line(label)[:40]
    if codec is not None:
        try:
            return data.decode(codec)
        except LookupError:  # a codec, but not of text (base64, zlib, ...)
            pass
        except ValueError:
            defects.append(f"{where} is not valid {shown}; undecodable bytes replaced")
            try:
                return data.decode(codec, "replace")
            except ValueError:  # a codec without "replace" (idna)
                return data.decode("utf-8", "replace")
    text = data.decode("utf-8", "replace")
    replaced = " with replacements" if "\ufffd" in text else ""
    defects.append(f"unknown charset {shown} in {where}, decoded as UTF-8{replaced}")
    return text


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _scrub(text: str) -> str:
    """Text any database stores: line ends as ``\\n``, no control characters (PostgreSQL
    refuses NUL) and no lone surrogates (undecodable RFC 2047 text can produce them)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text).encode("utf-8", "replace").decode("utf-8")


def _one_line(text: str) -> str:
    return " ".join(_scrub(text).split())


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# HTML


def _no_remote_images(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not value.lower().startswith("cid:"):
        return None
    return value


_DISPLAY = nh3.Cleaner(
    clean_content_tags={"script", "style", "title", "template"},
    attribute_filter=_no_remote_images,
    url_schemes={"http", "https", "mailto", "tel", "cid"},
    url_relative="deny",
)
"""The HTML an agent's browser may show: nh3's allow-list (no scripts, event handlers,
``javascript:`` URLs or styles), links only to http(s), mailto and tel, and images only from
the message's own parts (``cid:``, which the console maps to the attachments): a remote
image would tell the sender when, where and that the mail was read."""

_BLOCKS = frozenset(
    {
        *("p", "div", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "pre", "hr"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "article"),
        *("header", "footer", "figure", "figcaption", "address", "center", "details"),
    }
)


class _TextLayout(HTMLParser):
    """Plain text from sanitised HTML: each block a paragraph, ``<br>`` a line break, and
    ``<blockquote>`` lines quoted with "> " as a plain-text reply would quote them (so
    ``new_text`` drops them alike)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.words: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._line(keep_empty=True)
        elif tag in _BLOCKS:
            self._paragraph()
        elif tag in ("td", "th"):
            self.words.append(" ")
        if tag == "blockquote":
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self._paragraph()
        if tag == "blockquote":
            self.depth = max(0, self.depth - 1)

    def handle_data(self, data: str) -> None:
        self.words.append(data)

    def close(self) -> None:
        super().close()
        self._paragraph()

    def _line(self, *, keep_empty: bool) -> None:
        line = " ".join("".join(self.words).split())
        self.words = []
        if line or keep_empty:
            self.lines.append(("> " * self.depth + line).rstrip())

    def _paragraph(self) -> None:
        self._line(keep_empty=False)
        if self.lines and self.lines[-1]:
            self.lines.append("")


def _html_text(html: str) -> str:
    layout = _TextLayout()
    layout.feed(html)
    layout.close()
    return re.sub(r"\n{3,}", "\n\n", _scrub("\n".join(layout.lines))).strip("\n")


# Reply history


_INTRODUCER = re.compile(
    r"^(?:"
    r"on\s.{1,200}\swrote"  # English
    r"|am\s.{1,200}\sschrieb(?:\s.{1,200})?"  # German: Am 3. März 2025 um 10:00 schrieb Ana:
    r"|le\s.{1,200}\sa\s+écrit"  # French
    r"|el\s.{1,200}\sescribió"  # Spanish
    r"|il\s.{1,200}\sha\s+scritto"  # Italian
    r"|em\s.{1,200}\sescreveu"  # Portuguese
    r"|dne\s.{1,200}\snapsal(?:\(a\)|a)?"  # Czech
    r")\s*:$",
    re.IGNORECASE,
)
_INTRODUCER_MAX = 300
_SEPARATOR = re.compile(
    r"^-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original"
    r"|messaggio originale|mensagem original|původní zpráva|oorspronkelijk bericht)\s*-{2,}$",
    re.IGNORECASE,
)
# Outlook without a separator: a "From:" line directly followed by "Sent:" (or its
# translation), possibly in *bold*.
_OUTLOOK_FROM = re.compile(r"^\*?(?:from|von|de|da|od|van)\s?:", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(
    r"^\*?(?:sent|date|gesendet|datum|envoyé|enviado|inviato|odesláno|verzonden)\s?:",
    re.IGNORECASE,
)


def new_text(text: str) -> str:
    """What the sender just wrote: quoted lines (``>``), everything from the reply's
    introducer ("On … wrote:" in English, German, French, Spanish, Italian, Portuguese or
    Czech) or an "Original Message" separator on, and the signature (after "-- ")."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        following, after = [*lines[index + 1 : index + 3], "", ""][:2]
        # An introducer is one short line (or two, wrapped): a long line is never one, and
        # is not matched against the patterns at all (their cost grows with its length).
        joined = f"{stripped} {following.strip()}"
        if (
            line.rstrip() == "--"
            or _SEPARATOR.match(stripped)
            or (len(stripped) <= _INTRODUCER_MAX and _INTRODUCER.match(stripped))
            # Wrapped by the mailer, and followed by the quote it introduces.
            or (
                len(joined) <= _INTRODUCER_MAX
                and _INTRODUCER.match(joined)
                and (not after.strip() or after.lstrip().startswith(">"))
            )
            or (_OUTLOOK_FROM.match(stripped) and _OUTLOOK_SENT.match(following.strip()))
        ):
            break
        if not stripped.startswith(">"):
            kept.append(line.rstrip())
    while kept and set(kept[-1]) <= set("_-"):
        kept.pop()  # Outlook's line of underscores above the quoted header
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
