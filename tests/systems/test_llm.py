"""The LLM intent classifier: used when it answers well, the offline model otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from channelhub.platform.config import Settings
from channelhub.process.helpdesk.intents import (
    DEFINITIONS,
    Classification,
    Intent,
    offline_classifier,
)
from channelhub.systems.llm import LlmClassifier, classifier_from_settings

FALLBACK = Classification(Intent.account, 0.42, "model")


class Fallback:
    """Stands in for the offline model; records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []

    async def classify(self, text: str, language: str | None) -> Classification:
        self.asked.append((text, language))
        return FALLBACK


def chat(content: str) -> httpx.Response:
    """A chat-completions answer as OpenAI documents it."""
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        },
    )


def llm(
    answer: Callable[[httpx.Request], httpx.Response], fallback: Fallback
) -> tuple[LlmClassifier, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return answer(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    classifier = LlmClassifier(
        "https://llm.example.com/v1", "sk-test", "gpt-4o-mini", http, fallback, timeout_s=3
    )
    return classifier, requests


async def test_the_llm_answer_is_used() -> None:
    fallback = Fallback()
    classifier, requests = llm(lambda _: chat('{"intent": "refund", "confidence": 0.91}'), fallback)

    answer = await classifier.classify("Where is my money? Returned it weeks ago.", "en")

    assert answer == Classification(Intent.refund, 0.91, "llm")
    assert fallback.asked == []
    [request] = requests
    assert str(request.url) == "https://llm.example.com/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.extensions["timeout"]["read"] == 3
    body = json.loads(request.content)
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"][1] == {
        "role": "user",
        "content": "Where is my money? Returned it weeks ago.",
    }
    system = body["messages"][0]["content"]
    assert [i for i in Intent if f"- {i}: {DEFINITIONS[i]}" not in system] == []


async def test_json_wrapped_in_a_code_fence_is_read() -> None:
    fenced = '```json\n{"intent": "cancel_order", "confidence": 1}\n```'
    classifier, _ = llm(lambda _: chat(fenced), Fallback())

    assert await classifier.classify("cancel it", None) == Classification(
        Intent.cancel_order, 1.0, "llm"
    )


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda _: chat("I think it is a refund."), id="not-json"),
        pytest.param(
            lambda _: chat('{"intent": "weather", "confidence": 0.9}'), id="unknown-label"
        ),
        pytest.param(
            lambda _: chat('{"intent": "refund", "confidence": 1.5}'), id="confidence-above-1"
        ),
        pytest.param(lambda _: chat('{"intent": "refund", "confidence": -0.1}'), id="negative"),
        pytest.param(
            lambda _: chat('{"intent": "refund", "confidence": "high"}'), id="text-confidence"
        ),
        pytest.param(lambda _: chat('{"intent": "refund"}'), id="no-confidence"),
        pytest.param(lambda _: chat('["refund", 0.9]'), id="not-an-object"),
        pytest.param(lambda _: httpx.Response(200, json={"choices": []}), id="no-choices"),
        pytest.param(lambda _: httpx.Response(200, text="<html>gateway</html>"), id="html"),
        pytest.param(lambda _: httpx.Response(500, json={"error": "boom"}), id="http-500"),
        pytest.param(lambda _: httpx.Response(401, json={"error": "bad key"}), id="http-401"),
        pytest.param(timeout, id="timeout"),
    ],
)
async def test_a_failed_llm_call_is_answered_by_the_fallback(
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    fallback = Fallback()
    classifier, requests = llm(answer, fallback)

    with capture_logs() as logs:
        result = await classifier.classify("Where is my parcel?", "en")

    assert result == FALLBACK
    assert fallback.asked == [("Where is my parcel?", "en")]
    assert len(requests) == 1
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "helpdesk.intent_llm_failed"
    ]


def test_without_an_llm_url_the_offline_model_classifies() -> None:
    http = httpx.AsyncClient()

    assert classifier_from_settings(Settings(helpdesk_llm_url=None), http) is offline_classifier()


async def test_with_an_llm_url_the_llm_classifies_with_the_settings() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return chat('{"intent": "other", "confidence": 0.7}')

    settings = Settings(
        helpdesk_llm_url="http://127.0.0.1:11434/v1/",
        helpdesk_llm_api_key="local-key",
        helpdesk_llm_model="llama3.1",
        helpdesk_llm_timeout_s=4,
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))

    answer = await classifier_from_settings(settings, http).classify("hello there", "en")

    assert answer == Classification(Intent.other, 0.7, "llm")
    [request] = requests
    assert str(request.url) == "http://127.0.0.1:11434/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer local-key"
    assert json.loads(request.content)["model"] == "llama3.1"
    assert request.extensions["timeout"]["read"] == 4


@pytest.mark.parametrize("url", ["ftp://llm.example.com", "llm.example.com/v1"])
def test_an_llm_url_must_be_http(url: str) -> None:
    with pytest.raises(ValidationError, match="http"):
        Settings(helpdesk_llm_url=url)
