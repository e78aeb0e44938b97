"""Carrier tracking webhooks, verified as each carrier signs them, become tracking events
in one vocabulary with the carrier's own code and words kept."""

from __future__ import annotations

from typing import Any

from channelhub.hub import Hub
from tests.fixtures.connections import FIXTURES, connect
from tests.fixtures.orders import Orders

TRACKING = "1Z999AA10123456784"


def raw(system: str, name: str) -> bytes:
    """The fixture's exact bytes: the documented test signatures are over them."""
    return (FIXTURES / system / name).read_bytes()


async def shipped_order(orders: Orders) -> dict[str, Any]:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    return await orders.ship(order, tracking_number=TRACKING)


async def shipment(orders: Orders, shipment_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = await orders.get(f"/v1/shipments/{shipment_id}")
    return answer


async def test_easypost_tracker_updates(hub: Hub, orders: Orders) -> None:
    parcel = await shipped_order(orders)
    easypost = await connect(hub, orders.client, "easypost", "A1B2C3")

    moving = await easypost.send(
        raw("easypost", "tracker_updated.json"),
        {
            "X-Hmac-Signature": "hmac-sha256-hex="
            "4f3307ddd8e39eafabc9bb981c3e85b68f00f29a55c48313c189b2b80e4c162d",
            "content-type": "application/json",
        },
    )
    await easypost.process()
    in_transit = await shipment(orders, parcel["id"])
    await easypost.send(
        raw("easypost", "tracker_updated_delivered.json"),
        {
            "X-Hmac-Signature": "hmac-sha256-hex="
            "7ba1b983d6120d518761ddcf3fc63df5e3d095258de5247bc0429a1a9c25f2be"
        },
    )
    await easypost.process()
    delivered = await shipment(orders, parcel["id"])

    assert moving.status_code == 200
    assert (in_transit["status"], in_transit["carrier_status_code"]) == (
        "in_transit",
        "in_transit/departed_facility",
    )
    assert in_transit["events"][-1]["carrier_text"] == "DEPARTURE SCAN"
    assert in_transit["estimated_delivery"] == "2024-04-23"
    assert delivered["status"] == "delivered"
    assert (await orders.get(f"/v1/orders/{parcel['order_id']}"))["status"] == "delivered"


async def test_easypost_checks_the_signature_with_a_normalised_secret(
    hub: Hub, orders: Orders
) -> None:
    await shipped_order(orders)
    easypost = await connect(hub, orders.client, "easypost", "sécret")
    body = raw("easypost", "tracker_updated.json")

    right = await easypost.send(
        body,
        {
            "X-Hmac-Signature": "hmac-sha256-hex="
            "b1a099d10defa89de287da16efd8b867c08047a066f23e557dbb9dfe7617b479"
        },
    )
    wrong = await easypost.send(body, {"X-Hmac-Signature": "hmac-sha256-hex=00"})

    assert (right.status_code, wrong.status_code) == (200, 401)


async def test_aftership_tracking_updates(hub: Hub, orders: Orders) -> None:
    parcel = await shipped_order(orders)
    aftership = await connect(hub, orders.client, "aftership", "aftership-test-secret")

    await aftership.send(
        raw("aftership", "tracking_update.json"),
        {"aftership-hmac-sha256": "y1rbN4D2lTNsNAotxWNL/DkKOOJ+ZJWwcID0bqc7h90="},
    )
    await aftership.process()
    moving = await shipment(orders, parcel["id"])
    await aftership.send(
        raw("aftership", "tracking_update_delivered.json"),
        {"aftership-hmac-sha256": "KTWRMr0McyENTa9RKYg7lwhV0GAuKAipouNQgmDiitk="},
    )
    await aftership.process()

    assert (moving["status"], moving["carrier_status_code"]) == ("in_transit", "InTransit_007")
    assert moving["events"][-1]["location"] == "Hickory, NC, United States"
    assert (await shipment(orders, parcel["id"]))["status"] == "delivered"


async def test_ups_track_alerts(hub: Hub, orders: Orders) -> None:
    parcel = await shipped_order(orders)
    ups = await connect(hub, orders.client, "ups", "ups-subscription-credential")
    alert = raw("ups", "track_alert.json")

    forged = await ups.send(alert, {"credential": "guess"})
    await ups.send(alert, {"credential": "ups-subscription-credential"})
    again = await ups.send(alert, {"credential": "ups-subscription-credential"})
    await ups.send(
        raw("ups", "track_alert_delivered.json"), {"credential": "ups-subscription-credential"}
    )
    await ups.process()
    tracked = await shipment(orders, parcel["id"])

    assert forged.status_code == 401
    assert again.json()["duplicate"] is True
    assert [(e["status"], e["carrier_code"]) for e in tracked["events"]] == [
        ("in_transit", "I/DP"),
        ("delivered", "D/FS"),
    ]
    assert tracked["events"][0]["carrier_text"] == "On the Way"


async def test_an_update_before_its_shipment_exists_is_parked_then_replayed(
    hub: Hub, orders: Orders
) -> None:
    aftership = await connect(hub, orders.client, "aftership", "aftership-test-secret")
    await aftership.send(
        raw("aftership", "tracking_update.json"),
        {"aftership-hmac-sha256": "y1rbN4D2lTNsNAotxWNL/DkKOOJ+ZJWwcID0bqc7h90="},
    )
    await aftership.process()
    [parked] = await aftership.inbox(status="parked")

    parcel = await shipped_order(orders)
    await orders.post(f"/v1/inbox/{parked['id']}/replay")
    await aftership.process()

    assert parked["reason"] == f"no shipment has tracking number '{TRACKING}' (yet)"
    assert (await shipment(orders, parcel["id"]))["status"] == "in_transit"
