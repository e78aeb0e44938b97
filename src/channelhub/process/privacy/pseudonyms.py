"""Finding a person's identifiers in stored values, and putting pseudonyms in their place.

Pseudonyms come from a random token drawn for each erasure, never from the data they
replace: a hash of an e-mail address can be reversed by hashing guesses, a random token
cannot. Each distinct identifier gets its own pseudonym (``erased-<token>``,
``erased-<token>-2``...), so values that were unique stay unique (a consent per contact,
a customer's uses of a campaign per e-mail), and e-mail fields keep a valid address
(``erased-<token>@erased.invalid``, the ``.invalid`` domain that never resolves).

Identifiers are found as they are written, without regard to case: an e-mail address
(also percent-encoded, as in a URL), a phone number with any separators between its digits
(and without its country code), a name or a street line as whole words. Stored bytes are
also read decoded (JSON with ``\\u`` escapes, MIME mail with encoded headers and
base64 parts), since that is how most of them hold text.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

REDACTED = "[erased]"
"""What a free text written by or about the erased person becomes."""
REDACTED_BODY = REDACTED.encode()
"""What stored bytes become when their identifiers cannot be replaced in place (an inbox
body, a MIME message, bytes that are not text)."""

_EMAIL_BEFORE = r"(?<![\w.+\-])"
_EMAIL_AFTER = r"(?![\w\-]|\.\w)"
_PHONE_SEPARATORS = r"[\s.\-/()]*"
_MIN_PHONE_DIGITS = 8
_MAX_NESTED_BYTES = 20_000_000
"""A part of a message larger than this is not decoded (its raw reading still counts)."""
_HEADER_LINE = re.compile(rb"^[A-Za-z0-9-]{1,76}:[ \t]")
_MAIL = email.parser.BytesParser(policy=email.policy.default)


class Kind(StrEnum):
    email = "email"
    phone = "phone"
    name = "name"
    street = "street"
    text = "text"
    """Something the person wrote (a message): redacted whole wherever it was copied."""


def normalised(kind: Kind, value: str) -> str:
    """The form two spellings of one identifier share."""
    if kind is Kind.phone:
        return re.sub(r"\D", "", value)
    return " ".join(value.split()).casefold()


@dataclass
class Pseudonyms:
    """The pseudonyms of one erasure, one per distinct identifier."""

    token: str = field(default_factory=lambda: secrets.token_hex(8))
    _given: dict[tuple[Kind, str], str] = field(default_factory=dict)

    def of(self, kind: Kind, value: str) -> str:
        """The pseudonym of ``value`` (an empty value stays empty)."""
        key = normalised(kind, value)
        if not key:
            return value
        if kind is Kind.text:
            return REDACTED
        known = self._given.get((kind, key))
        if known is not None:
            return known
        count = sum(1 for given_kind, _ in self._given if given_kind is kind)
        stem = f"erased-{self.token}" + (f"-{count + 1}" if count else "")
        pseudonym = f"{stem}@erased.invalid" if kind is Kind.email else stem
        self._given[(kind, key)] = pseudonym
        return pseudonym

    def email(self, value: str) -> str:
        return self.of(Kind.email, value)

    def phone(self, value: str) -> str:
        return self.of(Kind.phone, value)

    def name(self, value: str) -> str:
        return self.of(Kind.name, value)

    def contact(self, value: str) -> str:
        """An e-mail address or a phone number, whichever ``value`` is."""
        if "@" in value:
            return self.email(value)
        return self.phone(value) if normalised(Kind.phone, value) else self.name(value)


def _words(value: str) -> str:
    return r"(?<!\w)" + r"\s+".join(re.escape(word) for word in value.split()) + r"(?!\w)"


def _phone_spellings(value: str) -> list[str]:
    """The digit strings a phone number is written as: in full, and (for an international
    number) without its 1-3 digit country code, as people write it at home."""
    digits = normalised(Kind.phone, value)
    if len(digits) < _MIN_PHONE_DIGITS:
        return []
    spellings = [digits]
    if value.strip().startswith(("+", "00")):
        rest = digits[2:] if value.strip().startswith("00") else digits
        spellings += [rest[n:] for n in (1, 2, 3) if len(rest) - n >= _MIN_PHONE_DIGITS]
    return spellings


def _sources(kind: Kind, value: str) -> list[str]:
    """Regular expressions finding ``value`` as it may be written."""
    if kind is Kind.email:
        address = value.strip()
        return [
            _EMAIL_BEFORE + re.escape(spelling) + _EMAIL_AFTER
            for spelling in dict.fromkeys((address, quote(address, safe="")))
        ]
    if kind is Kind.phone:
        spellings = _phone_spellings(value)
        return [
            r"(?<![\d+])"
            + (r"(?:\+|00)?" if n == 0 else "0?")
            + _PHONE_SEPARATORS.join(spelling)
            + r"(?!\d)"
            for n, spelling in enumerate(spellings)
        ]
    if kind is Kind.text:
        return [re.escape(value)] if value.strip() else []
    return [_words(value)] if value.split() else []


class Matcher:
    """Finds the given identifiers and replaces each with its pseudonym, in texts, in
    JSON documents (keys and values) and in stored bytes."""

    def __init__(self, identifiers: Iterable[tuple[Kind, str]], pseudonyms: Pseudonyms) -> None:
        alternatives: dict[str, str] = {}
        for kind, value in identifiers:
            pseudonym = pseudonyms.of(kind, value)
            for source in _sources(kind, value):
                alternatives.setdefault(source, pseudonym)
        # Longest first: where "Ana Silva Santos" and "Ana Silva" both match, the whole
        # name goes. Each alternative is one group, so the match says whose it was.
        ordered = sorted(alternatives.items(), key=lambda item: -len(item[0]))
        self._pseudonyms = [pseudonym for _, pseudonym in ordered]
        self._pattern = (
            re.compile("|".join(f"({source})" for source, _ in ordered), re.IGNORECASE)
            if ordered
            else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def search(self, text: str) -> bool:
        return self._pattern is not None and self._pattern.search(text) is not None

    def sub(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(self._replacement, text)

    def _replacement(self, match: re.Match[str]) -> str:
        assert match.lastindex is not None
        return self._pseudonyms[match.lastindex - 1]

    def walk(self, value: Any) -> Any:
        """A JSON-like value with every string (and mapping key) scrubbed."""
        if isinstance(value, str):
            return self.sub(value)
        if isinstance(value, dict):
            return {self.sub(str(key)): self.walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item) for item in value]
        return value

    def found_in_bytes(self, data: bytes) -> bool:
        return any(self.search(text) for text in readings(data))

    def scrub_bytes(self, data: bytes) -> bytes:
        """``data`` with the identifiers replaced: inside a JSON document or plain text
        when that removes every reading of them; otherwise the whole value is redacted."""
        if not self.found_in_bytes(data):
            return data
        document = _json(data)
        if document is not None:
            candidate = json.dumps(
                self.walk(document), ensure_ascii=False, separators=(",", ":")
            ).encode()
        else:
            candidate = self.sub(data.decode("utf-8", "surrogateescape")).encode(
                "utf-8", "surrogateescape"
            )
        return REDACTED_BODY if self.found_in_bytes(candidate) else candidate

    def scrub(self, value: Any) -> Any:
        """Any stored value scrubbed: text, JSON document or bytes (others unchanged)."""
        if isinstance(value, bytes | bytearray | memoryview):
            return self.scrub_bytes(bytes(value))
        return self.walk(value)


def _json(data: bytes) -> Any:
    if data.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def readings(data: bytes, *, depth: int = 0) -> Iterator[str]:
    """The texts stored bytes can be read as: as UTF-8, as a JSON document (escapes
    decoded), as a MIME message (encoded headers and parts decoded, each part read the
    same way)."""
    yield data.decode("utf-8", "replace")
    document = _json(data)
    if document is not None:
        yield json.dumps(document, ensure_ascii=False)
        return
    if depth > 2:
        return
    if _HEADER_LINE.match(data):
        yield from _mail_readings(data, depth)


def _mail_readings(data: bytes, depth: int) -> Iterator[str]:
    try:
        message = _MAIL.parsebytes(data)
        for part in message.walk():
            for name, value in part.items():
                yield f"{name}: {value}"
            if part.is_multipart():
                continue
            content = part.get_content()
            if isinstance(content, str):
                yield content
            elif isinstance(content, bytes) and len(content) <= _MAX_NESTED_BYTES:
                yield from readings(content, depth=depth + 1)
    except Exception:
        return  # malformed mail: the raw reading still counts
