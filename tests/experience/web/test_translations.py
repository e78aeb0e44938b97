"""The portal's own words (labels, buttons, form errors) exist in all five languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from channelhub.experience.web.rendering import DOMAIN, HERE, LOCALES

_CALL = re.compile(r"""\bt\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+|(?:'(?:[^'\\]|\\.)*'\s*)+)""")
_PART = re.compile(r""""((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'""")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def used_messages() -> set[str]:
    """Every ``t("...")`` in the portal's code and templates (adjacent literals joined)."""
    sources = [*HERE.glob("*.py"), *(HERE / "templates").glob("*.html")]
    found = set()
    for source in sources:
        for call in _CALL.finditer(source.read_text()):
            found.add("".join(a or b for a, b in _PART.findall(call.group(1))))
    return found


def catalog(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


def test_the_catalog_template_lists_exactly_the_messages_in_use() -> None:
    template = catalog(LOCALES / f"{DOMAIN}.pot")

    listed = {str(message.id) for message in template if message.id}

    assert listed == used_messages()


@pytest.mark.parametrize("language", ["pt", "es", "it", "cs"])
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    translations = catalog(LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po")

    untranslated = []
    mismatched = []
    for message_id in sorted(used_messages()):
        found = translations.get(message_id)
        if found is None or not found.string:
            untranslated.append(message_id)
        elif set(_PLACEHOLDER.findall(message_id)) != set(_PLACEHOLDER.findall(str(found.string))):
            mismatched.append(message_id)

    assert untranslated == []
    assert mismatched == []
