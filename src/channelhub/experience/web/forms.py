"""The portal's HTML forms: read an ``application/x-www-form-urlencoded`` body and turn it
into the process layer's own input models, or into errors a shopper can act on (worded
in their language, each tied to the field at fault)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request

from channelhub.platform.i18n import Texts
from channelhub.process.orders import schemas
from channelhub.process.orders.schemas import Email, OrderNumber

MAX_FORM_BYTES = 64 * 1024
"""A return of many lines with a long note fits many times over."""
MAX_FIELDS = 600
QUANTITY_PREFIX = "quantity-"
"""A return form's quantity fields are named ``quantity-<line id>``."""
_NUMBER: TypeAdapter[str] = TypeAdapter(OrderNumber)
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)
_NOTE_MAX = 2000


class FormTooLarge(Exception):
    """The body is larger than any portal form, or has too many fields."""


class FormErrors(Exception):
    """Field name -> what is wrong with it, in the page's language."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


async def read_form(request: Request) -> dict[str, str]:
    """The submitted fields (the last value of a repeated one); FormTooLarge beyond
    MAX_FORM_BYTES or MAX_FIELDS."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge
    try:
        parsed = parse_qs(
            body.decode("utf-8", errors="replace"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
        )
    except ValueError as exc:
        raise FormTooLarge from exc
    return {name: values[-1].replace("\x00", "") for name, values in parsed.items()}


@dataclass(frozen=True)
class Lookup:
    number: str
    email: str


def lookup(t: Texts, form: dict[str, str]) -> Lookup:
    """The order number and e-mail of the find-my-order form, checked by the same rules
    as the REST look-up."""
    errors: dict[str, str] = {}
    number = form.get("number", "").strip()
    email = form.get("email", "").strip()
    if not number:
        errors["number"] = t("Enter your order number.")
    else:
        try:
            number = _NUMBER.validate_python(number)
        except ValidationError:
            errors["number"] = t(
                "An order number has only letters, digits and the signs # . _ / -, "
                "up to 64 characters."
            )
    if not email:
        errors["email"] = t("Enter the e-mail address you ordered with.")
    else:
        try:
            email = _EMAIL.validate_python(email)
        except ValidationError:
            errors["email"] = t("Enter an e-mail address such as name@example.com.")
    if errors:
        raise FormErrors(errors)
    return Lookup(number, email)


def closure_choice(t: Texts, form: dict[str, str]) -> schemas.ClosureChoice:
    """What the shopper chose after their pickup store closed."""
    try:
        option = schemas.ClosureOption(form.get("option", ""))
    except ValueError:
        raise FormErrors({"option": t("Choose one of the options.")}) from None
    location = form.get("location", "").strip() or None
    if option is schemas.ClosureOption.other_store and location is None:
        raise FormErrors({"location": t("Choose the store where you will collect your order.")})
    return schemas.ClosureChoice(
        option=option, location=location if option is schemas.ClosureOption.other_store else None
    )


def return_request(t: Texts, form: dict[str, str], allowed: dict[str, int]) -> schemas.ReturnCreate:
    """The lines, reason and note of the return form; ``allowed`` is the units per line
    that may be returned now (the process layer checks again when the return is made)."""
    errors: dict[str, str] = {}
    items: list[schemas.ItemRequest] = []
    for line_id, most in allowed.items():
        name = QUANTITY_PREFIX + line_id
        raw = form.get(name, "0").strip() or "0"
        if not (raw.isascii() and raw.isdecimal() and len(raw) <= 6) or int(raw) > most:
            errors[name] = t("Choose between 0 and {most}.", most=most)
        elif int(raw) > 0:
            items.append(schemas.ItemRequest(line_id=line_id, quantity=int(raw)))
    if not errors and not items:
        errors["items"] = t("Choose at least one item to return.")
    try:
        reason = schemas.ReturnReason(form.get("reason", ""))
    except ValueError:
        errors["reason"] = t("Choose why you are returning the items.")
    note = form.get("note", "").strip()
    if len(note) > _NOTE_MAX:
        errors["note"] = t("Keep the note under {limit} characters.", limit=_NOTE_MAX)
    if errors:
        raise FormErrors(errors)
    return schemas.ReturnCreate(items=items, reason=reason, note=note)


def reasons(t: Texts) -> list[tuple[str, str]]:
    """The fixed return reasons, worded for the shopper, in the order of the list."""
    words = {
        schemas.ReturnReason.damaged: t("It arrived damaged"),
        schemas.ReturnReason.wrong_item: t("I received the wrong item"),
        schemas.ReturnReason.not_as_described: t("It is not as described"),
        schemas.ReturnReason.too_small: t("Too small"),
        schemas.ReturnReason.too_large: t("Too large"),
        schemas.ReturnReason.changed_mind: t("I changed my mind"),
        schemas.ReturnReason.arrived_late: t("It arrived too late"),
        schemas.ReturnReason.other: t("Another reason"),
    }
    return [(reason.value, words[reason]) for reason in schemas.ReturnReason]
