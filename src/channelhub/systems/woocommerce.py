"""WooCommerce: order and product webhooks (the body is the REST v3 resource), and stock
pushed back through the REST API.

Signed with ``X-WC-Webhook-Signature`` (base64 HMAC-SHA256 of the raw body with the
webhook secret). WooCommerce's delivery id is new on every delivery and it coalesces
quick changes into one delivery built at send time, so a delivery is identified by topic,
resource and ``date_modified_gmt``: the same state twice is the same delivery. The
unsigned ping WooCommerce sends when a webhook is created is acknowledged and ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import utc_now
from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.store import Delivery, body_digest
from channelhub.process.connections import service as connections
from channelhub.process.connections.service import ConnectionContext
from channelhub.process.orders import schemas as orders
from channelhub.systems.common import (
    Api,
    ApiError,
    check_base64_hmac,
    field,
    header,
    json_body,
    minor_units,
    timestamp,
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

PING = "ping"
_PAID = {"processing", "completed", "refunded"}
_CANCELLED = {"cancelled", "failed", "trash"}
_BATCH = 100


class Receiver:
    name = "woocommerce"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        if _is_ping(headers, body):
            return
        check_base64_hmac(secret, body, header(headers, "x-wc-webhook-signature"), "WooCommerce")

    def identify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        if _is_ping(headers, body):
            return Delivery(body_digest(body), PING)
        topic = header(headers, "x-wc-webhook-topic") or "unknown"
        try:
            resource = json.loads(body)
            key = f"{topic}:{resource['id']}:{resource.get('date_modified_gmt', '')}"
        except (ValueError, KeyError, TypeError):
            key = body_digest(body)
        return Delivery(key, topic)


def _is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    return not header(headers, "x-wc-webhook-topic") and body.startswith(b"webhook_id=")


_ADDRESS = AddressKeys(
    line1="address_1", line2="address_2", postal_code="postcode", region="state", country="country"
)


def store_order(order: Mapping[str, Any]) -> StoreOrder:
    currency = str(field(order, "currency"))
    status = str(field(order, "status"))
    billing = order.get("billing") or {}
    paid = bool(order.get("date_paid_gmt")) or status in _PAID
    return StoreOrder(
        external_id=str(field(order, "id")),
        number=str(order.get("number") or order["id"]),
        email=str(field(billing, "email")),
        phone=str(billing.get("phone") or ""),
        name=f"{billing.get('first_name', '')} {billing.get('last_name', '')}".strip(),
        currency=currency,
        lines=[
            StoreLine(
                sku=str(field(line, "sku")),
                quantity=int(field(line, "quantity")),
                unit_price=minor_units(line.get("price"), currency),
                title=str(line.get("name") or ""),
                external_id=str(line.get("id", "")),
            )
            for line in field(order, "line_items")
        ],
        shipping=minor_units(order.get("shipping_total"), currency),
        discount=minor_units(order.get("discount_total"), currency),
        total=minor_units(field(order, "total"), currency),
        payment_status=(
            orders.PaymentStatus.refunded
            if status == "refunded"
            else orders.PaymentStatus.paid
            if paid
            else orders.PaymentStatus.pending
        ),
        confirmed=paid,
        cancelled=status in _CANCELLED,
        cancel_reason=f"WooCommerce status {status}",
        shipping_address=postal_address(order.get("shipping") or {}, _ADDRESS)
        or postal_address(billing, _ADDRESS),
        billing_address=postal_address(billing, _ADDRESS),
        placed_at=timestamp(order.get("date_created_gmt")),
        updated_at=timestamp(order.get("date_modified_gmt")),
        notes=str(order.get("customer_note") or "")[:5000],
    )


class WooCommerce:
    receiver = Receiver()

    async def handle(
        self, session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, api: Api
    ) -> str:
        if record.topic == PING:
            return "webhook ping"
        if record.topic in ("order.created", "order.updated", "order.restored"):
            return await self._order(session, ctx, json_body(record))
        if record.topic in ("product.created", "product.updated"):
            product = json_body(record)
            sku = str(product.get("sku") or "")
            if not sku:
                return f"product {product.get('id')} has no SKU: nothing to map"
            refs = {"product_id": product["id"], "parent_id": product.get("parent_id") or None}
            await connections.remember_skus(session, ctx.id, {sku: refs}, utc_now())
            return f"product {product['id']} is {sku}"
        raise unsupported(record.topic)

    async def _order(
        self, session: AsyncSession, ctx: ConnectionContext, payload: Mapping[str, Any]
    ) -> str:
        order = store_order(payload)
        refs = {
            str(line["sku"]): {
                "product_id": line.get("variation_id") or line.get("product_id"),
                "parent_id": line.get("product_id") if line.get("variation_id") else None,
            }
            for line in payload.get("line_items", [])
            if line.get("sku")
        }
        await connections.remember_skus(session, ctx.id, refs, utc_now())
        done = await record_order(session, ctx, order)
        status = payload.get("status")
        if status == "completed":
            # WooCommerce core has no shipments: "completed" is the order handed over.
            shipped = await record_shipments(
                session, ctx, order.external_id, [StoreShipment("completed", "woocommerce", "")]
            )
            done += f"; {shipped}"
        if status == "refunded":
            refunded = (
                sum(
                    minor_units(r.get("total", "0").lstrip("-"), order.currency)
                    for r in payload.get("refunds", [])
                )
                or order.total
            )
            done += "; " + await record_refund(
                session, ctx, order.external_id, refunded, "refunded in WooCommerce"
            )
        return done

    async def push(self, api: Api, ctx: ConnectionContext, items: Sequence[PushItem]) -> None:
        """Set stock_quantity of each product (or variation), 100 per batch request."""
        auth = httpx.BasicAuth(ctx.credentials["consumer_key"], ctx.credentials["consumer_secret"])
        simple = [i for i in items if not i.refs.get("parent_id")]
        for start in range(0, len(simple), _BATCH):
            batch = simple[start : start + _BATCH]
            response = await api.send(
                f"woocommerce:{ctx.id}",
                "POST",
                f"{ctx.base_url}/wp-json/wc/v3/products/batch",
                auth=auth,
                json={
                    "update": [
                        {
                            "id": int(i.refs["product_id"]),
                            "manage_stock": True,
                            "stock_quantity": i.total,
                        }
                        for i in batch
                    ]
                },
            )
            _check_batch(response)
        for item in (i for i in items if i.refs.get("parent_id")):
            await api.send(
                f"woocommerce:{ctx.id}",
                "PUT",
                f"{ctx.base_url}/wp-json/wc/v3/products/{item.refs['parent_id']}"
                f"/variations/{item.refs['product_id']}",
                auth=auth,
                json={"manage_stock": True, "stock_quantity": item.total},
            )

    async def read(
        self, api: Api, ctx: ConnectionContext, items: Sequence[PushItem]
    ) -> dict[str, dict[str, int | None]]:
        """The stock each product shows in the shop now (None: not managed there)."""
        auth = httpx.BasicAuth(ctx.credentials["consumer_key"], ctx.credentials["consumer_secret"])
        found: dict[str, dict[str, int | None]] = {}
        for item in items:
            path = (
                f"products/{item.refs['parent_id']}/variations/{item.refs['product_id']}"
                if item.refs.get("parent_id")
                else f"products/{item.refs['product_id']}"
            )
            response = await api.send(
                f"woocommerce:{ctx.id}", "GET", f"{ctx.base_url}/wp-json/wc/v3/{path}", auth=auth
            )
            product = response.json()
            shown = product.get("stock_quantity") if product.get("manage_stock") else None
            found[item.sku] = {SHOP_WIDE: shown}
        return found


def _check_batch(response: httpx.Response) -> None:
    failed = [
        f"{item.get('id')}: {item['error'].get('message')}"
        for item in response.json().get("update", [])
        if isinstance(item, dict) and item.get("error")
    ]
    if failed:
        raise ApiError("WooCommerce refused stock for " + "; ".join(failed))
