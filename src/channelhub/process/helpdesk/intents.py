"""What a customer's message is about: one of 13 intents, with a confidence.

The offline model needs nothing outside the process: it is trained, on first use, from the
labelled set packaged in ``training/`` (see its README and ``evaluation.py`` for how well it
does). An OpenAI-compatible chat-completions API can classify instead when
``CHANNELHUB_HELPDESK_LLM_URL`` is set (``channelhub.systems.llm``); the offline model
answers whenever that API fails.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

MAX_CHARS = 2000
"""Only the start of a message is classified: the request is at the top, and a pasted
log or newsletter further down would only add noise (and time)."""


class Intent(StrEnum):
    where_is_my_order = "where_is_my_order"
    delivery_options = "delivery_options"
    cancel_order = "cancel_order"
    change_order = "change_order"
    change_address = "change_address"
    return_exchange = "return_exchange"
    refund = "refund"
    damaged_or_wrong_item = "damaged_or_wrong_item"
    payment_invoice = "payment_invoice"
    pre_sale_question = "pre_sale_question"
    account = "account"
    complaint = "complaint"
    other = "other"


DEFINITIONS: Mapping[Intent, str] = {
    Intent.where_is_my_order: "The customer asks about the status, location, tracking or "
    'expected arrival of an order already placed, including "marked delivered but not '
    'received" and "is it ready for pickup"; if they only protest about lateness and don\'t '
    "ask where the order is, use `complaint`.",
    Intent.delivery_options: "A question about shipping methods, destinations, costs, speeds, "
    "carriers, pickup points or click & collect, asked in general or before ordering, not "
    "about a specific order in transit.",
    Intent.cancel_order: "The customer wants a whole order (or pre-order or subscription "
    "shipment) cancelled or asks how to cancel. Removing one item and keeping the rest is "
    "`change_order`.",
    Intent.change_order: "The customer wants to change the contents or options of an order "
    "that hasn't shipped yet: items, size, colour, quantity, shipping speed, pickup instead of "
    "delivery, gift wrap or message, discount code, payment method, or delivery date. "
    "Changing only the address or recipient is `change_address`.",
    Intent.change_address: "The customer wants to correct or change the delivery address, "
    "recipient name, or delivery point (locker, pickup shop, neighbour) of an existing order, "
    "including redirecting a parcel already in transit.",
    Intent.return_exchange: "The customer wants to send back or swap an item that isn't faulty "
    "(fit, taste, colour differs from the photos, changed mind) or asks about the return "
    "policy, labels or drop-off. If the item is broken, faulty, wrong or missing, use "
    "`damaged_or_wrong_item`; if they only ask about the money for a return already sent, "
    "use `refund`.",
    Intent.refund: "The customer asks for money back or about a refund's status, amount or "
    "method: after a return, a cancellation, a double charge, a price drop or an unused "
    "coupon. Asking for money back instead of a replacement is `refund`.",
    Intent.damaged_or_wrong_item: "The delivered goods are damaged, defective, incomplete, "
    "counterfeit, or not what was ordered (wrong item, size, colour or variant), whatever "
    "remedy is asked for.",
    Intent.payment_invoice: "Payment methods, failed or pending payments, gift cards at "
    "checkout, instalments, and invoices or receipts: issuing, correcting, VAT or company "
    "details, downloads.",
    Intent.pre_sale_question: "A question about a product, stock, sizing, compatibility, "
    "warranty, discounts or shops, asked before buying.",
    Intent.account: "Login, password, registration, profile data, saved cards and addresses, "
    "loyalty points, newsletter and notification settings, account deletion, and "
    "data-protection (GDPR) requests.",
    Intent.complaint: "The main point is dissatisfaction with service, staff, couriers, "
    "quality in general, prices, advertising or repeated lateness, with no other concrete "
    'request. A complaint attached to a concrete request (e.g. "where is my order, this is '
    "ridiculous\") gets the request's label.",
    Intent.other: "Unrelated or ambiguous messages: thanks, greetings, tests, job applications, "
    "spam or marketing offers, partnership, press, supplier and affiliate enquiries, opening "
    "hours, lost property, small talk.",
}
"""The labelling rules of the dataset (its README's table, word for word): what the LLM is
told, so both classifiers draw the same borders."""


@dataclass(frozen=True)
class Classification:
    intent: Intent
    confidence: float
    """0 to 1: the offline model's probability of ``intent``, or what the LLM said."""
    source: str
    """``model`` (offline) or ``llm``."""


class IntentClassifier(Protocol):
    async def classify(self, text: str, language: str | None) -> Classification:
        """The main request of a message (the caller passes subject and new text, quoted
        history stripped). Never raises for what the text contains."""


@dataclass(frozen=True)
class Example:
    """A labelled message of the packaged dataset."""

    text: str
    language: str
    intent: Intent


@functools.cache
def load_examples() -> tuple[Example, ...]:
    """The packaged dataset (``training/intents.csv``), in file order."""
    path = resources.files("channelhub.process.helpdesk").joinpath("training", "intents.csv")
    lines = path.read_text(encoding="utf-8").splitlines()  # every message is one line
    return tuple(
        Example(row["text"], row["language"], Intent(row["intent"]))
        for row in csv.DictReader(lines, strict=True)
    )


_URL = re.compile(r"(?:https?://|www\.)\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"[#\w/-]*\d[\w/-]*")
"""Any token with a digit: ``#1001``, ``NW-1234``, ``100045321``, ``2-4``, ``15``."""


def normalise(text: str) -> str:
    """Lower-cased, with URLs, e-mail addresses and anything holding a digit replaced by
    placeholders, and whitespace collapsed. Order numbers recur within a label in the
    dataset (the same number across languages), so left in they would teach the model
    that ``5521`` means a refund."""
    text = _URL.sub(" _url_ ", text[:MAX_CHARS].lower())
    text = _EMAIL.sub(" _email_ ", text)
    return " ".join(_NUMBER.sub(" _num_ ", text).split())


def _pipeline() -> Any:
    """Word 1-2-grams for the phrasing, character 2-5-grams within words for typos, missing
    accents and inflections; multinomial logistic regression for calibrated-enough
    probabilities. newton-cg is deterministic (no random state involved) and, on this data,
    about twice as fast as lbfgs. C=10 and these n-gram ranges gave the best held-out
    macro-F1 of the variants tried (linear SVM, SGD, narrower n-grams, higher min_df).

    scikit-learn is imported here, at the first training, not with the module: importing
    it takes a second and a half, which every CLI verb would otherwise pay at start."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    return make_pipeline(
        make_union(
            TfidfVectorizer(preprocessor=normalise, ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(
                preprocessor=normalise,
                analyzer="char_wb",
                ngram_range=(2, 5),
                min_df=2,
                sublinear_tf=True,
            ),
        ),
        LogisticRegression(C=10, solver="newton-cg", max_iter=1000),
    )


class OfflineClassifier:
    """The in-process model. It is trained on first use (1-4 s for the packaged set,
    depending on the machine), once: concurrent first calls wait for the same training,
    which runs in a worker thread. A prediction then takes one or two milliseconds, so
    ``classify`` runs it on the event loop."""

    def __init__(self, examples: Sequence[Example] | None = None) -> None:
        """``examples``: what to train on; the packaged dataset when omitted."""
        self._examples = examples
        self._model: Any = None
        self._lock = threading.Lock()

    def train(self) -> None:
        """Train now rather than on first use (a no-op once trained)."""
        self._trained()

    def classify_text(self, text: str) -> Classification:
        """``classify``, synchronously (evaluation, benchmarks); the first call trains."""
        model = self._trained()
        probabilities = model.predict_proba([text])[0]
        best = int(probabilities.argmax())
        return Classification(Intent(model.classes_[best]), float(probabilities[best]), "model")

    async def classify(self, text: str, language: str | None) -> Classification:
        if self._model is None:
            await asyncio.to_thread(self._trained)  # keeps the event loop free while training
        return self.classify_text(text)

    def _trained(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._train()
        return self._model

    def _train(self) -> Any:
        examples = load_examples() if self._examples is None else self._examples
        started = time.perf_counter()
        model = _pipeline().fit([e.text for e in examples], [e.intent.value for e in examples])
        log.info(
            "helpdesk.intent_model_trained",
            examples=len(examples),
            seconds=round(time.perf_counter() - started, 2),
        )
        return model


@functools.cache
def offline_classifier() -> OfflineClassifier:
    """The process's model trained on the packaged dataset (on its first use)."""
    return OfflineClassifier()
