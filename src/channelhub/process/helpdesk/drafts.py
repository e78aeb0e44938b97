"""Reply templates and drafted replies.

Templates are Jinja text rendered in the same bounded sandbox as customer messages, with
placeholders filled from the order-status Process API (the same words the portal and the
status API show). The hub ships a template per key in each helpdesk language; a tenant's
own (same key and language) replaces it.

A draft is the reply an agent would start from: for "where is my order?" with a linked
order, the live status and tracking; otherwise an acknowledgement with the tenant's policy
text for the intent. It is deterministic (same ticket, same draft) and never sent as it is,
except by a queue's WISMO auto-answer, which only ever answers the order's own buyer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channelhub.process.helpdesk.intents import Intent
from channelhub.process.notifications.templates import render_text
from channelhub.process.orders.schemas import CustomerStatus

WISMO = "wismo"
ACKNOWLEDGEMENT = "acknowledgement"
RETURN_APPROVED = "return_approved"
PARTIAL_REFUND = "partial_refund"
KEYS = (WISMO, ACKNOWLEDGEMENT, RETURN_APPROVED, PARTIAL_REFUND)
LANGUAGES = ("en", "pt", "es", "it", "cs", "fr", "de")

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "hello": "Hello",
        "about": "Thank you for your message about order",
        "thanks": "Thank you for your message.",
        "ask_number": "If it is about an order, please tell us its order number.",
        "soon": "An agent will answer you shortly.",
        "return_approved": "Good news: your return for order {{ order_number }} is approved. "
        "Please send the items back within {{ return_days }} days; the refund follows once "
        "they arrive.",
        "partial_refund": "We have refunded {{ refund_amount }} for order {{ order_number }}: "
        "{{ reason }}.",
    },
    "pt": {
        "hello": "Olá",
        "about": "Obrigado pela sua mensagem sobre a encomenda",
        "thanks": "Obrigado pela sua mensagem.",
        "ask_number": "Se for sobre uma encomenda, indique-nos o número da encomenda.",
        "soon": "Um agente vai responder-lhe em breve.",
        "return_approved": "Boas notícias: a devolução da encomenda {{ order_number }} foi "
        "aprovada. Envie os artigos no prazo de {{ return_days }} dias; o reembolso segue "
        "quando chegarem.",
        "partial_refund": "Reembolsámos {{ refund_amount }} da encomenda {{ order_number }}: "
        "{{ reason }}.",
    },
    "es": {
        "hello": "Hola",
        "about": "Gracias por tu mensaje sobre el pedido",
        "thanks": "Gracias por tu mensaje.",
        "ask_number": "Si es sobre un pedido, indícanos su número de pedido.",
        "soon": "Un agente te responderá en breve.",
        "return_approved": "Buenas noticias: la devolución del pedido {{ order_number }} está "
        "aprobada. Envía los artículos en un plazo de {{ return_days }} días; el reembolso "
        "llegará cuando los recibamos.",
        "partial_refund": "Hemos reembolsado {{ refund_amount }} del pedido {{ order_number }}: "
        "{{ reason }}.",
    },
    "it": {
        "hello": "Ciao",
        "about": "Grazie per il tuo messaggio sull'ordine",
        "thanks": "Grazie per il tuo messaggio.",
        "ask_number": "Se riguarda un ordine, indicaci il numero dell'ordine.",
        "soon": "Un operatore ti risponderà a breve.",
        "return_approved": "Buone notizie: il reso dell'ordine {{ order_number }} è approvato. "
        "Rispedisci gli articoli entro {{ return_days }} giorni; il rimborso segue al loro "
        "arrivo.",
        "partial_refund": "Abbiamo rimborsato {{ refund_amount }} per l'ordine "
        "{{ order_number }}: {{ reason }}.",
    },
    "cs": {
        "hello": "Dobrý den",
        "about": "Děkujeme za zprávu k objednávce",
        "thanks": "Děkujeme za vaši zprávu.",
        "ask_number": "Pokud jde o objednávku, napište nám prosím její číslo.",
        "soon": "Náš pracovník vám brzy odpoví.",
        "return_approved": "Dobrá zpráva: vrácení objednávky {{ order_number }} je schváleno. "
        "Zboží prosím pošlete zpět do {{ return_days }} dnů; peníze vrátíme po jeho přijetí.",
        "partial_refund": "Vrátili jsme {{ refund_amount }} za objednávku {{ order_number }}: "
        "{{ reason }}.",
    },
    "fr": {
        "hello": "Bonjour",
        "about": "Merci pour votre message concernant la commande",
        "thanks": "Merci pour votre message.",
        "ask_number": "S'il s'agit d'une commande, indiquez-nous son numéro.",
        "soon": "Un conseiller vous répondra rapidement.",
        "return_approved": "Bonne nouvelle : le retour de la commande {{ order_number }} est "
        "accepté. Renvoyez les articles sous {{ return_days }} jours ; le remboursement suit "
        "leur réception.",
        "partial_refund": "Nous avons remboursé {{ refund_amount }} pour la commande "
        "{{ order_number }} : {{ reason }}.",
    },
    "de": {
        "hello": "Hallo",
        "about": "Danke für Ihre Nachricht zur Bestellung",
        "thanks": "Danke für Ihre Nachricht.",
        "ask_number": "Falls es um eine Bestellung geht, nennen Sie uns bitte die Bestellnummer.",
        "soon": "Ein Mitarbeiter antwortet Ihnen in Kürze.",
        "return_approved": "Gute Nachricht: Die Rücksendung zu Bestellung {{ order_number }} "
        "ist genehmigt. Bitte senden Sie die Artikel innerhalb von {{ return_days }} Tagen "
        "zurück; die Erstattung folgt nach Eingang.",
        "partial_refund": "Wir haben {{ refund_amount }} für Bestellung {{ order_number }} "
        "erstattet: {{ reason }}.",
    },
}


def _built_in(key: str, language: str) -> str:
    """A hub template. Block tags stand on lines of their own, which the sandbox (trimming
    blocks) drops whole, so the text keeps exactly the line breaks written here."""
    w = _WORDS[language]
    hello = w["hello"]
    greeting = f"{{{{ ('{hello} ' ~ customer_name ~ ',') if customer_name else '{hello},' }}}}\n\n"
    if key == WISMO:
        body = (
            f"{w['about']} {{{{ order_number }}}}. {{{{ headline }}}}\n"
            "{% for t in tracking %}\n"
            "- {{ t.carrier }} {{ t.tracking_number }}: {{ t.status }}"
            "{{ (' (' ~ t.url ~ ')') if t.url else '' }}\n"
            "{% endfor %}\n"
            "{% if next_step %}\n{{ next_step }}\n{% endif %}\n"
        )
    elif key == ACKNOWLEDGEMENT:
        body = (
            f"{w['thanks']}\n"
            "{% if order_number %}\n{{ order_number }}: {{ headline }}\n{% else %}\n"
            f"{w['ask_number']}\n"
            "{% endif %}\n"
            "{% if policy %}\n\n{{ policy }}\n{% endif %}\n"
            f"\n{w['soon']}\n"
        )
    else:
        body = w[key] + "\n"
    return greeting + body + "{% if signature %}\n\n{{ signature }}\n{% endif %}\n"


BUILT_IN: dict[tuple[str, str], str] = {
    (key, language): _built_in(key, language) for key in KEYS for language in LANGUAGES
}

SAMPLE: dict[str, Any] = {
    "customer_name": "Ana",
    "order_number": "1001",
    "headline": "Your order is on its way.",
    "next_step": "It should arrive on Friday.",
    "eta": "Friday",
    "tracking": [
        {"carrier": "DHL", "tracking_number": "JD0001", "status": "In transit", "url": ""}
    ],
    "store": "",
    "return_days": 30,
    "refund_amount": "10.00 EUR",
    "reason": "one item arrived damaged",
    "agent_name": "Sam",
    "signature": "The support team",
    "policy": "",
}
"""Values of a ticket about a shipped order (every placeholder a template may use)."""

SAMPLES: tuple[dict[str, Any], ...] = (
    SAMPLE,
    SAMPLE
    | {
        "order_number": "",
        "headline": "",
        "next_step": "",
        "eta": "",
        "tracking": [],
        "refund_amount": "",
        "reason": "",
        "agent_name": "",
        "customer_name": "",
    },
)
"""What a template is checked against when saved: a ticket about a shipped order, and one
with no order at all (a template that works only with an order would fail on the other
tickets; the hub's own then drafts for them)."""


@dataclass(frozen=True)
class Draft:
    text: str
    source: str


def language_of(language: str) -> str:
    return language if language in LANGUAGES else "en"


def context(
    status: CustomerStatus | None,
    *,
    customer_name: str,
    return_days: int,
    signature: str,
    policy: str = "",
    agent_name: str = "",
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A template's placeholders, from the order's live status."""
    found: dict[str, Any] = {
        "customer_name": customer_name,
        "order_number": status.number if status else "",
        "headline": status.headline if status else "",
        "next_step": status.next_step if status else "",
        "eta": status.eta_text or "" if status else "",
        "tracking": [
            {
                "carrier": s.carrier,
                "tracking_number": s.tracking_number,
                "status": s.status_text,
                "url": s.tracking_url,
            }
            for s in (status.shipments if status else [])
        ],
        "store": status.pickup.name if status and status.pickup else "",
        "return_days": return_days,
        "refund_amount": "",
        "reason": "",
        "agent_name": agent_name,
        "signature": signature,
        "policy": policy,
    }
    return found | (values or {})


def render(source: str, values: dict[str, Any]) -> str:
    """A template rendered; ``TemplateInvalid`` (naming ``body``) when it fails."""
    text = render_text("body", source, values)
    return "\n".join(line.rstrip() for line in text.strip().splitlines()) + "\n"


def draft(
    intent: Intent, status: CustomerStatus | None, templates: dict[str, str], values: dict[str, Any]
) -> Draft:
    """The drafted first reply; ``templates`` are the ticket language's, by key."""
    key = WISMO if intent is Intent.where_is_my_order and status is not None else ACKNOWLEDGEMENT
    return Draft(render(templates[key], values), "template")
