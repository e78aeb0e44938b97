"""Customer-facing text in the customer's language, from gettext catalogs.

Each context keeps its catalogs as ``locale/<language>/LC_MESSAGES/<domain>.po`` beside its
code (the ``.po`` files are the source, edited by translators with any gettext tool); they
are compiled in memory on first use, so there is no build step. Message ids are English
text with ``{placeholders}``; a missing translation falls back to English.
"""

from __future__ import annotations

import functools
import gettext
import io
from datetime import date
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SUPPORTED = ("en", "pt", "es", "it", "cs")
DEFAULT = "en"


def negotiate(*preferences: str | None) -> str:
    """The first supported language among ``preferences`` (BCP 47 tags such as pt-PT, or
    an Accept-Language header), else English."""
    for preference in preferences:
        if not preference:
            continue
        for tag in _accepted(preference):
            try:
                language = Locale.parse(tag.replace("-", "_")).language
            except (UnknownLocaleError, ValueError):
                continue
            if language in SUPPORTED:
                return language
    return DEFAULT


def _accepted(header: str) -> list[str]:
    """Tags of an Accept-Language header (or a single tag), most preferred first."""
    weighted = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


@functools.cache
def _catalog(directory: Path, domain: str, language: str) -> gettext.NullTranslations:
    path = directory / language / "LC_MESSAGES" / f"{domain}.po"
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class Texts:
    """The messages of one catalog domain, in one language."""

    def __init__(self, directory: Path, domain: str, language: str) -> None:
        self.language = negotiate(language)
        self._catalog = _catalog(directory, domain, self.language)

    def __call__(self, message: str, **values: object) -> str:
        return self._catalog.gettext(message).format(**values)

    def date(self, value: date) -> str:
        """A date as people write it in this language (e.g. "Thursday, 3 December 2026")."""
        return format_date(value, format="full", locale=self.language)
