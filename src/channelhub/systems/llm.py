"""An LLM as the helpdesk's intent classifier: any OpenAI-compatible chat-completions API
(``CHANNELHUB_HELPDESK_LLM_URL``), backed by the offline model whenever it fails."""

from __future__ import annotations

import json
from typing import Any

import httpx
import structlog

from channelhub.platform.config import Settings
from channelhub.process.helpdesk.intents import (
    DEFINITIONS,
    MAX_CHARS,
    Classification,
    Intent,
    IntentClassifier,
    offline_classifier,
)

log = structlog.get_logger(__name__)


_PROMPT = (
    "You classify one customer message sent to an online shop's helpdesk. The label is the "
    "customer's main request, one of:\n"
    + "\n".join(f"- {intent}: {definition}" for intent, definition in DEFINITIONS.items())
    + '\nAnswer with one JSON object and nothing else: {"intent": "<label>", "confidence": '
    "<how sure you are, from 0 to 1>}."
)


class LlmClassifier:
    """An OpenAI-compatible ``POST {url}/chat/completions``. Any failure — timeout, HTTP
    error, an answer that is not the JSON asked for, an unknown label, a confidence outside
    0..1 — is logged and answered by ``fallback`` instead, so a classification never fails
    because the LLM did."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        model: str,
        http: httpx.AsyncClient,
        fallback: IntentClassifier,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        """``url``: the API's base, e.g. ``https://api.openai.com/v1``; ``api_key``: sent as
        a bearer token (None for a local server that wants none)."""
        self._endpoint = f"{url.rstrip('/')}/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self._http = http
        self._fallback = fallback
        self._timeout_s = timeout_s

    async def classify(self, text: str, language: str | None) -> Classification:
        request = {
            "model": self._model,
            "messages": [
                {"role": "system", "content": _PROMPT},
                {"role": "user", "content": text[:MAX_CHARS]},
            ],
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        try:
            response = await self._http.post(
                self._endpoint, json=request, headers=self._headers, timeout=self._timeout_s
            )
            response.raise_for_status()
            return _read_answer(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            log.warning(
                "helpdesk.intent_llm_failed",
                model=self._model,
                error=f"{type(exc).__name__}: {exc}"[:500],
            )
        return await self._fallback.classify(text, language)


def _read_answer(body: Any) -> Classification:
    """The classification in a chat-completions answer; ``ValueError`` for anything else.
    The JSON object is taken from the first ``{`` to the last ``}``, as some models wrap it
    in a code fence or a sentence despite being asked not to."""
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError("no message in the answer") from exc
    if not isinstance(content, str):
        raise ValueError("the message content is not text")
    start, end = content.find("{"), content.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the message")
    answer = json.loads(content[start : end + 1])
    if not isinstance(answer, dict):
        raise ValueError("the JSON is not an object")
    label = answer.get("intent")
    if not isinstance(label, str):
        raise ValueError(f"intent {label!r} is not a label")
    intent = Intent(label)
    confidence = answer.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise ValueError(f"confidence {confidence!r} is not a number")
    if not 0 <= confidence <= 1:  # also refuses NaN
        raise ValueError(f"confidence {confidence!r} is outside 0..1")
    return Classification(intent, float(confidence), "llm")


def classifier_from_settings(settings: Settings, http: httpx.AsyncClient) -> IntentClassifier:
    """The LLM when ``helpdesk_llm_url`` is set (backed by the offline model), else the
    offline model alone."""
    if settings.helpdesk_llm_url is None:
        return offline_classifier()
    key = settings.helpdesk_llm_api_key
    return LlmClassifier(
        settings.helpdesk_llm_url,
        key.get_secret_value() if key else None,
        settings.helpdesk_llm_model,
        http,
        offline_classifier(),
        timeout_s=settings.helpdesk_llm_timeout_s,
    )
