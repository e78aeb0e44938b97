"""Offline language detection: the seven languages the hub speaks, and no answer for what
is not language."""

from __future__ import annotations

import base64
import hashlib

import pytest

from channelhub.process.helpdesk.intents import load_examples
from channelhub.process.helpdesk.language import LANGUAGES, MAX_CHARS, detect_language


def test_the_languages() -> None:
    assert LANGUAGES == ("en", "pt", "es", "it", "cs", "fr", "de")


@pytest.mark.parametrize("language", LANGUAGES)
def test_dataset_rows_of_each_language(language: str) -> None:
    rows = [e.text for e in load_examples() if e.language == language][::40][:8]

    assert [detect_language(text) for text in rows] == [language] * 8


def test_nearly_every_dataset_row_is_recognised() -> None:
    examples = load_examples()

    right = sum(detect_language(e.text) == e.language for e in examples)

    assert right / len(examples) >= 0.97  # measured 0.984


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(" \n\t ", id="blank"),
        pytest.param("🙂👍📦", id="emoji"),
        pytest.param("ok", id="too-short"),
        pytest.param("#1001 NW-1234 100045321", id="order-numbers"),
        pytest.param((bytes(range(256)) * 8).decode("latin-1"), id="binary"),
        pytest.param(base64.b64encode(hashlib.sha512(b"x").digest() * 40).decode(), id="base64"),
        pytest.param("x" * 1_000_000, id="one-long-run"),
    ],
)
def test_no_answer_for_what_is_not_language(text: str) -> None:
    assert detect_language(text) is None


def test_only_the_start_of_a_long_text_is_read() -> None:
    french = ("Bonjour, où est ma commande ? Elle devait arriver hier. " * 50)[:MAX_CHARS]
    german = "Guten Tag, wo bleibt meine Bestellung? Sie sollte gestern kommen. " * 20_000

    assert detect_language(french + german) == "fr"
    assert detect_language(german + french) == "de"
