"""The customer's one-click rating page, as the link in a resolving reply opens it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from channelhub.experience.rest.tokens import sign_order
from channelhub.hub import Hub
from tests.fixtures.helpdesk import Desk
from tests.fixtures.html import page
from tests.fixtures.hub import TenantKeys


async def resolved_ticket(
    desk: Desk, text: str = "Could you tell me whether you deliver to Madeira island, please?"
) -> tuple[str, str]:
    """(ticket id, rating page path) of a chat an agent answered and resolved: the path
    is the one the reply carried to the customer."""
    accepted = await desk.chat(text)
    ticket_id = accepted["ticket_id"]
    reply = await desk.client.post(
        f"/v1/tickets/{ticket_id}/replies", json={"text": "Yes, we do.", "resolve": True}
    )
    assert reply.status_code == 201, reply.text
    links = re.findall(r"(\S+)\?score=5", reply.json()["text"])
    assert len(links) == 1
    return ticket_id, urlsplit(links[0]).path


async def test_one_click_records_the_score_and_thanks(
    desk: Desk, browser: httpx.AsyncClient
) -> None:
    ticket_id, path = await resolved_ticket(desk)

    answer = await browser.get(f"{path}?score=4")

    assert answer.status_code == 200
    shown = page(answer)
    assert shown.text("thanks") == "Thank you for your rating!"
    assert shown.text("rated") == "You rated us 4 out of 5."
    assert shown.by_id("score-4").attrs["aria-current"] == "true"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    view = await desk.ticket(ticket_id)
    assert (view["ticket"]["csat_score"], view["ticket"]["csat_comment"]) == (4, "")
    rated = [a for a in view["activities"] if a["kind"] == "rated"]
    assert [(a["actor"], a["detail"]) for a in rated] == [("customer", {"score": 4})]


async def test_without_a_score_the_five_choices_are_shown(
    desk: Desk, browser: httpx.AsyncClient
) -> None:
    ticket_id, path = await resolved_ticket(desk)

    answer = await browser.get(path)

    assert answer.status_code == 200
    shown = page(answer)
    assert shown.first("h1").text == "How did we do?"
    links = [shown.by_id(f"score-{n}") for n in range(1, 6)]
    assert [link.attrs["href"] for link in links] == [f"{path}?score={n}" for n in range(1, 6)]
    assert " ".join(links[0].text.split()) == "1 · Bad"
    assert (await desk.ticket(ticket_id))["ticket"]["csat_score"] is None


async def test_a_comment_joins_the_rating(desk: Desk, browser: httpx.AsyncClient) -> None:
    ticket_id, path = await resolved_ticket(desk)
    thanks = page(await browser.get(f"{path}?score=2"))

    commented = await browser.post(
        path, data={"csrf_token": thanks.csrf, "score": "2", "comment": " Too slow. "}
    )

    assert commented.status_code == 200
    assert page(commented).text("thanks") == "Thank you for your comment!"
    assert not page(commented).all("textarea")
    ticket = (await desk.ticket(ticket_id))["ticket"]
    assert (ticket["csat_score"], ticket["csat_comment"]) == (2, "Too slow.")


async def test_a_comment_without_its_csrf_token_changes_nothing(
    desk: Desk, browser: httpx.AsyncClient
) -> None:
    ticket_id, path = await resolved_ticket(desk)
    await browser.get(f"{path}?score=3")

    missing = await browser.post(path, data={"score": "1", "comment": "Forged"})
    forged = await browser.post(
        path, data={"score": "1", "comment": "Forged", "csrf_token": "0" * 64}
    )

    assert (missing.status_code, forged.status_code) == (403, 403)
    assert page(forged).text("notice") == "This form had expired. Please send it again."
    assert page(forged).by_id("comment").text == "Forged"
    ticket = (await desk.ticket(ticket_id))["ticket"]
    assert (ticket["csat_score"], ticket["csat_comment"]) == (3, "")


async def test_a_token_of_another_rating_link_does_not_fit(
    desk: Desk, browser: httpx.AsyncClient
) -> None:
    first_id, first = await resolved_ticket(desk)
    second_id, second = await resolved_ticket(desk)
    thanks = page(await browser.get(f"{first}?score=5"))

    crossed = await browser.post(
        second, data={"csrf_token": thanks.csrf, "score": "1", "comment": "Crossed"}
    )

    assert crossed.status_code == 403
    assert (await desk.ticket(second_id))["ticket"]["csat_score"] is None
    assert (await desk.ticket(first_id))["ticket"]["csat_score"] == 5


async def test_a_score_out_of_range_records_nothing(desk: Desk, browser: httpx.AsyncClient) -> None:
    ticket_id, path = await resolved_ticket(desk)

    answers = [await browser.get(f"{path}?score={raw}") for raw in ("0", "6", "five", "")]

    assert [a.status_code for a in answers] == [400, 400, 400, 400]
    assert page(answers[0]).text("notice") == "Choose a score from 1 to 5."
    assert page(answers[0]).has("score-1"), "the choices are offered again"
    assert (await desk.ticket(ticket_id))["ticket"]["csat_score"] is None


async def test_an_invalid_link_gets_a_friendly_page(
    hub: Hub, desk: Desk, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    ticket_id, path = await resolved_ticket(desk)
    token = path.rsplit("/", 1)[1]
    middle = len(token) - 10  # inside the signature, where every bit counts
    altered = token[:middle] + ("B" if token[middle] == "A" else "A") + token[middle + 1 :]
    async with hub.db.transaction() as session:
        order_link = await sign_order(session, hub.settings, tenant.tenant_id, ticket_id)

    answers = [
        await browser.get(f"/helpdesk/rate/{bad}?score=1")
        for bad in ("nonsense", altered, order_link)
    ]

    assert [a.status_code for a in answers] == [404, 404, 404]
    shown = page(answers[0])
    assert shown.first("h1").text == "This link is not valid"
    assert (await desk.ticket(ticket_id))["ticket"]["csat_score"] is None


async def test_the_page_speaks_the_customers_language(
    desk: Desk, browser: httpx.AsyncClient
) -> None:
    ticket_id, path = await resolved_ticket(
        desk, "Olá, fazem entregas na ilha da Madeira? Obrigada."
    )
    assert (await desk.ticket(ticket_id))["ticket"]["language"] == "pt"

    rated = page(await browser.get(f"{path}?score=5"))
    asked = page(await browser.get(f"{path}?lang=es"))

    assert rated.first("html").attrs["lang"] == "pt", "the ticket's, over the browser's"
    assert rated.text("thanks") == "Obrigado pela sua avaliação!"
    assert rated.text("rated") == "Deu-nos 5 em 5."
    assert asked.first("h1").text == "¿Qué tal lo hicimos?"
    assert (await desk.ticket(ticket_id))["ticket"]["csat_score"] == 5
