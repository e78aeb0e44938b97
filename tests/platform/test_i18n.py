"""Customer-facing texts: every message the code uses exists in every language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from channelhub.platform.i18n import SUPPORTED, Texts, negotiate
from channelhub.process.orders import status

ORDERS = Path(status.__file__).parent


def used_messages() -> set[str]:
    """Every msgid the orders context passes to its ``t(...)``."""
    return {
        message
        for _, _, message, _, _ in extract_from_dir(
            ORDERS, method_map=[("**.py", "python")], keywords={"t": None}
        )
        if isinstance(message, str)
    }


def test_the_template_lists_exactly_the_messages_in_use() -> None:
    with (ORDERS / "locale" / "orders.pot").open("rb") as source:
        template = {message.id for message in read_po(source) if message.id}

    assert template == used_messages()


@pytest.mark.parametrize("language", [lang for lang in SUPPORTED if lang != "en"])
def test_every_message_is_translated_with_its_placeholders(language: str) -> None:
    path = ORDERS / "locale" / language / "LC_MESSAGES" / "orders.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)

    missing = [m for m in used_messages() if not (catalog.get(m) and catalog.get(m).string)]
    texts = Texts(ORDERS / "locale", "orders", language)
    values = {"number": "N1", "store": "S", "address": "A", "carrier": "C", "date": "D", "days": 3}

    assert missing == []
    untranslated = [m for m in used_messages() if texts(m, **values) == m.format(**values)]
    assert untranslated == []


@pytest.mark.parametrize(
    ("asked", "language"),
    [
        ("pt-PT", "pt"),
        ("pt_BR", "pt"),
        ("cs", "cs"),
        ("de-DE", "en"),
        ("fr-CH, fr;q=0.9, es;q=0.8, *;q=0.5", "es"),
        ("it;q=0, cs;q=0.3", "cs"),
        ("nonsense-???", "en"),
        ("", "en"),
    ],
)
def test_languages_are_negotiated(asked: str, language: str) -> None:
    assert negotiate(asked) == language


def test_a_missing_catalog_speaks_english(tmp_path: Path) -> None:
    texts = Texts(tmp_path, "orders", "pt")

    assert (
        texts("Your order {number} was delivered.", number="A1") == "Your order A1 was delivered."
    )
