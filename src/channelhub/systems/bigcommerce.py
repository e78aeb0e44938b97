"""BigCommerce: callbacks carry only ids, so the connector fetches the order (its products,
addresses and shipments) from the store's REST API with the connection's token; stock is
pushed back as absolute inventory adjustments.

A webhook is authenticated by the custom header set when the hook was created:
``X-Channelhub-Token: <the connection's webhook secret>`` (BigCommerce echoes the hook's
``headers`` on every callback). A delivery is identified by ``scope`` and ``hash``
(BigCommerce's own advice: the same event carries the same hash).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import utc_now
from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.processor import Park
from channelhub.platform.inbox.store import Delivery, body_digest
from channelhub.process.connections import service as connections
from channelhub.process.connections.service import ConnectionContext
from channelhub.process.orders import schemas as orders
from channelhub.systems.common import (
    Api,
    check_shared_value,
    field,
    header,
    json_body,
    minor_units,
    unsupported,
)
from channelhub.systems.stock import SHOP_WIDE, PushItem
from channelhub.systems.storefront import (
    AddressKeys,
    StoreLine,
    StoreOrder,
    StoreShipment,
    postal_address,
    record_order,
    record_refund,
    record_shipments,
)

TOKEN_HEADER = "X-Channelhub-Token"  # noqa: S105 - a header name, not a secret
DEFAULT_LOCATION = 1
"""BigCommerce's default inventory location."""
_ADJUSTMENTS_LIMIT = 2000

# Status ids (BigCommerce's fixed list): what each says about payment and the order.
_INCOMPLETE = 0
_PAID = {2, 3, 8, 9, 10, 11}
_SHIPPED = {2, 3, 10}
_CANCELLED = {5, 6}
_REFUNDED = 4
_ORDER_SCOPES = ("store/order/created", "store/order/updated", "store/order/statusUpdated")
_STOCK_SCOPES = ("store/product/inventory/updated", "store/sku/inventory/updated")


class Receiver:
    name = "bigcommerce"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        check_shared_value(secret, header(headers, TOKEN_HEADER), "BigCommerce")

    def identify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        try:
            callback = json.loads(body)
            return Delivery(f"{callback['scope']}:{callback['hash']}", str(callback["scope"]))
        except (ValueError, KeyError, TypeError):
            return Delivery(body_digest(body), "unknown")


def _time(value: str | None) -> Any:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise Park(f"{value!r} is not an RFC 2822 date") from exc


_ADDRESS = AddressKeys(
    line1="street_1", line2="street_2", postal_code="zip", region="state", country="country_iso2"
)


def store_order(
    order: Mapping[str, Any], products: Sequence[Mapping[str, Any]], addresses: Sequence[Any]
) -> StoreOrder:
    currency = str(field(order, "currency_code"))
    status = int(field(order, "status_id"))
    billing = order.get("billing_address") or {}
    paid = status in _PAID or order.get("payment_status") == "captured"
    return StoreOrder(
        external_id=str(field(order, "id")),
        number=str(order["id"]),
        email=str(field(billing, "email")),
        phone=str(billing.get("phone") or ""),
        name=f"{billing.get('first_name', '')} {billing.get('last_name', '')}".strip(),
        currency=currency,
        lines=[
            StoreLine(
                sku=str(field(line, "sku")),
                quantity=int(field(line, "quantity")),
                unit_price=minor_units(
                    line.get("price_ex_tax") or line.get("base_price"), currency
                ),
                title=str(line.get("name") or ""),
                external_id=str(line.get("id", "")),
            )
            for line in products
        ],
        shipping=minor_units(order.get("shipping_cost_ex_tax"), currency),
        discount=minor_units(order.get("discount_amount"), currency),
        total=minor_units(field(order, "total_inc_tax"), currency),
        payment_status=(
            orders.PaymentStatus.refunded
            if status == _REFUNDED
            else orders.PaymentStatus.paid
            if paid
            else orders.PaymentStatus.pending
        ),
        confirmed=paid,
        cancelled=status in _CANCELLED,
        cancel_reason=f"BigCommerce status {order.get('status', status)}",
        shipping_address=postal_address(addresses[0] if addresses else {}, _ADDRESS)
        or postal_address(billing, _ADDRESS),
        billing_address=postal_address(billing, _ADDRESS),
        placed_at=_time(order.get("date_created")),
        updated_at=_time(order.get("date_modified")),
        notes=str(order.get("customer_message") or "")[:5000],
    )


def _shipments(
    shipments: Sequence[Mapping[str, Any]], products: Sequence[Mapping[str, Any]]
) -> list[StoreShipment]:
    sku_of = {line.get("id"): str(line.get("sku")) for line in products}
    return [
        StoreShipment(
            external_id=str(shipment.get("id")),
            carrier=str(
                shipment.get("tracking_carrier") or shipment.get("shipping_provider") or ""
            ),
            tracking_number=str(shipment.get("tracking_number") or ""),
            tracking_url=str(shipment.get("tracking_link") or ""),
            items={
                sku_of[item["order_product_id"]]: int(item["quantity"])
                for item in shipment.get("items", [])
                if item.get("order_product_id") in sku_of
            },
        )
        for shipment in shipments
    ]


class BigCommerce:
    receiver = Receiver()

    def _headers(self, ctx: ConnectionContext) -> dict[str, str]:
        return {"X-Auth-Token": ctx.credentials["access_token"], "Accept": "application/json"}

    async def _get(self, api: Api, ctx: ConnectionContext, path: str) -> Any:
        response = await api.send(
            f"bigcommerce:{ctx.id}", "GET", f"{ctx.base_url}/{path}", headers=self._headers(ctx)
        )
        return response.json() if response.content else []

    async def handle(
        self, session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, api: Api
    ) -> str:
        callback = json_body(record)
        data = field(callback, "data")
        if record.topic in _ORDER_SCOPES:
            return await self._order(session, ctx, api, int(field(data, "id")))
        if record.topic == "store/shipment/created":
            return await self._order(session, ctx, api, int(field(data, "orderId")))
        if record.topic in _STOCK_SCOPES:
            # The hub owns the figure the store shows: heal any change made there.
            return "stock changed in BigCommerce: the hub's figure will be pushed back"
        raise unsupported(record.topic)

    async def _order(
        self, session: AsyncSession, ctx: ConnectionContext, api: Api, order_id: int
    ) -> str:
        order = await self._get(api, ctx, f"v2/orders/{order_id}")
        if int(field(order, "status_id")) == _INCOMPLETE:
            return f"order {order_id} is incomplete (an abandoned checkout): not recorded"
        products = await self._get(api, ctx, f"v2/orders/{order_id}/products")
        addresses = await self._get(api, ctx, f"v2/orders/{order_id}/shipping_addresses")
        refs = {
            str(line["sku"]): {
                "product_id": line.get("product_id"),
                "variant_id": line.get("variant_id"),
            }
            for line in products
            if line.get("sku")
        }
        await connections.remember_skus(session, ctx.id, refs, utc_now())
        mapped = store_order(order, products, addresses)
        done = await record_order(session, ctx, mapped)
        status = int(order["status_id"])
        if status in _SHIPPED:
            shipments = await self._get(api, ctx, f"v2/orders/{order_id}/shipments")
            done += "; " + await record_shipments(
                session, ctx, mapped.external_id, _shipments(shipments, products)
            )
        if status == _REFUNDED:
            refunded = minor_units(order.get("refunded_amount"), mapped.currency) or mapped.total
            done += "; " + await record_refund(
                session, ctx, mapped.external_id, refunded, "refunded in BigCommerce"
            )
        return done

    async def push(self, api: Api, ctx: ConnectionContext, items: Sequence[PushItem]) -> None:
        """Absolute inventory adjustments, up to 2,000 items a request."""
        lines = [
            {
                "location_id": int(location) if location != SHOP_WIDE else DEFAULT_LOCATION,
                **(
                    {"variant_id": int(item.refs["variant_id"])}
                    if item.refs.get("variant_id")
                    else {"sku": item.sku}
                ),
                "quantity": quantity,
            }
            for item in items
            for location, quantity in item.figures.items()
        ]
        for start in range(0, len(lines), _ADJUSTMENTS_LIMIT):
            await api.send(
                f"bigcommerce:{ctx.id}",
                "PUT",
                f"{ctx.base_url}/v3/inventory/adjustments/absolute",
                headers=self._headers(ctx),
                json={
                    "reason": "channelhub stock sync",
                    "items": lines[start : start + _ADJUSTMENTS_LIMIT],
                },
            )

    async def read(
        self, api: Api, ctx: ConnectionContext, items: Sequence[PushItem]
    ) -> dict[str, dict[str, int | None]]:
        """Each variant's inventory level as the catalog shows it."""
        found: dict[str, dict[str, int | None]] = {}
        for item in items:
            product, variant = item.refs.get("product_id"), item.refs.get("variant_id")
            if not product or not variant:
                found[item.sku] = {SHOP_WIDE: None}
                continue
            answer = await self._get(api, ctx, f"v3/catalog/products/{product}/variants/{variant}")
            found[item.sku] = {SHOP_WIDE: answer.get("data", {}).get("inventory_level")}
        return found
