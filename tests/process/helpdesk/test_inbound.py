"""Messages into tickets: linking, classifying, routing, merging, drafting, answering."""

from __future__ import annotations

from channelhub.process.customers.schemas import CustomerUpsert
from channelhub.process.customers.service import upsert_customer
from channelhub.process.helpdesk.schemas import MessageIn
from channelhub.process.helpdesk.service import receive_message
from channelhub.process.orders.schemas import ExternalRef
from tests.fixtures.helpdesk import BUYER, Desk
from tests.fixtures.hub import TenantKeys, http_client, new_tenant


async def test_a_wismo_chat_is_linked_classified_routed_and_drafted(desk: Desk) -> None:
    order = await desk.shipped_order()
    queue = await desk.queue("Orders", first_response_minutes=60, resolution_minutes=480)
    await desk.rule("WISMO", conditions={"intents": ["where_is_my_order"]}, queue_id=queue["id"])

    accepted = await desk.chat(f"Hi, where is my order {order['number']}? It has not arrived.")

    view = await desk.ticket(accepted["ticket_id"])
    ticket = view["ticket"]
    assert ticket["order_id"] == order["id"]
    assert ticket["order_verified"] is True
    assert ticket["intent"] == "where_is_my_order"
    assert ticket["language"] == "en"
    assert ticket["queue_id"] == queue["id"]
    assert ticket["first_response_due"] is not None
    assert ticket["resolution_due"] > ticket["first_response_due"]
    assert "1Z999" in ticket["draft"], "the draft carries the live tracking"
    assert view["order"]["number"] == order["number"]
    assert view["order_lines"][0]["sku"] == "TENT-1"
    assert [m["direction"] for m in view["messages"]] == ["in"]


async def test_messages_about_one_order_from_its_buyer_become_one_ticket(desk: Desk) -> None:
    order = await desk.shipped_order()
    first = await desk.chat(f"Where is order {order['number']}?")
    second = await desk.chat(f"Hello again, any news on {order['number']}?", name="Ana")

    assert second["ticket_id"] == first["ticket_id"]
    view = await desk.ticket(first["ticket_id"])
    assert len(view["messages"]) == 2
    (merge,) = view["merges"]
    assert merge["reason"].startswith("auto:")
    assert merge["undone_at"] is None


async def test_an_automatic_merge_can_be_undone(desk: Desk) -> None:
    order = await desk.shipped_order()
    first = await desk.chat(f"Where is order {order['number']}?")
    await desk.chat(f"Can I still cancel {order['number']}?")
    merge_id = (await desk.ticket(first["ticket_id"]))["merges"][0]["id"]

    undone = await desk.client.post(f"/v1/ticket-merges/{merge_id}/undo")

    assert undone.status_code == 200, undone.text
    source_id = undone.json()["source_id"]
    assert len((await desk.ticket(first["ticket_id"]))["messages"]) == 1
    split = await desk.ticket(source_id)
    assert split["ticket"]["status"] == "open"
    assert split["messages"][0]["text"].startswith("Can I still cancel")
    again = await desk.client.post(f"/v1/ticket-merges/{merge_id}/undo")
    assert again.status_code == 409
    assert again.json()["code"] == "merge_undone"


async def test_a_stranger_naming_an_order_is_not_merged_nor_trusted(desk: Desk) -> None:
    order = await desk.shipped_order()
    buyer = await desk.chat(f"Where is order {order['number']}?")
    stranger = await desk.chat(f"Where is order {order['number']}?", email="eve@example.org")

    assert stranger["ticket_id"] != buyer["ticket_id"]
    ticket = (await desk.ticket(stranger["ticket_id"]))["ticket"]
    assert ticket["order_id"] == order["id"], "agents still see which order is meant"
    assert ticket["order_verified"] is False


async def test_a_repeated_message_is_stored_once(desk: Desk) -> None:
    first = await desk.message("chat", "Do you ship to Madeira?", external_id="chat-same")
    repeat = await desk.message("chat", "Do you ship to Madeira?", external_id="chat-same")

    assert first.status_code == 201
    assert repeat.status_code == 200
    assert repeat.json() == {**first.json(), "duplicate": True}


async def test_a_chat_thread_stays_one_ticket_and_reopens_it(desk: Desk) -> None:
    first = await desk.chat("Do you have the tent in green?", thread_id="conv-1")
    reply = await desk.client.post(
        f"/v1/tickets/{first['ticket_id']}/replies", json={"text": "Yes!", "resolve": True}
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["send_status"] == "published"

    later = await desk.chat("Great, and in blue?", thread_id="conv-1")

    assert later["ticket_id"] == first["ticket_id"]
    ticket = (await desk.ticket(first["ticket_id"]))["ticket"]
    assert ticket["status"] == "open"
    assert ticket["next_response_due"] is None, "the queue-less ticket has no SLA"


async def test_a_queue_can_answer_wismo_by_itself_for_the_buyer_only(desk: Desk) -> None:
    order = await desk.shipped_order()
    queue = await desk.queue("Auto", auto_answer_wismo=True)
    await desk.rule("all", queue_id=queue["id"])

    buyer = await desk.chat(f"Where is my order {order['number']}?")
    stranger = await desk.chat(f"Where is my order {order['number']}?", email="eve@example.org")

    answered = await desk.ticket(buyer["ticket_id"])
    auto = [m for m in answered["messages"] if m["kind"] == "auto_reply"]
    assert len(auto) == 1
    assert "1Z999" in auto[0]["text"]
    assert answered["ticket"]["deflected"] is True
    assert answered["ticket"]["status"] == "pending"
    assert answered["ticket"]["first_responded_at"] is not None
    other = await desk.ticket(stranger["ticket_id"])
    assert [m["kind"] for m in other["messages"]] == ["message"]
    assert other["ticket"]["deflected"] is False


async def test_round_robin_assigns_online_agents_in_turn(desk: Desk) -> None:
    first = await desk.agent("Rita")
    second = await desk.agent("Sam")
    await desk.agent("Off", online=False)
    await desk.rule("everyone", round_robin=True)

    assigned = [
        (await desk.ticket((await desk.chat(f"Question {n} about sizes"))["ticket_id"]))["ticket"][
            "assignee_id"
        ]
        for n in range(4)
    ]

    assert assigned == [first["id"], second["id"], first["id"], second["id"]]


async def test_rules_match_order_value_and_customer_tier(desk: Desk, tenant: TenantKeys) -> None:
    big = await desk.queue("Big orders")
    vip = await desk.queue("VIP")
    async with desk.hub.db.transaction() as session:
        await upsert_customer(
            session,
            tenant.principal,
            CustomerUpsert(
                external_id=ExternalRef(system="crm", id="c1"), email="vip@example.com", tier="vip"
            ),
        )
    await desk.rule("vip", position=1, conditions={"customer_tiers": ["vip"]}, queue_id=vip["id"])
    await desk.rule("big", position=2, conditions={"min_order_total": 1000}, queue_id=big["id"])
    order = await desk.shipped_order()

    about_order = await desk.chat(f"Question about {order['number']}")
    from_vip = await desk.chat("Hello!", email="vip@example.com")

    assert (await desk.ticket(about_order["ticket_id"]))["ticket"]["queue_id"] == big["id"]
    assert (await desk.ticket(from_vip["ticket_id"]))["ticket"]["queue_id"] == vip["id"]


async def test_bad_input_names_the_field(desk: Desk) -> None:
    email_channel = await desk.message("email", "hello")
    no_text = await desk.message("chat", "")
    bad_rule = await desk.client.post(
        "/v1/helpdesk/rules", json={"name": "x", "queue_id": "que_nope"}
    )

    assert email_channel.status_code == 422
    assert no_text.status_code == 422
    assert bad_rule.status_code == 422
    assert "queue_id" in bad_rule.text


async def test_tickets_are_invisible_to_other_tenants(desk: Desk) -> None:
    accepted = await desk.chat("Hello there")
    other = await new_tenant(desk.hub)
    async with http_client(desk.hub, other.admin_key) as client:
        response = await client.get(f"/v1/tickets/{accepted['ticket_id']}")
    assert response.status_code == 404
    assert response.json()["code"] == "ticket_not_found"


async def test_an_agent_assigns_resolves_and_reopens_a_ticket(desk: Desk) -> None:
    agent = await desk.agent("Rita")
    queue = await desk.queue("Q", resolution_minutes=600)
    accepted = await desk.chat("Is the lamp dimmable?")
    path = f"/v1/tickets/{accepted['ticket_id']}"

    assigned = await desk.client.patch(
        path, json={"assignee_id": agent["id"], "queue_id": queue["id"]}
    )
    resolved = await desk.client.patch(path, json={"status": "resolved"})
    reopened = await desk.client.patch(path, json={"status": "pending"})
    wrong = await desk.client.patch(path, json={"assignee_id": "agt_nobody"})

    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["resolution_due"] is not None
    assert resolved.json()["resolved_at"] is not None
    assert resolved.json()["resolution_due"] is None
    assert reopened.json()["resolved_at"] is None
    assert reopened.json()["resolution_due"] is not None
    assert wrong.status_code == 422
    assert "assignee_id" in wrong.text


async def test_a_requester_nobody_vouches_for_is_never_merged_nor_verified(
    desk: Desk, tenant: TenantKeys
) -> None:
    order = await desk.shipped_order()
    buyer = await desk.chat(f"Where is order {order['number']}?")
    data = MessageIn.model_validate(
        {
            "channel": "chat",
            "external_id": "widget-1",
            "requester": {"email": BUYER},
            "text": f"Where is order {order['number']}?",
        }
    )
    async with desk.hub.db.transaction() as session:
        typed = await receive_message(
            session, tenant.principal, data, desk.hub.helpdesk, sender_trusted=False
        )
    linked = await desk.client.patch(
        f"/v1/tickets/{typed.ticket_id}", json={"order_id": order["id"]}
    )

    assert typed.ticket_id != buyer["ticket_id"]
    assert linked.json()["order_verified"] is False


async def test_undoing_a_merge_inside_a_chain_gives_the_messages_back(desk: Desk) -> None:
    a, b, c = [
        (await desk.chat(f"Question {n} about tents", email=f"c{n}@example.org"))["ticket_id"]
        for n in range(3)
    ]
    first = (await desk.client.post(f"/v1/tickets/{b}/merge", json={"source_id": a})).json()
    await desk.client.post(f"/v1/tickets/{c}/merge", json={"source_id": b})

    undone = await desk.client.post(f"/v1/ticket-merges/{first['id']}/undo")

    assert undone.status_code == 200, undone.text
    assert [m["text"] for m in (await desk.ticket(a))["messages"]] == ["Question 0 about tents"]
    assert len((await desk.ticket(c))["messages"]) == 2


async def test_a_template_that_fails_on_a_ticket_never_loses_the_message(desk: Desk) -> None:
    saved = await desk.client.put(
        "/v1/helpdesk/templates/acknowledgement/en",
        json={"name": "ack", "body": "Hi {{ customer_name }}, thanks!"},
    )
    refused = await desk.client.put(
        "/v1/helpdesk/templates/acknowledgement/en",
        json={"name": "ack", "body": "Carrier: {{ tracking[0].carrier }}"},
    )

    accepted = await desk.chat("Do you have the tent in green? I would like two of them.")

    assert saved.status_code == 200, saved.text
    assert refused.status_code == 422
    assert refused.json()["code"] == "template_invalid"
    assert refused.json()["errors"][0]["pointer"] == "#/body"
    assert (await desk.ticket(accepted["ticket_id"]))["ticket"]["draft"].startswith("Hi Ana")


async def test_two_marketplaces_ids_do_not_collide(desk: Desk) -> None:
    amazon = await desk.message(
        "marketplace",
        "Is the lamp in stock?",
        external_id="1001",
        marketplace="amazon",
        buyer_id="A1",
        thread_id="77",
    )
    ebay = await desk.message(
        "marketplace",
        "Do you ship to Spain?",
        external_id="1001",
        marketplace="ebay",
        buyer_id="E1",
        thread_id="77",
        email="other@example.org",
    )

    assert amazon.status_code == 201, amazon.text
    assert ebay.status_code == 201, ebay.text
    assert ebay.json()["ticket_id"] != amazon.json()["ticket_id"]


async def test_nulls_and_duplicate_names_are_clear_errors(desk: Desk) -> None:
    accepted = await desk.chat("Hello, a question about sizes")
    first = await desk.queue("One")
    await desk.queue("Two")

    nulls = await desk.client.patch(
        f"/v1/tickets/{accepted['ticket_id']}", json={"status": None, "tags": None}
    )
    clash = await desk.client.put(f"/v1/helpdesk/queues/{first['id']}", json={"name": "Two"})

    assert nulls.status_code == 422
    assert clash.status_code == 409
    assert clash.json()["code"] == "conflict"
