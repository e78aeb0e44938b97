"""Which of the helpdesk's languages a message is written in, offline (lingua's n-gram
models, restricted to the seven languages the hub speaks)."""

from __future__ import annotations

import functools
import re
from typing import Final

from lingua import IsoCode639_1, LanguageDetector, LanguageDetectorBuilder

LANGUAGES: Final = ("en", "pt", "es", "it", "cs", "fr", "de")
"""ISO 639-1 codes ``detect_language`` can answer."""

MAX_CHARS = 2000
"""Only the start of a message is read: enough for any language, and a pasted log or
attachment text cannot make one detection slow."""

MIN_LETTERS = 6
"""Fewer letters than this ("ok", "thx", an order number) say nothing reliable."""

MIN_RELATIVE_DISTANCE = 0.1
"""How far ahead of the runner-up the best language must be, else no answer. On the
packaged intent dataset (3-60 words a message), 0.1 answers 98.4 % of the messages right,
1.3 % not at all and 0.3 % wrong; 0 answers every one but gets twice as many wrong, 0.25
leaves 2.6 % unanswered."""

_WORD = re.compile(r"\S+")
_MAX_WORD = 30
"""A longer run without spaces is a URL, a token or encoded data, not a word."""


def _is_word(token: str) -> bool:
    """Printable, at most 30 characters, two thirds of them letters: words with their
    punctuation, but not order numbers, emoji or the debris of binary data read as text."""
    letters = sum(c.isalpha() for c in token)
    return len(token) <= _MAX_WORD and letters * 3 >= len(token) * 2 and token.isprintable()


@functools.cache
def _detector() -> LanguageDetector:
    """Built once, on first use; lingua loads each language's model when first needed."""
    return (
        LanguageDetectorBuilder.from_iso_codes_639_1(
            *(IsoCode639_1.from_str(code) for code in LANGUAGES)
        )
        .with_minimum_relative_distance(MIN_RELATIVE_DISTANCE)
        .build()
    )


def detect_language(text: str) -> str | None:
    """The message's language as an ISO 639-1 code from ``LANGUAGES``, or None when the text
    is too short or the models are unsure (emoji only, numbers, encoded data)."""
    tokens = _WORD.findall(text[:MAX_CHARS])
    words = [token for token in tokens if _is_word(token)]
    if sum(c.isalpha() for word in words for c in word) < MIN_LETTERS:
        return None
    if 2 * sum(map(len, words)) < sum(map(len, tokens)):
        return None  # mostly not words: encoded or binary data, a table of numbers
    language = _detector().detect_language_of(" ".join(words))
    return None if language is None else language.iso_code_639_1.name.lower()
