"""Shopify: order, fulfilment, refund, inventory, product and customer webhooks, and stock
pushed back with the Admin GraphQL ``inventorySetQuantities`` mutation.

Webhooks are verified as Shopify documents: ``X-Shopify-Hmac-Sha256`` is the base64
HMAC-SHA256 of the raw body with the app's client secret, and ``X-Shopify-Webhook-Id``
identifies a delivery. The connection's ``base_url`` is ``https://{shop}.myshopify.com``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import utc_now
from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.processor import Park
from channelhub.platform.inbox.store import Delivery, body_digest
from channelhub.platform.money import Money
from channelhub.process.catalog import schemas as catalog
from channelhub.process.catalog import service as catalog_service
from channelhub.process.channels.repository import SalesChannelRepository
from channelhub.process.connections import service as connections
from channelhub.process.connections.service import ConnectionContext
from channelhub.process.customers import schemas as customers
from channelhub.process.customers import service as customer_service
from channelhub.process.inventory import schemas as stock
from channelhub.process.inventory import service as inventory
from channelhub.process.orders import fulfilment, repository
from channelhub.process.orders import schemas as orders
from channelhub.systems.common import (
    Api,
    ApiError,
    Throttled,
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
    ref,
)

API_VERSION = "2026-07"
_ORDER_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/partially_fulfilled",
)
_PAYMENT = {
    "pending": orders.PaymentStatus.pending,
    "authorized": orders.PaymentStatus.authorized,
    "partially_paid": orders.PaymentStatus.pending,
    "paid": orders.PaymentStatus.paid,
    "partially_refunded": orders.PaymentStatus.partially_refunded,
    "refunded": orders.PaymentStatus.refunded,
    "voided": orders.PaymentStatus.voided,
}
_SHIPMENT_STATUS = {
    "label_printed": orders.TrackingStatus.info_received,
    "label_purchased": orders.TrackingStatus.info_received,
    "confirmed": orders.TrackingStatus.info_received,
    "in_transit": orders.TrackingStatus.in_transit,
    "out_for_delivery": orders.TrackingStatus.out_for_delivery,
    "attempted_delivery": orders.TrackingStatus.attempt_fail,
    "ready_for_pickup": orders.TrackingStatus.available_for_pickup,
    "delivered": orders.TrackingStatus.delivered,
    "failure": orders.TrackingStatus.exception,
}
_SET_QUANTITIES = """
mutation InventorySet($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) @idempotent(key: "%s") {
    userErrors { code field message }
  }
}
"""
_LEVELS = """
query Levels($id: ID!) {
  inventoryItem(id: $id) {
    inventoryLevels(first: 50) {
      edges { node { location { id } quantities(names: ["available"]) { name quantity } } }
    }
  }
}
"""


class Receiver:
    name = "shopify"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        check_base64_hmac(secret, body, header(headers, "x-shopify-hmac-sha256"), "Shopify")

    def identify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        return Delivery(
            header(headers, "x-shopify-webhook-id") or body_digest(body),
            header(headers, "x-shopify-topic") or "unknown",
        )


_ADDRESS = AddressKeys(
    line1="address1", line2="address2", postal_code="zip", region="province", country="country_code"
)


def store_order(order: Mapping[str, Any]) -> StoreOrder:
    currency = str(field(order, "currency"))
    financial = str(order.get("financial_status") or "pending")
    payment = _PAYMENT.get(financial, orders.PaymentStatus.pending)
    customer = order.get("customer") or {}
    email = order.get("email") or order.get("contact_email") or customer.get("email")
    if not email:
        raise Park("the order has no e-mail address to recognise the customer by")
    name = f"{customer.get('first_name') or ''} {customer.get('last_name') or ''}".strip()
    return StoreOrder(
        external_id=str(field(order, "id")),
        number=str(order.get("name") or order.get("order_number") or order["id"]),
        email=str(email),
        phone=str(order.get("phone") or customer.get("phone") or ""),
        name=name,
        language=str(order.get("customer_locale") or "en"),
        currency=currency,
        lines=[
            StoreLine(
                sku=str(line.get("sku") or ""),
                quantity=int(field(line, "quantity")),
                unit_price=minor_units(field(line, "price"), currency),
                title=str(line.get("title") or ""),
                external_id=str(line.get("id", "")),
            )
            for line in field(order, "line_items")
        ],
        shipping=sum(
            minor_units(line.get("discounted_price") or line.get("price"), currency)
            for line in order.get("shipping_lines") or []
        ),
        discount=minor_units(order.get("total_discounts"), currency),
        total=minor_units(field(order, "total_price"), currency),
        payment_status=payment,
        confirmed=financial in ("paid", "authorized", "partially_refunded", "refunded"),
        cancelled=order.get("cancelled_at") is not None,
        cancel_reason=f"cancelled in Shopify ({order.get('cancel_reason') or 'no reason'})",
        shipping_address=postal_address(order.get("shipping_address"), _ADDRESS),
        billing_address=postal_address(order.get("billing_address"), _ADDRESS),
        placed_at=timestamp(order.get("created_at")),
        updated_at=timestamp(order.get("updated_at")),
        notes=str(order.get("note") or "")[:5000],
    )


def _shipment(fulfillment: Mapping[str, Any]) -> StoreShipment:
    numbers = fulfillment.get("tracking_numbers") or [fulfillment.get("tracking_number") or ""]
    return StoreShipment(
        external_id=str(fulfillment.get("id")),
        carrier=str(fulfillment.get("tracking_company") or "unknown"),
        tracking_number=str(numbers[0] or ""),
        tracking_url=str(fulfillment.get("tracking_url") or ""),
        items={
            str(line["sku"]): int(line["quantity"])
            for line in fulfillment.get("line_items", [])
            if line.get("sku")
        },
    )


def _gid(kind: str, value: Any) -> str:
    return f"gid://shopify/{kind}/{value}"


class Shopify:
    receiver = Receiver()

    async def handle(
        self, session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, api: Api
    ) -> str:
        topic = record.topic
        payload = json_body(record)
        if topic in _ORDER_TOPICS:
            return await self._order(session, ctx, payload)
        if topic in ("fulfillments/create", "fulfillments/update"):
            return await self._fulfillment(session, ctx, payload)
        if topic == "refunds/create":
            return await self._refund(session, ctx, payload)
        if topic == "inventory_levels/update":
            return await self._inventory(session, ctx, payload)
        if topic in ("products/create", "products/update"):
            return await self._product(session, ctx, payload)
        if topic in ("customers/create", "customers/update"):
            return await self._customer(session, ctx, payload)
        raise unsupported(topic)

    async def _order(
        self, session: AsyncSession, ctx: ConnectionContext, payload: Mapping[str, Any]
    ) -> str:
        order = store_order(payload)
        refs = {
            str(line["sku"]): {
                "product_id": line.get("product_id"),
                "variant_id": line.get("variant_id"),
            }
            for line in payload.get("line_items", [])
            if line.get("sku")
        }
        await _remember(session, ctx, refs)
        done = await record_order(session, ctx, order)
        fulfillments = [
            f for f in payload.get("fulfillments") or [] if f.get("status") == "success"
        ]
        if fulfillments and not order.cancelled:
            done += "; " + await record_shipments(
                session, ctx, order.external_id, [_shipment(f) for f in fulfillments]
            )
        return done

    async def _fulfillment(
        self, session: AsyncSession, ctx: ConnectionContext, payload: Mapping[str, Any]
    ) -> str:
        order_id = str(field(payload, "order_id"))
        if payload.get("status") not in (None, "success", "open", "pending"):
            return f"fulfillment {payload.get('id')} is {payload.get('status')}: nothing shipped"
        shipment = _shipment(payload)
        done = await record_shipments(session, ctx, order_id, [shipment])
        status = _SHIPMENT_STATUS.get(str(payload.get("shipment_status") or ""))
        if status is None or not shipment.tracking_number:
            return done
        shipment_id = await fulfilment.shipment_by_tracking(
            session, ctx.tenant_id, shipment.tracking_number
        )
        if shipment_id is None:
            return done
        scan = orders.TrackingEventCreate(
            status=status,
            occurred_at=timestamp(payload.get("updated_at")) or utc_now(),
            carrier_code=str(payload.get("shipment_status")),
            carrier_text=f"Shopify shipment status {payload.get('shipment_status')}",
        )
        tracked = await fulfilment.add_tracking_event(session, ctx.principal, shipment_id, scan)
        return f"{done}; tracking {tracked.status.value}"

    async def _refund(
        self, session: AsyncSession, ctx: ConnectionContext, payload: Mapping[str, Any]
    ) -> str:
        order_id = str(field(payload, "order_id"))
        known = await repository.by_external_ids(
            session, ctx.tenant_id, [orders.ExternalRef(system=ref(ctx), id=order_id)]
        )
        if known is None:
            raise Park(f"order {order_id} is not known yet (its creation may be late)")
        amount = sum(
            minor_units(t.get("amount"), str(t.get("currency") or known.currency))
            for t in payload.get("transactions") or []
            if t.get("kind") == "refund" and t.get("status") == "success"
        )
        if not amount:
            return f"refund {payload.get('id')} moved no money"
        return await record_refund(
            session, ctx, order_id, amount, str(payload.get("note") or "refunded in Shopify")
        )

    async def _inventory(
        self, session: AsyncSession, ctx: ConnectionContext, payload: Mapping[str, Any]
    ) -> str:
        item = str(field(payload, "inventory_item_id"))
        external_location = str(field(payload, "location_id"))
        sku = await connections.sku_by_ref(session, ctx.id, "inventory_item_id", item)
        if sku is None:
            raise Park(f"inventory item {item} is not mapped to a SKU (send its product first)")
        mapped = ctx.location_for(external_location)
        if mapped is None:
            return f"location {external_location} is not mapped: ignored"
        if not mapped.owns_stock:
            await connections.mark_skus_dirty(session, ctx.id, utc_now(), [sku])
            return f"{sku}: the hub owns stock at {mapped.location_id}; its figure is pushed back"
        result = await inventory.apply_updates(
            session,
            ctx.principal,
            stock.StockUpdateBatch(
                source=ref(ctx),
                updates=[
                    stock.StockUpdate(
                        sku=sku,
                        location=mapped.location_id,
                        on_hand=max(0, int(field(payload, "available"))),
                        as_of=timestamp(payload.get("updated_at")),
                    )
                ],
            ),
        )
        return f"{sku}: {result.applied} applied, {result.ignored} older than what is applied"

    async def _product(
        self, session: AsyncSession, ctx: ConnectionContext, payload: Mapping[str, Any]
    ) -> str:
        variants = [v for v in field(payload, "variants") if v.get("sku")]
        refs = {
            str(v["sku"]): {
                "product_id": payload.get("id"),
                "variant_id": v.get("id"),
                "inventory_item_id": v.get("inventory_item_id"),
            }
            for v in variants
        }
        await _remember(session, ctx, refs)
        known = await inventory.known_skus(session, ctx.tenant_id, list(refs))
        new = [v for v in variants if v["sku"] not in known]
        if not new:
            return f"product {payload.get('id')}: {len(refs)} SKUs mapped"
        currency = await self._currency(session, ctx)
        await catalog_service.create_product(
            session,
            ctx.principal,
            catalog.ProductCreate(
                title=str(payload.get("title") or new[0]["sku"])[:300],
                description=str(payload.get("body_html") or "")[:5000],
                variants=[
                    catalog.VariantCreate(
                        sku=str(v["sku"]),
                        title=str(v.get("title") or v["sku"])[:300],
                        price=Money(
                            amount=minor_units(v.get("price"), currency), currency=currency
                        ),
                    )
                    for v in new
                ],
            ),
        )
        return (
            f"product {payload.get('id')}: {len(refs)} SKUs mapped, {len(new)} added to the catalog"
        )

    async def _currency(self, session: AsyncSession, ctx: ConnectionContext) -> str:
        channel = await SalesChannelRepository(session, ctx.tenant_id).get(
            ctx.sales_channel_id or ""
        )
        if channel is None:
            raise Park("the connection's sales channel is gone")
        return channel.currency

    async def _customer(
        self, session: AsyncSession, ctx: ConnectionContext, payload: Mapping[str, Any]
    ) -> str:
        name = f"{payload.get('first_name') or ''} {payload.get('last_name') or ''}".strip()
        customer, created = await customer_service.upsert_customer(
            session,
            ctx.principal,
            customers.CustomerUpsert(
                external_id=orders.ExternalRef(system=ref(ctx), id=str(field(payload, "id"))),
                email=payload.get("email") or None,
                phone=str(payload.get("phone") or "")[:32],
                name=name[:200],
                language=payload.get("locale") or None,
                source_updated_at=timestamp(payload.get("updated_at")),
            ),
        )
        return f"customer {customer.id} {'recorded' if created else 'updated'}"

    def _graphql_url(self, ctx: ConnectionContext) -> str:
        return f"{ctx.base_url}/admin/api/{API_VERSION}/graphql.json"

    async def _graphql(
        self, api: Api, ctx: ConnectionContext, query: str, variables: dict[str, Any]
    ) -> Any:
        async def attempt() -> Any:
            response = await api.client.post(
                self._graphql_url(ctx),
                headers={"X-Shopify-Access-Token": ctx.credentials["access_token"]},
                json={"query": query, "variables": variables},
            )
            answer = _answer(response)
            return answer.get("data")

        return await api.call(f"shopify:{ctx.id}", attempt)

    async def push(self, api: Api, ctx: ConnectionContext, items: Sequence[PushItem]) -> None:
        """Set "available" at each mapped location; one mutation per 100 quantities, each
        with its own idempotency key (a retried request is applied once)."""
        quantities = [
            {
                "inventoryItemId": _gid("InventoryItem", item.refs["inventory_item_id"]),
                "locationId": _gid("Location", location),
                "quantity": quantity,
                "changeFromQuantity": None,
            }
            for item in items
            if item.refs.get("inventory_item_id")
            for location, quantity in item.figures.items()
            if location != SHOP_WIDE
        ]
        for start in range(0, len(quantities), 100):
            data = await self._graphql(
                api,
                ctx,
                _SET_QUANTITIES % uuid.uuid4(),
                {
                    "input": {
                        "name": "available",
                        "reason": "correction",
                        "referenceDocumentUri": f"gid://channelhub/StockSync/{ctx.id}",
                        "quantities": quantities[start : start + 100],
                    }
                },
            )
            errors = (data or {}).get("inventorySetQuantities", {}).get("userErrors") or []
            if errors:
                raise ApiError(
                    "Shopify refused stock: "
                    + "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
                )

    async def read(
        self, api: Api, ctx: ConnectionContext, items: Sequence[PushItem]
    ) -> dict[str, dict[str, int | None]]:
        """ "available" per mapped location as Shopify shows it."""
        found: dict[str, dict[str, int | None]] = {}
        for item in items:
            shown: dict[str, int | None] = dict.fromkeys(item.figures)
            if item.refs.get("inventory_item_id"):
                data = await self._graphql(
                    api, ctx, _LEVELS, {"id": _gid("InventoryItem", item.refs["inventory_item_id"])}
                )
                levels = ((data or {}).get("inventoryItem") or {}).get("inventoryLevels", {})
                for edge in levels.get("edges", []):
                    node = edge["node"]
                    location = str(node["location"]["id"]).rsplit("/", 1)[-1]
                    if location in shown:
                        available = [q for q in node["quantities"] if q["name"] == "available"]
                        shown[location] = available[0]["quantity"] if available else None
            found[item.sku] = shown
        return found


def _answer(response: httpx.Response) -> Any:
    """A GraphQL answer, or Throttled (HTTP 429, or Shopify's THROTTLED error)."""
    if response.status_code in (429, 503) or response.status_code >= 500:
        if response.status_code == 429:
            raise Throttled(_throttle_wait(response))
        response.raise_for_status()
    if response.status_code >= 400:
        raise ApiError(f"Shopify GraphQL: {response.status_code} {response.text[:300]}")
    answer = response.json()
    errors = answer.get("errors") or []
    if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
        raise Throttled(_throttle_wait(response))
    if errors:
        raise ApiError("Shopify GraphQL: " + "; ".join(str(e.get("message")) for e in errors))
    return answer


def _throttle_wait(response: httpx.Response) -> float | None:
    """How long until the cost bucket holds what the query asked for."""
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return float(retry_after)
        except ValueError:
            pass
    try:
        cost = response.json()["extensions"]["cost"]
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(0.0, missing / float(status["restoreRate"]))
    except (ValueError, KeyError, TypeError, ZeroDivisionError):
        return None


async def _remember(
    session: AsyncSession, ctx: ConnectionContext, refs: dict[str, dict[str, Any]]
) -> None:
    """Merge what Shopify says about SKUs with what is known (products carry the
    inventory item id, orders only the variant)."""
    await connections.remember_skus(session, ctx.id, refs, utc_now(), merge=True)
