"""The offline intent model, judged on scenarios it never saw, and the LLM classifier, which
answers with the offline model whenever the LLM fails."""

from __future__ import annotations

import asyncio
from collections import Counter
from importlib import resources
from typing import Any

import pytest

from channelhub.process.helpdesk import intents
from channelhub.process.helpdesk.evaluation import (
    Report,
    evaluate,
    held_out_split,
    render,
    scenario_groups,
)
from channelhub.process.helpdesk.intents import (
    DEFINITIONS,
    MAX_CHARS,
    Intent,
    OfflineClassifier,
    load_examples,
    normalise,
    offline_classifier,
)
from channelhub.process.helpdesk.language import LANGUAGES

MIN_MACRO_F1 = 0.62
"""Measured 0.653 on the held-out scenarios (docs/helpdesk-intents.md)."""


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate()


def test_held_out_macro_f1_reaches_the_measured_level(report: Report) -> None:
    assert report.macro_f1 >= MIN_MACRO_F1, render(report)


def test_every_intent_is_recalled_on_held_out_scenarios(report: Report) -> None:
    assert [score.intent for score in report.intents] == list(Intent)
    assert [score.intent for score in report.intents if score.recall == 0] == []


def test_the_report_covers_every_language_and_row(report: Report) -> None:
    assert sorted(score.language for score in report.languages) == sorted(LANGUAGES)
    held_out = sum(score.support for score in report.intents)
    assert sum(score.support for score in report.languages) == held_out
    assert report.trained_on + held_out == 2340


def test_the_split_holds_out_whole_scenarios_about_a_fifth_of_each_intent() -> None:
    examples = load_examples()
    split = held_out_split()
    groups = scenario_groups(examples)
    held_out = set(split.held_out)
    held_out_groups = {g for e, g in zip(examples, groups, strict=True) if e in held_out}

    assert set(split.training) == set(examples) - held_out
    assert [
        e
        for e, g in zip(examples, groups, strict=True)
        if g in held_out_groups and e not in held_out
    ] == []
    total = Counter(e.intent for e in examples)
    taken = Counter(e.intent for e in split.held_out)
    assert {i: 0.2 <= taken[i] / total[i] <= 0.26 for i in Intent} == dict.fromkeys(Intent, True)
    assert held_out_split() == split


def test_a_scenario_in_seven_languages_is_one_group() -> None:
    examples = load_examples()
    groups = scenario_groups(examples)
    first = [
        g
        for e, g in zip(examples, groups, strict=True)
        if e.intent is Intent.where_is_my_order and "#1001" in e.text
    ]

    assert len(first) == 7
    assert len(set(first)) == 1


def test_a_group_never_holds_two_rows_of_one_language_or_intent() -> None:
    examples = load_examples()
    members: dict[int, list[tuple[Intent, str]]] = {}
    for example, group in zip(examples, scenario_groups(examples), strict=True):
        members.setdefault(group, []).append((example.intent, example.language))

    assert [m for m in members.values() if len({i for i, _ in m}) != 1] == []
    assert [m for m in members.values() if len({lang for _, lang in m}) != len(m)] == []


WISMO = {
    "en": "Hi, where is my parcel? I ordered a lamp two weeks ago and it still hasn't arrived.",
    "pt": "Olá, onde está a minha encomenda? Fiz o pedido há duas semanas e ainda não chegou.",
    "es": "Hola, ¿dónde está mi pedido? Lo hice hace dos semanas y todavía no ha llegado.",
    "it": "Ciao, dov'è il mio ordine? L'ho fatto due settimane fa e non è ancora arrivato.",
    "cs": "Dobrý den, kde je moje zásilka? Objednal jsem před dvěma týdny a pořád nedorazila.",
    "fr": "Bonjour, où est mon colis ? J'ai commandé il y a deux semaines et il n'est "
    "toujours pas arrivé.",
    "de": "Hallo, wo ist mein Paket? Ich habe vor zwei Wochen bestellt und es ist immer noch "
    "nicht angekommen.",
}


@pytest.mark.parametrize("language", LANGUAGES)
async def test_where_is_my_order_in_each_language(language: str) -> None:
    assert WISMO[language] not in {e.text for e in load_examples()}

    answer = await offline_classifier().classify(WISMO[language], language)

    assert (answer.intent, answer.source) == (Intent.where_is_my_order, "model")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("🙂", id="emoji"),
        pytest.param("Refund please, order 5521", id="refund"),
        pytest.param("x" * 50_000, id="long-nonsense"),
    ],
)
def test_confidence_is_a_probability(text: str) -> None:
    answer = offline_classifier().classify_text(text)

    assert 0 < answer.confidence <= 1
    assert answer.source == "model"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("Refund for order 1001 please", "Refund for order 9999 please", id="digits"),
        pytest.param("Where is NW-1234?", "Where is AB-9876?", id="prefixed"),
        pytest.param("Cancel #20877 now", "Cancel #1 now", id="hash"),
    ],
)
def test_order_numbers_do_not_change_the_answer(first: str, second: str) -> None:
    assert offline_classifier().classify_text(first) == offline_classifier().classify_text(second)


def test_normalise_masks_numbers_addresses_and_links() -> None:
    text = "Order #1001 (NW-1234): mail Jo.Doe+x@example.com,\n see https://shop.example/o/5?a=1"

    assert normalise(text) == "order _num_ ( _num_ ): mail _email_ , see _url_"


def test_only_the_first_characters_are_read() -> None:
    start = ("Where is my order? It has not arrived. " * 60)[:MAX_CHARS]
    tail = " I want a refund, refund my money, refund!" * 500

    assert offline_classifier().classify_text(start + tail) == offline_classifier().classify_text(
        start
    )


SMALL = tuple(e for e in load_examples() if e.language in ("en", "de"))


async def test_concurrent_first_calls_train_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    pipeline = intents._pipeline

    def counted() -> Any:
        built.append(1)
        return pipeline()

    monkeypatch.setattr(intents, "_pipeline", counted)
    classifier = OfflineClassifier(SMALL)

    answers = await asyncio.gather(
        *(classifier.classify("Where is my parcel?", "en") for _ in range(5))
    )

    assert len(built) == 1
    assert len(set(answers)) == 1


def test_training_is_deterministic() -> None:
    text = "Ich möchte meine Bestellung stornieren und das Geld zurück"

    assert OfflineClassifier(SMALL).classify_text(text) == OfflineClassifier(SMALL).classify_text(
        text
    )


def test_the_definitions_are_the_datasets() -> None:
    readme = (
        resources.files("channelhub.process.helpdesk")
        .joinpath("training", "README.md")
        .read_text(encoding="utf-8")
    )

    assert [i for i in Intent if f"| `{i}` | {DEFINITIONS[i]} |" not in readme] == []
