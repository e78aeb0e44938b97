"""Stock levels from the owning systems: absolute, delta, versions, validation, ledger."""

from __future__ import annotations

from tests.fixtures.inventory import Shop


async def levels(shop: Shop, sku: str) -> dict[str, dict[str, int]]:
    found = (await shop.client.get(f"/v1/stock/{sku}")).json()
    return {lv["location_code"]: lv for lv in found}


async def test_set_adjust_and_safety_stock_give_available_to_promise(shop: Shop) -> None:
    response = await shop.client.post(
        "/v1/stock/updates",
        json={
            "source": "erp",
            "updates": [
                {"sku": "TENT-1", "location": "WH", "on_hand": 10, "safety_stock": 2},
                {"sku": "TENT-1", "location": "WH", "on_hand_delta": -3, "reason": "damaged"},
                {"sku": "TENT-1", "location": "WH-MAD", "on_hand": 4, "incoming": 20},
            ],
        },
    )

    assert response.status_code == 200
    assert (response.json()["applied"], response.json()["ignored"]) == (3, 0)
    wh = (await levels(shop, "TENT-1"))["WH"]
    assert (wh["on_hand"], wh["safety_stock"], wh["available"]) == (7, 2, 5)
    mad = (await levels(shop, "TENT-1"))["WH-MAD"]
    assert (mad["on_hand"], mad["incoming"], mad["available"]) == (4, 20, 4)


async def test_older_version_is_recorded_and_ignored(shop: Shop) -> None:
    def update(on_hand: int, version: int) -> dict[str, object]:
        return {
            "updates": [{"sku": "TENT-1", "location": "WH", "on_hand": on_hand, "version": version}]
        }

    await shop.client.post("/v1/stock/updates", json=update(10, 5))
    late = await shop.client.post("/v1/stock/updates", json=update(99, 4))
    history = (await shop.client.get("/v1/stock/TENT-1/history")).json()["data"]

    assert (late.json()["applied"], late.json()["ignored"]) == (0, 1)
    assert (await levels(shop, "TENT-1"))["WH"]["on_hand"] == 10
    assert history[0]["applied"] is False
    assert history[0]["reason"] == "version 4 is not newer than applied version 5"
    assert (history[0]["on_hand_before"], history[0]["on_hand_after"]) == (10, 10)


async def test_older_timestamp_is_ignored(shop: Shop) -> None:
    def update(on_hand: int, as_of: str) -> dict[str, object]:
        return {
            "updates": [{"sku": "LAMP-1", "location": "WH", "on_hand": on_hand, "as_of": as_of}]
        }

    await shop.client.post("/v1/stock/updates", json=update(8, "2026-11-22T10:00:00Z"))
    late = await shop.client.post("/v1/stock/updates", json=update(1, "2026-11-22T09:59:59Z"))

    assert late.json()["ignored"] == 1
    assert (await levels(shop, "LAMP-1"))["WH"]["on_hand"] == 8


async def test_invalid_row_refuses_the_whole_batch(shop: Shop) -> None:
    await shop.stock(TENT_1__WH=3)

    cases = [
        ({"sku": "NOPE", "location": "WH", "on_hand": 1}, "#/updates/1/sku", 422),
        ({"sku": "TENT-1", "location": "NOWHERE", "on_hand": 1}, "#/updates/1/location", 422),
        (
            {"sku": "TENT-1", "location": "WH", "on_hand_delta": -9},
            "#/updates/1/on_hand_delta",
            422,
        ),
        ({"sku": "TENT-1", "location": "WH", "on_hand": -1}, "#/updates/1/on_hand", 422),
    ]
    for bad, pointer, status in cases:
        response = await shop.client.post(
            "/v1/stock/updates",
            json={"updates": [{"sku": "LAMP-1", "location": "WH", "on_hand": 50}, bad]},
        )
        assert response.status_code == status, bad
        assert response.json()["errors"][0]["pointer"] == pointer

    assert (await levels(shop, "TENT-1"))["WH"]["on_hand"] == 3
    assert "WH" not in await levels(shop, "LAMP-1")


async def test_history_explains_every_figure(shop: Shop) -> None:
    await shop.stock(TENT_2__WH=6)
    reservation = (await shop.reserve(("TENT-2", 2), key="h-1")).json()
    await shop.client.post(f"/v1/reservations/{reservation['id']}/commit")

    history = (await shop.client.get("/v1/stock/TENT-2/history")).json()["data"]

    assert [m["kind"] for m in history] == ["commit", "reserve", "set"]
    commit, reserve, first = history
    assert (first["on_hand_before"], first["on_hand_after"]) == (0, 6)
    assert (reserve["reserved_before"], reserve["reserved_after"]) == (0, 2)
    assert (commit["on_hand_after"], commit["reserved_after"]) == (4, 0)
    assert reserve["reference"] == reservation["id"]
    assert all(m["actor"].startswith("key_") for m in history)
