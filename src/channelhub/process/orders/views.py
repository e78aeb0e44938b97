"""Rows to API shapes."""

from __future__ import annotations

from typing import Any

from channelhub.platform.money import Money
from channelhub.process.orders import schemas
from channelhub.process.orders.models import (
    Order,
    Refund,
    Return,
    Shipment,
    TrackingEvent,
)


def _address(value: dict[str, Any] | None) -> schemas.PostalAddress | None:
    return None if value is None else schemas.PostalAddress(**value)


def order(row: Order) -> schemas.Order:
    def money(amount: int) -> Money:
        return Money(amount=amount, currency=row.currency)

    return schemas.Order(
        id=row.id,
        number=row.number,
        sales_channel_id=row.sales_channel_id,
        status=schemas.OrderStatus(row.status),
        payment_status=schemas.PaymentStatus(row.payment_status),
        action_needed=row.action_needed,
        customer=schemas.Customer(
            email=row.customer_email,
            phone=row.customer_phone,
            name=row.customer_name,
            language=row.language,
        ),
        currency=row.currency,
        subtotal=money(row.subtotal),
        shipping_total=money(row.shipping_total),
        discount_total=money(row.discount_total),
        tax_total=money(row.tax_total),
        total=money(row.total),
        refunded_total=money(row.refunded_total),
        lines=[
            schemas.Line(
                id=line.id,
                group_id=line.group_id,
                sku=line.sku,
                title=line.title,
                quantity=line.quantity,
                unit_price=money(line.unit_price),
                discount=money(line.discount),
                total=money(line.total),
                fulfilled_quantity=line.fulfilled_quantity,
                returned_quantity=line.returned_quantity,
            )
            for line in row.lines
        ],
        groups=[
            schemas.Group(
                id=group.id,
                method=schemas.Method(group.method),
                location_id=group.location_id,
                status=schemas.GroupStatus(group.status),
                reservation_id=group.reservation_id,
                shipping_fee=money(group.shipping_fee),
                shipping_waived=group.shipping_waived,
            )
            for group in row.groups
        ],
        external_ids=[
            schemas.ExternalRef(system=ref.system, id=ref.external_id)
            for ref in sorted(row.external_ids, key=lambda r: (r.system, r.external_id))
        ],
        shipping_address=_address(row.shipping_address),
        billing_address=_address(row.billing_address),
        notes=row.notes,
        cancel_reason=row.cancel_reason,
        placed_at=row.placed_at,
        confirmed_at=row.confirmed_at,
        cancelled_at=row.cancelled_at,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def shipment(row: Shipment, events: list[TrackingEvent]) -> schemas.Shipment:
    return schemas.Shipment(
        id=row.id,
        order_id=row.order_id,
        group_id=row.group_id,
        carrier=row.carrier,
        service=row.service,
        tracking_number=row.tracking_number,
        tracking_url=row.tracking_url,
        status=schemas.TrackingStatus(row.status),
        carrier_status_code=row.carrier_status_code,
        carrier_status_text=row.carrier_status_text,
        estimated_delivery=row.estimated_delivery,
        items=[
            schemas.ItemRequest(line_id=item.line_id, quantity=item.quantity)
            for item in sorted(row.items, key=lambda i: i.line_id)
        ],
        events=[
            schemas.TrackingEvent(
                status=schemas.TrackingStatus(e.status),
                occurred_at=e.occurred_at,
                carrier_code=e.carrier_code,
                carrier_text=e.carrier_text,
                location=e.location,
            )
            for e in events
        ],
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def return_(row: Return) -> schemas.Return:
    label = None
    if row.label_url:
        label = schemas.ReturnLabel(
            carrier=row.label_carrier, tracking_number=row.label_tracking_number, url=row.label_url
        )
    return schemas.Return(
        id=row.id,
        order_id=row.order_id,
        status=schemas.ReturnStatus(row.status),
        reason=schemas.ReturnReason(row.reason),
        note=row.note,
        items=[
            schemas.ItemRequest(line_id=line.line_id, quantity=line.quantity)
            for line in sorted(row.lines, key=lambda i: i.line_id)
        ],
        label=label,
        requested_by=row.requested_by,
        created_at=row.created_at,
        received_at=row.received_at,
    )


def refund(row: Refund) -> schemas.Refund:
    return schemas.Refund(
        id=row.id,
        order_id=row.order_id,
        return_id=row.return_id,
        amount=Money(amount=row.amount, currency=row.currency),
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
    )
