"""The notifications catalog: every word the code uses exists in every language."""

from __future__ import annotations

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from channelhub.platform.i18n import SUPPORTED, Texts
from channelhub.process.notifications import templates

HERE = templates.LOCALES.parent


def used_messages() -> set[str]:
    return {
        message
        for _, _, message, _, _ in extract_from_dir(
            HERE, method_map=[("**.py", "python")], keywords={"t": None}
        )
        if isinstance(message, str)
    }


def test_the_template_lists_exactly_the_messages_in_use() -> None:
    with (templates.LOCALES / "notifications.pot").open("rb") as source:
        template = {message.id for message in read_po(source) if message.id}

    assert template == used_messages()


@pytest.mark.parametrize("language", [lang for lang in SUPPORTED if lang != "en"])
def test_every_message_is_translated_with_its_placeholders(language: str) -> None:
    texts = Texts(templates.LOCALES, templates.DOMAIN, language)
    values = {"name": "N", "number": "1", "shop": "S"}

    untranslated = [m for m in used_messages() if texts(m, **values) == m.format(**values)]

    assert untranslated == []
