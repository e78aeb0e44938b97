"""The portal without a browser: pages, forms and cookies as a shopper's browser sees
them, on both databases."""

from __future__ import annotations

import httpx

from channelhub.experience.app import create_app
from channelhub.hub import Hub
from tests.experience.web.conftest import find_order, page, ready_pickup_order
from tests.fixtures.hub import TenantKeys, http_client, new_tenant
from tests.fixtures.orders import Orders


def cookie_header(response: httpx.Response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))


async def test_finding_an_order_shows_what_every_channel_says(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    order = await ready_pickup_order(orders)

    found = await find_order(browser, tenant, " NW-1001 ", "ANA@example.com ")
    shown = page(await browser.get(found.headers["location"], headers={"Accept-Language": "en"}))
    told = await orders.status(order["id"], "en")

    assert found.status_code == 303
    assert found.headers["location"] == f"/portal/{tenant.slug}/order"
    cookie = cookie_header(found, "chp_order")
    assert f"Path=/portal/{tenant.slug}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; https pages set it
    assert shown.status_code == "ready_for_pickup" == told["code"]
    assert shown.text("headline") == told["headline"]
    assert shown.text("next-step") == told["next_step"]
    assert shown.text("pickup-state") == "Open now"
    assert not shown.has("choice-title")


async def test_the_form_names_each_field_at_fault_and_keeps_the_input(
    tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    answer = await find_order(browser, tenant, "", "ana at example")
    shown = page(answer)

    assert answer.status_code == 422
    assert shown.text("number-error") == "Enter your order number."
    assert shown.text("email-error") == "Enter an e-mail address such as name@example.com."
    email = shown.by_id("email").attrs
    assert (email["value"], email["aria-invalid"]) == ("ana at example", "true")
    assert email["aria-describedby"] == "email-error"
    assert "chp_order" not in answer.headers.get("set-cookie", "")


async def test_a_wrong_email_and_an_unknown_number_get_the_same_page(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    await ready_pickup_order(orders)

    wrong_email = await find_order(browser, tenant, "NW-1001", "eve@example.com")
    unknown = await find_order(browser, tenant, "NW-1099", "ana@example.com")

    def without_input(response: httpx.Response, *typed: str) -> str:
        html = response.text
        for value in typed:
            html = html.replace(f'value="{value}"', 'value=""')
        return html

    assert (wrong_email.status_code, unknown.status_code) == (404, 404)
    assert page(unknown).text("notice") == (
        "No order matches this number and e-mail address. Please check both."
    )
    assert without_input(wrong_email, "NW-1001", "eve@example.com") == without_input(
        unknown, "NW-1099", "ana@example.com"
    )
    assert "chp_order" not in str(browser.cookies)


async def test_portal_and_api_look_ups_share_one_guessing_budget(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    await ready_pickup_order(orders)
    through_api = [
        await browser.post(
            f"/v1/self-service/{tenant.slug}/orders/lookup",
            json={"number": "NW-1001", "email": f"guess{n}@example.com"},
        )
        for n in range(3)
    ]
    through_portal = [
        await find_order(browser, tenant, "NW-1001", f"other{n}@example.com") for n in range(2)
    ]

    refused = await find_order(browser, tenant, "NW-1001", "ana@example.com")

    assert [a.status_code for a in through_api + through_portal] == [404] * 5
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert page(refused).text("notice").startswith("Too many attempts.")
    assert "chp_order" not in str(browser.cookies)


async def test_a_form_without_its_csrf_token_changes_nothing(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    order = await ready_pickup_order(orders)
    await orders.close_store(orders.shop.store_id)
    await find_order(browser, tenant)
    lookup = await browser.post(
        f"/portal/{tenant.slug}/lookup",
        data={"number": "NW-1001", "email": "ana@example.com", "csrf_token": "forged"},
    )

    forged = await browser.post(
        f"/portal/{tenant.slug}/order/closure-choice",
        data={"option": "ship_home", "csrf_token": "0" * 64},
    )
    missing = await browser.post(
        f"/portal/{tenant.slug}/order/closure-choice", data={"option": "cancel"}
    )

    assert lookup.status_code == 403
    assert "chp_order" not in lookup.headers.get("set-cookie", "")
    assert (forged.status_code, missing.status_code) == (403, 403)
    assert page(forged).text("notice") == "This form had expired. Please send it again."
    after = await orders.get(f"/v1/orders/{order['id']}")
    assert (after["status"], after["action_needed"]) == ("ready_for_pickup", "store_closed")


async def test_a_planted_csrf_cookie_cannot_act_on_someone_elses_order(
    hub: Hub, orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    """An attacker who can plant cookies (a sibling subdomain) plants their own nonce and
    sends the token the portal gave them: it does not fit the victim's order cookie."""
    order = await ready_pickup_order(orders)
    await orders.close_store(orders.shop.store_id)
    await find_order(browser, tenant)
    async with http_client(hub) as attacker:
        shown = page(await attacker.get(f"/portal/{tenant.slug}"))
        planted = attacker.cookies["chp_csrf"]
    browser.cookies.set("chp_csrf", planted, path="/portal")

    cancelled = await browser.post(
        f"/portal/{tenant.slug}/order/closure-choice",
        data={"option": "cancel", "csrf_token": shown.csrf},
    )

    assert cancelled.status_code == 403
    after = await orders.get(f"/v1/orders/{order['id']}")
    assert after["status"] == "ready_for_pickup"


async def test_the_shopper_chooses_free_delivery_after_the_store_closed(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    order = await ready_pickup_order(orders)
    await orders.close_store(orders.shop.store_id)
    await find_order(browser, tenant)
    before = page(await browser.get(f"/portal/{tenant.slug}/order?lang=en"))

    chosen = await browser.post(
        f"/portal/{tenant.slug}/order/closure-choice",
        data={"csrf_token": before.csrf, "option": "ship_home"},
    )
    after = page(await browser.get(f"/portal/{tenant.slug}/order"))

    assert before.status_code == "action_needed"
    assert before.text("headline") == "Your pickup store Porto store is closed."
    assert [e.attrs["value"] for e in before.all("input", name="option")] == [
        "ship_home",
        "cancel",
    ]
    assert before.text("pickup-state") == "Temporarily closed"
    assert chosen.status_code == 303
    assert after.status_code == "confirmed"
    assert after.text("headline") == (await orders.status(order["id"], "en"))["headline"]
    group = (await orders.get(f"/v1/orders/{order['id']}"))["groups"][0]
    assert (group["method"], group["shipping_waived"]) == ("ship", True)


async def test_a_choice_that_is_not_offered_is_refused_on_the_page(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=1)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    await orders.close_store(orders.shop.store_id)
    await find_order(browser, tenant)
    shown = page(await browser.get(f"/portal/{tenant.slug}/order?lang=en"))

    unknown = await browser.post(
        f"/portal/{tenant.slug}/order/closure-choice",
        data={"csrf_token": shown.csrf, "option": "teleport"},
    )
    unavailable = await browser.post(
        f"/portal/{tenant.slug}/order/closure-choice",
        data={"csrf_token": shown.csrf, "option": "ship_home"},
    )

    assert unknown.status_code == 422
    assert page(unknown).text("option-error") == "Choose one of the options."
    assert unavailable.status_code == 409
    assert page(unavailable).text("notice") == (
        "That option is not available any more. Please choose another."
    )
    assert (await orders.status(order["id"]))["code"] == "action_needed"


async def test_a_delivered_order_can_be_returned_from_the_page(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 2))
    shipment = await orders.ship(order)
    await orders.scan(shipment["id"], "delivered", "2026-11-27T10:00:00Z")
    line = order["lines"][0]["id"]
    await find_order(browser, tenant)
    shown = page(await browser.get(f"/portal/{tenant.slug}/order?lang=en"))

    too_many = await browser.post(
        f"/portal/{tenant.slug}/order/returns",
        data={"csrf_token": shown.csrf, f"quantity-{line}": "3", "reason": "damaged"},
    )
    not_numbers = [
        await browser.post(
            f"/portal/{tenant.slug}/order/returns",
            data={"csrf_token": shown.csrf, f"quantity-{line}": quantity, "reason": "damaged"},
        )
        for quantity in ("\u00b2", "9" * 5000, "-1", "1.5")
    ]
    started = await browser.post(
        f"/portal/{tenant.slug}/order/returns",
        data={
            "csrf_token": shown.csrf,
            f"quantity-{line}": "1",
            "reason": "too_small",
            "note": "one is enough",
        },
    )
    after = page(await browser.get(f"/portal/{tenant.slug}/order"))

    assert shown.status_code == "delivered"
    assert shown.by_id(f"quantity-{line}").attrs["max"] == "2"
    assert [e.text for e in shown.all("li") if "Delivered" in e.text] != []
    assert too_many.status_code == 422
    assert page(too_many).text(f"quantity-{line}-error") == "Choose between 0 and 2."
    assert [r.status_code for r in not_numbers] == [422] * 4
    assert started.status_code == 303
    assert after.status_code == "return_requested"
    returns = await orders.get(f"/v1/orders/{order['id']}/returns")
    assert [(r["reason"], r["note"], r["items"], r["requested_by"]) for r in returns] == [
        ("too_small", "one is enough", [{"line_id": line, "quantity": 1}], "customer")
    ]


async def test_an_email_link_opens_the_order_and_leaves_the_address_bar(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    order = await ready_pickup_order(orders)
    link = await orders.post(f"/v1/orders/{order['id']}/customer-link")

    opened = await browser.get(f"/portal/{tenant.slug}/order?token={link['token']}&lang=pt")
    shown = page(await browser.get(opened.headers["location"]))
    forged = await browser.get(f"/portal/{tenant.slug}/order?token={link['token'][:-3]}xyz")

    assert opened.status_code == 303
    assert opened.headers["location"] == f"/portal/{tenant.slug}/order?lang=pt"
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert link["token"] in cookie_header(opened, "chp_order")
    assert shown.status_code == "ready_for_pickup"
    assert shown.first("html").attrs["lang"] == "pt"
    assert forged.status_code == 401
    assert page(forged).has("number")


async def test_a_link_from_another_shop_opens_nothing(
    hub: Hub, orders: Orders, browser: httpx.AsyncClient
) -> None:
    order = await ready_pickup_order(orders)
    link = await orders.post(f"/v1/orders/{order['id']}/customer-link")
    elsewhere = await new_tenant(hub, "other")

    answer = await browser.get(f"/portal/{elsewhere.slug}/order?token={link['token']}")

    assert answer.status_code == 401
    assert "chp_order" not in answer.headers.get("set-cookie", "")


async def test_the_order_page_needs_the_order_cookie(
    tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    page_answer = await browser.get(f"/portal/{tenant.slug}/order")
    live = await browser.get(f"/portal/{tenant.slug}/order/events")

    assert page_answer.status_code == 303
    assert page_answer.headers["location"] == f"/portal/{tenant.slug}"
    assert live.status_code == 401


async def test_the_language_follows_the_browser_then_the_shoppers_choice(
    tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    spanish = page(
        await browser.get(f"/portal/{tenant.slug}", headers={"Accept-Language": "es-ES,en;q=0.5"})
    )
    chosen = await browser.get(f"/portal/{tenant.slug}?lang=cs", headers={"Accept-Language": "es"})
    spanish_browser = {"Accept-Language": "es"}
    kept = page(await browser.get(f"/portal/{tenant.slug}/stores", headers=spanish_browser))
    unknown = page(
        await browser.get(f"/portal/{tenant.slug}?lang=xx", headers={"Accept-Language": "de"})
    )

    assert spanish.first("html").attrs["lang"] == "es"
    assert spanish.first("h1").text == "Buscar mi pedido"
    assert page(chosen).first("h1").text == "Najít objednávku"
    assert chosen.headers["content-language"] == "cs"
    assert "chp_lang=cs" in cookie_header(chosen, "chp_lang")
    assert kept.first("h1").text == "Naše prodejny"
    assert unknown.first("html").attrs["lang"] == "cs"  # the remembered choice
    current = [e.text for e in spanish.all("a", **{"aria-current": "true"})]
    assert current == ["Español"]


async def test_the_order_speaks_the_orders_language_when_the_browser_has_none_of_ours(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    order = await ready_pickup_order(orders)
    await find_order(browser, tenant)

    german = {"Accept-Language": "de"}
    shown = page(await browser.get(f"/portal/{tenant.slug}/order", headers=german))

    assert shown.first("html").attrs["lang"] == "pt"
    assert shown.text("headline") == (await orders.status(order["id"], "pt"))["headline"]
    assert shown.text("pickup-title") == "Loja de levantamento"


async def test_the_store_finder_shows_each_store_open_or_closed(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    always = [{"opens": "00:00", "closes": "24:00"}]
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    hours = await orders.client.put(
        f"/v1/locations/{orders.other_store_id}/hours",
        json={"weekly": dict.fromkeys(days, always)},
    )
    never = await orders.client.post(
        "/v1/locations",
        json={
            "code": "ST-BRAGA",
            "name": "Braga store",
            "kind": "store",
            "address": {"line1": "Rua do Souto 1", "city": "Braga", "country": "PT"},
            "timezone": "Europe/Lisbon",
            "ships": False,
            "pickup": False,
        },
    )
    await orders.client.put(
        f"/v1/locations/{never.json()['id']}/hours", json={"weekly": {day: [] for day in days}}
    )
    await orders.close_store(orders.shop.store_id, "flooding")

    answer = await browser.get(f"/portal/{tenant.slug}/stores?lang=en")
    shown = page(answer)
    stores = {
        " ".join(e.text.split()).split(" ")[0]: e.attrs["data-state"]
        for e in shown.all("li")
        if "data-state" in e.attrs
    }
    states = [
        " ".join(e.text.split()) for e in shown.elements if "state" in e.attrs.get("class", "")
    ]

    assert hours.status_code == 200, hours.text
    assert answer.status_code == 200
    assert stores == {"Braga": "closed", "Gaia": "open", "Porto": "temporarily_closed"}
    assert sorted(state.split(" · ")[0] for state in states) == [
        "Closed now",
        "Open now",
        "Temporarily closed",
    ]
    assert "flooding" not in answer.text  # the reason is for agents
    assert "warehouse" not in answer.text
    assert "<td>00:00\N{EN DASH}24:00</td>" in answer.text


async def test_unknown_shops_and_bad_cursors_get_clear_pages(
    tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    no_shop = await browser.get("/portal/no-such-shop-here")
    bad_slug = await browser.get("/portal/Not_A_Slug/stores")
    bad_cursor = await browser.get(f"/portal/{tenant.slug}/stores?cursor=%%%")

    assert (no_shop.status_code, bad_slug.status_code) == (404, 404)
    assert page(no_shop).first("h1").text == "Shop not found"
    assert bad_cursor.status_code == 422
    assert page(bad_cursor).first("h1").text == "Our stores"


async def test_over_https_every_cookie_is_secure(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    await ready_pickup_order(orders)
    transport = httpx.ASGITransport(app=create_app(hub, run_background=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as browser:
        form = await browser.get(f"/portal/{tenant.slug}?lang=en")
        found = await find_order(browser, tenant)

    for answer, name in ((form, "chp_csrf"), (form, "chp_lang"), (found, "chp_order")):
        assert "Secure" in cookie_header(answer, name)
        assert "HttpOnly" in cookie_header(answer, name)


async def test_forgetting_the_order_removes_it_from_the_browser(
    orders: Orders, tenant: TenantKeys, browser: httpx.AsyncClient
) -> None:
    await ready_pickup_order(orders)
    await find_order(browser, tenant)
    shown = page(await browser.get(f"/portal/{tenant.slug}/order"))

    forgotten = await browser.post(
        f"/portal/{tenant.slug}/order/forget", data={"csrf_token": shown.csrf}
    )
    again = await browser.get(f"/portal/{tenant.slug}/order")

    assert forgotten.status_code == 303
    assert forgotten.headers["location"] == f"/portal/{tenant.slug}"
    assert again.status_code == 303
    assert again.headers["location"] == f"/portal/{tenant.slug}"
