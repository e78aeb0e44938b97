"""GDPR access requests: everything the hub holds about one customer, as a ZIP archive.

A customer is found by their id; what belongs to them is what carries their id, or their
e-mail address or phone number (orders and tickets keep those, not always the id). Each
context's rows are written as they are stored, every column, so that the archive is
complete by construction rather than by a list of fields someone remembered; binary
contents (attachment bytes) are listed by size, not embedded. The export itself is
recorded as an event (``customer.data_exported``) naming who asked and what was included,
without any of the personal data.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.errors import NotFoundError
from channelhub.platform.events.catalog import declare
from channelhub.platform.events.outbox import record_event
from channelhub.process.customers.models import Customer, CustomerExternalId, SegmentMember
from channelhub.process.helpdesk.models import (
    Ticket,
    TicketActivity,
    TicketAttachment,
    TicketMessage,
)
from channelhub.process.loyalty.models import LedgerEntry, LoyaltyMember
from channelhub.process.notifications.models import NotificationConsent, NotificationDelivery
from channelhub.process.orders.models import (
    Order,
    OrderExternalId,
    OrderLine,
    Refund,
    Return,
    Shipment,
    TimelineEntry,
)
from channelhub.process.promotions.models import Redemption, RedemptionItem, Voucher

SCOPE = "privacy:write"


class DataExported(BaseModel):
    """What a GDPR export contained (no personal data): for the audit trail."""

    customer_id: str = Field(description="The customer (cus_...).")
    requested_by: str = Field(description="The API key or job that asked.")
    files: dict[str, int] = Field(description="Each file of the archive and its records.")
    exported_at: datetime = Field(description="When (UTC).")


CUSTOMER_DATA_EXPORTED = declare(
    "customer.data_exported",
    context="privacy",
    description="Everything held about a customer was exported for them (GDPR access).",
    data_model=DataExported,
)


class CustomerNotFound(NotFoundError):
    code = "customer_not_found"


def row_record(row: Any) -> dict[str, Any]:
    """Every column of an ORM row, JSON-ready."""
    mapper = inspect(row).mapper
    return {attr.key: _plain(getattr(row, attr.key)) for attr in mapper.column_attrs}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return {"bytes": len(value)}
    return value


async def _rows(session: AsyncSession, statement: Any) -> list[Any]:
    return list((await session.scalars(statement)).all())


def _children(model: Any, column: Any, ids: Sequence[str]) -> Any:
    return select(model).where(column.in_(ids)) if ids else None


async def collect(
    session: AsyncSession, tenant_id: str, customer: Customer
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, bytes]]:
    """The customer's records per file of the archive, and the files they attached."""
    email = (customer.email or "").strip().lower()
    contacts = [contact for contact in (email, customer.phone) if contact]
    files: dict[str, list[Any]] = {"customer.json": [customer]}
    files["customer_external_ids.json"] = await _rows(
        session, select(CustomerExternalId).where(CustomerExternalId.customer_id == customer.id)
    )
    files["customer_segment_members.json"] = await _rows(
        session, select(SegmentMember).where(SegmentMember.customer_id == customer.id)
    )
    orders = (
        await _rows(
            session,
            select(Order)
            .where(Order.tenant_id == tenant_id, func.lower(Order.customer_email) == email)
            .order_by(Order.id),
        )
        if email
        else []
    )
    order_ids = [order.id for order in orders]
    files["orders.json"] = orders
    for name, model, column in (
        ("order_external_ids.json", OrderExternalId, OrderExternalId.order_id),
        ("order_lines.json", OrderLine, OrderLine.order_id),
        ("order_timeline.json", TimelineEntry, TimelineEntry.order_id),
        ("shipments.json", Shipment, Shipment.order_id),
        ("returns.json", Return, Return.order_id),
        ("refunds.json", Refund, Refund.order_id),
    ):
        statement = _children(model, column, order_ids)
        files[name] = await _rows(session, statement) if statement is not None else []
    ticket_filter = [Ticket.customer_id == customer.id]
    if email:
        ticket_filter.append(func.lower(Ticket.requester_email) == email)
    tickets = await _rows(
        session,
        select(Ticket)
        .where(Ticket.tenant_id == tenant_id, or_(*ticket_filter))
        .order_by(Ticket.id),
    )
    files["tickets.json"] = tickets
    statement = _children(TicketMessage, TicketMessage.ticket_id, [t.id for t in tickets])
    messages = await _rows(session, statement) if statement is not None else []
    files["ticket_messages.json"] = messages
    statement = _children(TicketActivity, TicketActivity.ticket_id, [t.id for t in tickets])
    files["ticket_activities.json"] = (
        await _rows(session, statement) if statement is not None else []
    )
    statement = _children(TicketAttachment, TicketAttachment.message_id, [m.id for m in messages])
    attachments = await _rows(session, statement) if statement is not None else []
    files["ticket_attachments.json"] = attachments
    files["notification_consents.json"] = (
        await _rows(
            session,
            select(NotificationConsent).where(
                NotificationConsent.tenant_id == tenant_id,
                NotificationConsent.contact.in_(contacts),
            ),
        )
        if contacts
        else []
    )
    delivery_filter = [NotificationDelivery.order_id.in_(order_ids)] if order_ids else []
    if contacts:
        delivery_filter.append(NotificationDelivery.recipient.in_(contacts))
    files["notification_deliveries.json"] = (
        await _rows(
            session,
            select(NotificationDelivery).where(
                NotificationDelivery.tenant_id == tenant_id, or_(*delivery_filter)
            ),
        )
        if delivery_filter
        else []
    )
    redemption_filter = [Redemption.customer_id == customer.id]
    if email:
        redemption_filter.append(Redemption.customer_email == email)
    redemptions = await _rows(
        session,
        select(Redemption).where(Redemption.tenant_id == tenant_id, or_(*redemption_filter)),
    )
    files["redemptions.json"] = redemptions
    statement = _children(RedemptionItem, RedemptionItem.redemption_id, [r.id for r in redemptions])
    files["redemption_items.json"] = (
        await _rows(session, statement) if statement is not None else []
    )
    files["vouchers.json"] = await _rows(
        session,
        select(Voucher).where(Voucher.tenant_id == tenant_id, Voucher.customer_id == customer.id),
    )
    memberships = await _rows(
        session,
        select(LoyaltyMember).where(
            LoyaltyMember.tenant_id == tenant_id, LoyaltyMember.customer_id == customer.id
        ),
    )
    files["loyalty_memberships.json"] = memberships
    statement = _children(LedgerEntry, LedgerEntry.member_id, [m.id for m in memberships])
    files["loyalty_ledger.json"] = await _rows(session, statement) if statement is not None else []
    records = {name: [row_record(row) for row in rows] for name, rows in files.items()}
    return records, {
        f"attachments/{row.id}-{_safe(row.filename)}": row.content
        for row in attachments
        if row.content is not None
    }


def _safe(filename: str) -> str:
    """A file name that stays inside its folder of the archive."""
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)[-100:]
    return name.lstrip(".") or "file"


def archive(
    files: dict[str, list[dict[str, Any]]], attached: dict[str, bytes], manifest: dict[str, Any]
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("manifest.json", _json(manifest))
        bundle.writestr("README.txt", _README)
        for name, records in files.items():
            bundle.writestr(name, _json(records))
        for name, content in attached.items():
            bundle.writestr(name, content)
    return buffer.getvalue()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


_README = """Everything this shop's hub (channelhub) holds about you, as stored.

customer*.json              your profile and your ids in the shop's other systems
orders.json, order_*.json   your orders, their lines, history and external ids
shipments, returns, refunds what was sent, returned and paid back
tickets.json                your conversations with customer service
ticket_messages.json        every message in them; attachments/ holds what you attached
notification_*.json         messages sent to you, and your consent per channel
redemptions*.json           discounts you used; vouchers.json: codes given to you
loyalty_*.json              your loyalty memberships and every movement of your points
manifest.json               when this was made, for whom, and what each file holds
"""


async def export_customer(
    session: AsyncSession, principal: Principal, customer_id: str, *, clock: Clock = utc_now
) -> bytes:
    """The ZIP archive of everything held about the customer; recorded as an event."""
    principal.require(SCOPE)
    customer = await session.scalar(
        select(Customer).where(
            Customer.tenant_id == principal.tenant_id, Customer.id == customer_id
        )
    )
    if customer is None:
        raise CustomerNotFound(f"no customer {customer_id!r}")
    files, attached = await collect(session, principal.tenant_id, customer)
    now = clock()
    audit = DataExported(
        customer_id=customer.id,
        requested_by=principal.actor,
        files={
            **{name: len(records) for name, records in files.items()},
            **({"attachments/": len(attached)} if attached else {}),
        },
        exported_at=now,
    )
    await record_event(
        session,
        CUSTOMER_DATA_EXPORTED,
        tenant_id=principal.tenant_id,
        subject=customer.id,
        data=audit,
    )
    return archive(files, attached, audit.model_dump(mode="json"))
