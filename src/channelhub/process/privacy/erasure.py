"""GDPR erasure: a customer's personal data replaced by pseudonyms everywhere in the hub.

An erasure runs in one transaction, in two passes:

1. **Targeted.** The person is found as the export finds them (``export.py``): the
   customer row, the orders placed with their e-mail address, the tickets linked to them
   or sent from their address or phone, their redemptions. Their identifiers are gathered
   from those records (e-mail addresses, phone numbers, names, the street lines of their
   orders' addresses), then each context's fields are rewritten: identity fields get
   pseudonyms, addresses keep only city, region and country, what they wrote (messages,
   notes, ratings) is redacted, attached files are deleted, and the inbox's raw
   deliveries that mention them are redacted whole (the record and its status stay).
2. **Generic** (``sweep.py``). Every table of ``Base.metadata``, every text, JSON or
   binary column of the tenant's rows: whatever still holds one of the identifiers (an
   event in the outbox, a webhook message and its delivery log, a stored idempotent
   response, a table added by a context written later) has it replaced.

Money is never touched: amounts are numbers and only text is rewritten, so totals, lines,
refunds, redemptions, campaign counters and voucher counts stay as they were; an order
keeps its number and status and still reads through every API. The customer row stays,
with pseudonyms and ``erased_at``: the erasure is visible, a repeat is a no-op, and a
later order or upsert with the same e-mail address makes a new customer (nothing matches
the pseudonyms). The request is recorded as a ``customer.erased`` event naming who asked
and how many rows of each table changed, with no personal data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.base import Base
from channelhub.platform.db.core import execute_core, table_of
from channelhub.platform.events.catalog import declare
from channelhub.platform.events.models import ConsumerFailure
from channelhub.platform.events.outbox import record_event, record_events
from channelhub.platform.inbox.models import InboxRecord
from channelhub.process.customers.membership import recompute_customer
from channelhub.process.customers.models import Customer
from channelhub.process.helpdesk.models import (
    Ticket,
    TicketActivity,
    TicketAttachment,
    TicketMessage,
)
from channelhub.process.notifications.models import NotificationConsent, NotificationDelivery
from channelhub.process.orders.models import (
    Order,
    OrderNotice,
    Refund,
    Return,
    Shipment,
    TimelineEntry,
    TrackingEvent,
)
from channelhub.process.orders.timeline import suppress_notices
from channelhub.process.privacy.export import SCOPE, CustomerNotFound
from channelhub.process.privacy.pseudonyms import (
    REDACTED,
    REDACTED_BODY,
    Kind,
    Matcher,
    Pseudonyms,
)
from channelhub.process.privacy.sweep import BINARY_PAGE, Changes, Keys, sweep
from channelhub.process.promotions.models import Redemption

ERASED_REASON = "the customer's personal data was erased"


class CustomerErased(BaseModel):
    """A customer's personal data was erased (no personal data here): the audit trail."""

    customer_id: str = Field(description="The customer (cus_...); the row stays, pseudonymised.")
    requested_by: str = Field(description="The API key or job that asked.")
    erased_at: datetime = Field(description="When (UTC).")
    tables: dict[str, int] = Field(description="Rows changed, per table.")


CUSTOMER_ERASED = declare(
    "customer.erased",
    context="privacy",
    description="A customer's personal data was erased or pseudonymised everywhere in the "
    "hub (GDPR erasure); financial records keep their figures.",
    data_model=CustomerErased,
)


class Erasure(BaseModel):
    """What an erasure request did."""

    customer_id: str = Field(description="The customer (cus_...).")
    erased_at: datetime = Field(description="When the customer was erased (UTC).")
    already_erased: bool = Field(
        description="True when an earlier request had erased them: this one changed nothing."
    )
    tables: dict[str, int] = Field(
        description="Rows this request changed, per table (empty for a repeat)."
    )


MIN_TEXT = 12
"""Shorter texts ("Thanks!") are too common to redact wherever they appear."""


class Person:
    """Who is erased: their records, and the identifiers those records hold."""

    def __init__(self, customer: Customer) -> None:
        self.customer = customer
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self.names: set[str] = set()
        self.streets: set[str] = set()
        self.texts: set[str] = set()
        """What they wrote or were written (their tickets' messages, their orders' notes):
        copies of it in events and logs go whole, as the messages themselves do."""
        self.address_phones: set[str] = set()
        """Phones on the addresses of their orders: maybe a gift's recipient, an office's
        switchboard; replaced only in the person's own records."""
        self.orders: list[Order] = []
        self.tickets: list[Ticket] = []
        self.redemptions: list[Redemption] = []
        self.identify(email=customer.email, phone=customer.phone, name=customer.name)

    def identify(self, *, email: str = "", phone: str = "", name: str = "") -> None:
        if email.strip():
            self.emails.add(email.strip().lower())
        if phone.strip():
            self.phones.add(phone.strip())
        if name.strip():
            self.names.add(" ".join(name.split()))

    def contacts(self) -> list[tuple[Kind, str]]:
        """Their own e-mail addresses and phones: theirs wherever they are found."""
        return [
            *((Kind.email, e) for e in sorted(self.emails)),
            *((Kind.phone, p) for p in sorted(self.phones)),
        ]

    def identifiers(self) -> list[tuple[Kind, str]]:
        return [
            *self.contacts(),
            *((Kind.phone, p) for p in sorted(self.address_phones - self.phones)),
            *((Kind.name, n) for n in sorted(self.names)),
            *((Kind.street, s) for s in sorted(self.streets)),
            *((Kind.text, t) for t in sorted(self.texts) if len(t.strip()) >= MIN_TEXT),
        ]

    @property
    def order_ids(self) -> list[str]:
        return [order.id for order in self.orders]

    @property
    def ticket_ids(self) -> list[str]:
        return [ticket.id for ticket in self.tickets]


def _name_parts(names: set[str]) -> list[tuple[Kind, str]]:
    """The words of the person's names as texts about them use them ("Dear Ana,"):
    capitalised words of three letters or more (not "da", "dos", "van")."""
    parts = set()
    for name in names:
        lowercase = name == name.lower()
        parts |= {w for w in name.split() if len(w) >= 3 and (lowercase or w[0].isupper())}
    return [(Kind.name, part) for part in sorted(parts)]


class Matchers:
    """``everywhere`` for anybody's rows, ``theirs`` for rows that are the person's own,
    ``texts`` for free texts written to or about them (also first names alone).

    Only the person's own e-mail addresses and phones are replaced in anybody's rows:
    names and street lines are shared (two Maria Silvas, a gift sent to a neighbour, an
    office), so they are replaced only in the person's own records."""

    def __init__(self, person: Person, pseudonyms: Pseudonyms) -> None:
        identifiers = person.identifiers()
        self.everywhere = Matcher(person.contacts(), pseudonyms)
        self.theirs = Matcher(identifiers, pseudonyms)
        self.texts = Matcher([*identifiers, *_name_parts(person.names)], pseudonyms)


async def erase_customer(
    session: AsyncSession, principal: Principal, customer_id: str, *, clock: Clock = utc_now
) -> Erasure:
    """Erase the customer's personal data everywhere in the tenant (see the module)."""
    principal.require(SCOPE)
    customer = (
        await session.scalars(
            select(Customer)
            .options(selectinload(Customer.external_ids))
            .where(Customer.tenant_id == principal.tenant_id, Customer.id == customer_id)
            .with_for_update()
        )
    ).first()
    if customer is None:
        raise CustomerNotFound(f"no customer {customer_id!r}")
    if customer.erased_at is not None:
        return Erasure(
            customer_id=customer.id, erased_at=customer.erased_at, already_erased=True, tables={}
        )
    now = clock()
    person = await find_person(session, principal.tenant_id, customer)
    pseudonyms = Pseudonyms()
    matchers = Matchers(person, pseudonyms)
    changes = Changes()
    await _erase_targeted(
        session,
        principal.tenant_id,
        person,
        pseudonyms,
        matchers,
        changes,
        actor=principal.actor,
        now=now,
    )
    _set(changes, customer, erased_at=now, updated_at=now)
    await session.flush()
    await sweep(
        session,
        principal.tenant_id,
        everywhere=matchers.everywhere,
        theirs=matchers.theirs,
        keys=await _keys(session, person),
        changes=changes,
    )
    tables = changes.counts()
    await record_event(
        session,
        CUSTOMER_ERASED,
        tenant_id=principal.tenant_id,
        subject=customer.id,
        data=CustomerErased(
            customer_id=customer.id, requested_by=principal.actor, erased_at=now, tables=tables
        ),
    )
    return Erasure(customer_id=customer.id, erased_at=now, already_erased=False, tables=tables)


async def find_person(session: AsyncSession, tenant_id: str, customer: Customer) -> Person:
    """The customer's records and identifiers, found the way the export finds them; the
    names on chat tickets count only when the requester was vouched for (anyone can type
    a name into a chat widget)."""
    person = Person(customer)
    linked_tickets = await _all(
        session,
        select(Ticket).where(Ticket.tenant_id == tenant_id, Ticket.customer_id == customer.id),
    )
    for ticket in linked_tickets:
        person.identify(email=ticket.requester_email, phone=ticket.requester_phone)
    person.redemptions = await _all(
        session,
        select(Redemption).where(
            Redemption.tenant_id == tenant_id,
            or_(
                Redemption.customer_id == customer.id,
                func.lower(Redemption.customer_email).in_(sorted(person.emails)),
            ),
        ),
    )
    for redemption in person.redemptions:
        person.identify(email=redemption.customer_email)
    if person.emails:
        person.orders = await _all(
            session,
            select(Order)
            .where(
                Order.tenant_id == tenant_id,
                func.lower(Order.customer_email).in_(sorted(person.emails)),
            )
            .order_by(Order.id),
        )
    for order in person.orders:
        person.identify(phone=order.customer_phone, name=order.customer_name)
        for address in (order.shipping_address, order.billing_address):
            if address:
                person.identify(name=str(address.get("name") or ""))
                if str(address.get("phone") or "").strip():
                    person.address_phones.add(str(address["phone"]).strip())
                person.streets |= {
                    " ".join(str(address.get(line) or "").split()) for line in ("line1", "line2")
                } - {""}
    ticket_filter = [Ticket.customer_id == customer.id]
    if person.emails:
        ticket_filter.append(func.lower(Ticket.requester_email).in_(sorted(person.emails)))
    if person.phones:
        ticket_filter.append(Ticket.id.in_(await _tickets_from(session, tenant_id, person.phones)))
    person.tickets = await _all(
        session,
        select(Ticket).where(Ticket.tenant_id == tenant_id, or_(*ticket_filter)),
    )
    for ticket in person.tickets:
        if ticket.requester_trusted:
            person.identify(name=ticket.requester_name)
    written = await session.execute(
        select(TicketMessage.subject, TicketMessage.text).where(
            TicketMessage.ticket_id.in_(person.ticket_ids)
        )
    )
    for subject, text in written:
        person.texts |= {subject or "", text or ""} - {""}
    person.texts |= {order.notes for order in person.orders if order.notes}
    return person


def _digits(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit())


async def _tickets_from(session: AsyncSession, tenant_id: str, phones: set[str]) -> list[str]:
    """Tickets whose requester gave one of ``phones``, however it was written (tickets
    keep the phone as typed; the hub's customers keep it in E.164)."""
    wanted = {_digits(phone) for phone in phones} - {""}
    rows = await session.execute(
        select(Ticket.id, Ticket.requester_phone).where(
            Ticket.tenant_id == tenant_id, Ticket.requester_phone != ""
        )
    )
    return [ticket_id for ticket_id, phone in rows if _digits(phone) in wanted]


async def _keys(session: AsyncSession, person: Person) -> Keys:
    """The ids of the person's records, for the generic pass to recognise their rows."""
    messages = await _ids(
        session,
        TicketMessage.id,
        or_(
            TicketMessage.ticket_id.in_(person.ticket_ids),
            TicketMessage.origin_ticket_id.in_(person.ticket_ids),
        ),
    )
    return Keys(
        [
            person.customer.id,
            *person.order_ids,
            *person.ticket_ids,
            *messages,
            *(r.id for r in person.redemptions),
            *await _ids(session, Shipment.id, Shipment.order_id.in_(person.order_ids)),
            *await _ids(session, Return.id, Return.order_id.in_(person.order_ids)),
            *await _ids(session, Refund.id, Refund.order_id.in_(person.order_ids)),
            *await _ids(
                session,
                NotificationDelivery.id,
                NotificationDelivery.order_id.in_(person.order_ids),
            ),
        ]
    )


async def _erase_targeted(
    session: AsyncSession,
    tenant_id: str,
    person: Person,
    pseudonyms: Pseudonyms,
    matchers: Matchers,
    changes: Changes,
    *,
    actor: str,
    now: datetime,
) -> None:
    """Each context's fields that a replacement of identifiers would not make anonymous:
    identity fields, addresses, what the person wrote, files, raw deliveries."""
    for order in person.orders:
        # Nobody is left to tell: a notice still pending would go to the pseudonym.
        await suppress_notices(session, order, None, ERASED_REASON, actor=actor, at=now)
    _erase_profile(person.customer, pseudonyms, changes)
    await session.flush()
    _, left = await recompute_customer(session, person.customer, at=now)
    await record_events(session, left, clock=lambda: now)
    await _forget_consents(session, tenant_id, person, changes)
    _erase_orders(person, pseudonyms, matchers, changes)
    await _erase_fulfilment(session, person, matchers, changes)
    await _erase_helpdesk(session, person, pseudonyms, matchers, changes)
    texts = matchers.texts.sub
    contacts = sorted({*person.emails, *(p.lower() for p in person.phones)})
    await _rewrite(
        session,
        changes,
        select(NotificationDelivery).where(
            NotificationDelivery.tenant_id == tenant_id,
            or_(
                NotificationDelivery.order_id.in_(person.order_ids),
                func.lower(NotificationDelivery.recipient).in_(contacts),
            ),
        ),
        recipient=pseudonyms.contact,
        subject=texts,
        reason=texts,
    )
    for redemption in person.redemptions:
        _set(
            changes,
            redemption,
            customer_email=pseudonyms.email(redemption.customer_email),
            rollback_reason=texts(redemption.rollback_reason),
        )
    await _erase_inbox(session, tenant_id, matchers.everywhere, changes)
    await _rewrite(
        session,
        changes,
        select(ConsumerFailure).where(ConsumerFailure.envelope["tenant"].as_string() == tenant_id),
        envelope=matchers.everywhere.walk,
        last_error=matchers.everywhere.sub,
    )


async def _forget_consents(
    session: AsyncSession, tenant_id: str, person: Person, changes: Changes
) -> None:
    """Their consents go: nobody is left to ask, and one phone stored as ``+351...`` and as
    ``9...`` would otherwise become one pseudonym twice, against the rule of one consent
    per contact."""
    emails = {email.lower() for email in person.emails}
    phones = {_digits(phone) for phone in person.phones} - {""}
    rows = await _all(
        session, select(NotificationConsent).where(NotificationConsent.tenant_id == tenant_id)
    )
    for row in rows:
        contact = row.contact.strip()
        digits = _digits(contact)
        national = any(len(digits) >= 8 and phone.endswith(digits) for phone in phones)
        if contact.lower() in emails or ("@" not in contact and (digits in phones or national)):
            changes.add(NotificationConsent.__tablename__, (row.id,))
            await session.delete(row)


def _erase_profile(customer: Customer, pseudonyms: Pseudonyms, changes: Changes) -> None:
    """Identity fields pseudonymised, the merchant's facts about them dropped, and their
    ids in other systems replaced (a system that still knows them makes a new customer)."""
    _set(
        changes,
        customer,
        email=pseudonyms.email(customer.email),
        phone=pseudonyms.phone(customer.phone),
        name=pseudonyms.name(customer.name),
        attributes={},
    )
    for n, ref in enumerate(sorted(customer.external_ids, key=lambda r: (r.system, r.external_id))):
        _set(changes, ref, external_id=f"erased-{pseudonyms.token}-{n + 1}")


_ADDRESS_KEPT = frozenset({"city", "region", "country"})
"""What an erased address keeps: where an order went, not to whom or which door."""


def _erased_address(
    address: dict[str, Any] | None, pseudonyms: Pseudonyms
) -> dict[str, Any] | None:
    if not address:
        return address
    erased: dict[str, Any] = {}
    for key, value in address.items():
        if key in _ADDRESS_KEPT or value is None:
            erased[key] = value
        elif key == "name":
            erased[key] = pseudonyms.name(str(value))
        elif key == "phone":
            erased[key] = pseudonyms.phone(str(value))
        elif key == "email":
            erased[key] = pseudonyms.email(str(value))
        elif key == "line1":
            erased[key] = pseudonyms.of(Kind.street, str(value))
        else:
            erased[key] = "" if isinstance(value, str) else None
    return erased


def _erase_orders(
    person: Person, pseudonyms: Pseudonyms, matchers: Matchers, changes: Changes
) -> None:
    for order in person.orders:
        reason = order.cancel_reason
        _set(
            changes,
            order,
            customer_email=pseudonyms.email(order.customer_email),
            customer_phone=pseudonyms.phone(order.customer_phone),
            customer_name=pseudonyms.name(order.customer_name),
            shipping_address=_erased_address(order.shipping_address, pseudonyms),
            billing_address=_erased_address(order.billing_address, pseudonyms),
            notes=_redacted(order.notes),
            cancel_reason=reason if reason is None else matchers.texts.sub(reason),
        )


async def _erase_fulfilment(
    session: AsyncSession, person: Person, matchers: Matchers, changes: Changes
) -> None:
    """Timeline, shipments, tracking, returns, refunds and notices of their orders: their
    texts mention the person (a return's note is in their words)."""
    orders = person.order_ids
    texts = matchers.texts.sub
    await _rewrite(
        session,
        changes,
        select(TimelineEntry).where(TimelineEntry.order_id.in_(orders)),
        summary=texts,
        actor=texts,
        data=matchers.texts.walk,
    )
    shipments = await _rewrite(
        session,
        changes,
        select(Shipment).where(Shipment.order_id.in_(orders)),
        tracking_url=texts,
        carrier_status_text=texts,
    )
    await _rewrite(
        session,
        changes,
        select(TrackingEvent).where(TrackingEvent.shipment_id.in_([s.id for s in shipments])),
        carrier_text=texts,
        location=texts,
    )
    await _rewrite(
        session,
        changes,
        select(Return).where(Return.order_id.in_(orders)),
        note=_redacted,
        requested_by=texts,
        label_url=texts,
    )
    await _rewrite(
        session,
        changes,
        select(Refund).where(Refund.order_id.in_(orders)),
        reason=texts,
        created_by=texts,
    )
    await _rewrite(
        session, changes, select(OrderNotice).where(OrderNotice.order_id.in_(orders)), reason=texts
    )


async def _erase_helpdesk(
    session: AsyncSession,
    person: Person,
    pseudonyms: Pseudonyms,
    matchers: Matchers,
    changes: Changes,
) -> None:
    """Their tickets keep their place in the helpdesk's figures (status, SLA, queue) but
    nothing of what was said: every message's subject and bodies are redacted, attached
    files deleted, the drafted answer and the rating comment dropped."""
    texts = matchers.texts
    for ticket in person.tickets:
        buyer = ticket.requester_buyer
        _set(
            changes,
            ticket,
            requester_name=pseudonyms.name(ticket.requester_name),
            requester_email=pseudonyms.email(ticket.requester_email),
            requester_phone=pseudonyms.phone(ticket.requester_phone),
            requester_buyer=_erased_buyer(buyer, pseudonyms),
            subject=REDACTED,
            draft="",
            csat_comment=_redacted(ticket.csat_comment),
        )
    tickets = person.ticket_ids
    messages = await _rewrite(
        session,
        changes,
        select(TicketMessage).where(
            or_(TicketMessage.ticket_id.in_(tickets), TicketMessage.origin_ticket_id.in_(tickets))
        ),
        subject=_redacted,
        text=lambda _: REDACTED,
        html=lambda _: "",
        send_error=texts.sub,
        attachments=lambda files: [
            {**f, "filename": _erased_filename(str(f.get("filename") or ""))} for f in files
        ],
    )
    for message in messages:
        if message.send_status == "pending":  # its address is a pseudonym now
            _set(changes, message, send_status="failed", send_after=None, send_error=ERASED_REASON)
    await _rewrite(
        session,
        changes,
        select(TicketAttachment).where(TicketAttachment.message_id.in_([m.id for m in messages])),
        filename=_erased_filename,
        content=lambda _: None,
    )
    await _rewrite(
        session,
        changes,
        select(TicketActivity).where(TicketActivity.ticket_id.in_(tickets)),
        actor=texts.sub,
        detail=texts.walk,
    )


def _erased_buyer(buyer: str, pseudonyms: Pseudonyms) -> str:
    """``marketplace:buyer id`` keeps the marketplace, loses the buyer."""
    if not buyer:
        return buyer
    marketplace, colon, _ = buyer.rpartition(":")
    return f"{marketplace}{colon}erased-{pseudonyms.token}"


def _erased_filename(filename: str) -> str:
    """ "erased" with the file's extension, so the listing still says what kind it was."""
    suffix = PurePosixPath(filename).suffix
    return "erased" + (suffix if suffix[1:].isalnum() and len(suffix) <= 10 else "")


async def _erase_inbox(
    session: AsyncSession, tenant_id: str, matcher: Matcher, changes: Changes
) -> None:
    """Redact, whole, every raw delivery of the tenant that mentions the person, however it
    is encoded (JSON escapes, MIME headers and base64 parts). A delivery is a sender's
    document about someone (an order, a mail): nothing of it is worth keeping once the
    person is erased, and the record itself (status, times, reason) stays for operations.
    Bodies are read a page at a time: this is the cost of finding them."""
    after = ""
    while True:
        page = (
            await session.execute(
                select(InboxRecord.id, InboxRecord.body)
                .where(InboxRecord.tenant_id == tenant_id, InboxRecord.id > after)
                .order_by(InboxRecord.id)
                .limit(BINARY_PAGE)
            )
        ).all()
        for record_id, body in page:
            if body != REDACTED_BODY and matcher.found_in_bytes(body):
                await execute_core(
                    session,
                    update(InboxRecord).where(InboxRecord.id == record_id),
                    {"body": REDACTED_BODY},
                )
                changes.add(InboxRecord.__tablename__, (record_id,))
        if len(page) < BINARY_PAGE:
            return
        after = page[-1][0]


def _redacted(text: str) -> str:
    return REDACTED if text else text


def _set(changes: Changes, row: Base, **values: Any) -> None:
    """Assign the values that differ, and count the row as changed if any did."""
    differs = {name: value for name, value in values.items() if getattr(row, name) != value}
    for name, value in differs.items():
        setattr(row, name, value)
    if differs:
        table = table_of(type(row))
        changes.add(
            table.name, tuple(getattr(row, column.key) for column in table.primary_key.columns)
        )


async def _rewrite(
    session: AsyncSession,
    changes: Changes,
    statement: Any,
    **fields: Callable[[Any], Any],
) -> list[Any]:
    """Load the rows and apply each field's rewrite to them; the rows."""
    rows = await _all(session, statement)
    for row in rows:
        _set(
            changes, row, **{name: rewrite(getattr(row, name)) for name, rewrite in fields.items()}
        )
    return rows


async def _all(session: AsyncSession, statement: Any) -> list[Any]:
    return list((await session.scalars(statement)).all())


async def _ids(session: AsyncSession, column: Any, where: Any) -> Sequence[str]:
    return (await session.scalars(select(column).where(where))).all()
