"""Finding a person's identifiers as people and systems write them, and replacing them
with pseudonyms that give nothing away."""

from __future__ import annotations

import json
from email.message import EmailMessage

import pytest

from channelhub.process.privacy.pseudonyms import REDACTED_BODY, Kind, Matcher, Pseudonyms

ANA = [
    (Kind.email, "ana.silva@example.com"),
    (Kind.phone, "+351 912 345 678"),
    (Kind.name, "Ana Silva"),
    (Kind.street, "Rua das Flores 12"),
]


@pytest.fixture
def matcher() -> Matcher:
    return Matcher(ANA, Pseudonyms(token="t0k"))


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        pytest.param("Ana.Silva@Example.COM", "erased-t0k@erased.invalid", id="email-any-case"),
        pytest.param(
            "https://x.example/track?to=ana.silva%40example.com",
            "https://x.example/track?to=erased-t0k@erased.invalid",
            id="email-percent-encoded",
        ),
        pytest.param("call +351912345678", "call erased-t0k", id="phone-compact"),
        pytest.param("call 912-345-678 now", "call erased-t0k now", id="phone-national"),
        pytest.param("(00351) 912 345 678", "(erased-t0k", id="phone-international-prefix"),
        pytest.param("Dear ana  SILVA,", "Dear erased-t0k,", id="name-spacing-and-case"),
        pytest.param("at rua das flores 12.", "at erased-t0k.", id="street"),
    ],
)
def test_identifiers_are_found_as_written(matcher: Matcher, text: str, scrubbed: str) -> None:
    assert matcher.sub(text) == scrubbed


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("xana.silva@example.com", id="longer-address-before"),
        pytest.param("ana.silva@example.com.br", id="longer-domain"),
        pytest.param("ref 99123456789", id="inside-a-longer-number"),
        pytest.param("Anastasia Silvana", id="inside-other-words"),
        pytest.param("Rua das Flores 123", id="another-door"),
    ],
)
def test_other_peoples_data_is_left_alone(matcher: Matcher, text: str) -> None:
    assert matcher.sub(text) == text


def test_pseudonyms_are_random_per_erasure_and_distinct_per_identifier() -> None:
    first, second = Pseudonyms(), Pseudonyms()
    addresses = [first.email("ana@example.com"), first.email("ANA@example.com ")]

    assert first.email("ana@example.com") != second.email("ana@example.com")
    assert addresses == [addresses[0]] * 2, "one address, however written, one pseudonym"
    assert first.email("ana.work@example.com") == f"erased-{first.token}-2@erased.invalid"
    assert first.phone("+351 912 345 678") == first.phone("+351912345678")
    assert first.contact("912 345 678") == f"erased-{first.token}-2"
    assert first.email("") == ""


def test_json_documents_keep_their_shape(matcher: Matcher) -> None:
    document = {"customer": {"name": "Ana Silva", "ana.silva@example.com": 1}, "total": 2500}

    assert matcher.walk(document) == {
        "customer": {"name": "erased-t0k", "erased-t0k@erased.invalid": 1},
        "total": 2500,
    }


def test_stored_json_is_rewritten_even_where_it_escapes_characters() -> None:
    joao = Matcher([(Kind.name, "João Antão")], Pseudonyms(token="t0k"))
    stored = json.dumps({"name": "João Antão", "total": 2500}).encode()
    assert b"Jo\\u00e3o" in stored

    scrubbed = joao.scrub_bytes(stored)

    assert json.loads(scrubbed) == {"name": "erased-t0k", "total": 2500}


def test_mail_that_hides_the_person_in_encodings_is_redacted_whole(matcher: Matcher) -> None:
    mail = EmailMessage()
    mail["From"] = "Ana Silva <someone@example.net>"
    mail["Subject"] = "Olá"
    mail.set_content("Sou a Ana Silva, Rua das Flores 12.", cte="base64")
    raw = mail.as_bytes()
    assert b"Flores" not in raw.split(b"\n\n", 1)[1]

    assert matcher.scrub_bytes(raw) == REDACTED_BODY
    assert matcher.scrub_bytes(b"nothing about her") == b"nothing about her"


def test_plain_bytes_are_rewritten_in_place(matcher: Matcher) -> None:
    assert matcher.scrub_bytes(b"to: ana.silva@example.com\xff") == (
        b"to: erased-t0k@erased.invalid\xff"
    )
