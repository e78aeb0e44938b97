"""Customers and the tenant's schema for their metadata."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import AfterValidator

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.process.customers import metadata_schema, schemas
from channelhub.process.customers import service as customers
from channelhub.process.customers.contacts import normalise_phone
from channelhub.process.privacy import erasure
from channelhub.process.privacy import export as privacy

router = APIRouter(prefix="/v1", tags=["customers"])


@router.get("/customers", responses=READ_ERRORS, summary="List customers")
async def list_customers(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    email: Annotated[
        str | None, Query(description="Only customers with this e-mail address (any case).")
    ] = None,
    phone: Annotated[
        str | None,
        Query(
            description="Only customers with this phone number, written any way with its "
            "country code (`+351 912 345 678`, `00351912345678`).",
        ),
        AfterValidator(lambda value: None if value is None else normalise_phone(value)),
    ] = None,
) -> ListResponse[schemas.Customer]:
    """Customers newest first, with their ids in other systems and their segments. Needs
    `customers:read`."""
    return ListResponse.of(
        await customers.list_customers(session, principal, page, email=email, phone=phone)
    )


@router.get("/customers/{customer_id}", responses=READ_ERRORS, summary="Get a customer")
async def get_customer(
    customer_id: Annotated[str, Path(description="Customer id (cus_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Customer:
    """One customer, with the keys of the segments they are in. Needs `customers:read`."""
    return await customers.get_customer(session, principal, customer_id)


@router.patch(
    "/customers/{customer_id}", responses=WRITE_ERRORS, summary="Change a customer's metadata"
)
async def update_metadata(
    customer_id: Annotated[str, Path(description="Customer id (cus_...).")],
    data: schemas.MetadataUpdate,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Customer:
    """Set keys of the customer's `metadata` (null removes one; keys not given stay; 50
    keys at most). With a customer metadata schema, each key given must fit it (type,
    allowed values, no unknown key when `additional` is false) and required keys must be
    present afterwards; a misfit is refused (422) pointing at `/metadata/<key>`. Promotion
    and segment rules match keys as `customer.metadata.<key>`. Emits `customer.updated`
    naming each key changed (`metadata.<key>`), and `customer.segment_entered` /
    `customer.segment_left` for segments the change moves them in or out of; nothing when
    nothing changed. Needs `customers:write`."""
    return await customers.update_metadata(session, principal, customer_id, data)


@router.post(
    "/customers/{customer_id}/export",
    responses={
        200: {
            "description": "A ZIP archive (`content-disposition: attachment`).",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **READ_ERRORS,
    },
    response_class=Response,
    summary="Export everything held about a customer (GDPR)",
)
async def export_customer(
    customer_id: Annotated[str, Path(description="Customer id (cus_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    """A ZIP archive of everything the hub holds about the customer, as stored: profile
    and external ids, orders (matched by their e-mail address) with lines, timeline,
    shipments, returns and refunds, helpdesk tickets with every message, activity and
    attached file, notifications sent and consents (by e-mail address or phone),
    redemptions and vouchers given to them; `manifest.json` says what each file holds.
    Recorded as `customer.data_exported` (who asked, what was included, no personal
    data). Needs `privacy:write`."""
    content = await privacy.export_customer(session, principal, customer_id)
    return Response(
        content,
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{customer_id}-data.zip"'},
    )


@router.get(
    "/customer-metadata-schema", responses=READ_ERRORS, summary="Get the customer metadata schema"
)
async def get_metadata_schema(
    session: SessionDep, principal: PrincipalDep
) -> schemas.MetadataSchema:
    """The keys of customer metadata the tenant describes, and whether others are accepted.
    Without a schema set: no fields and `additional: true` (anything goes). Needs
    `customers:read`."""
    return await metadata_schema.get_schema(session, principal)


@router.put(
    "/customer-metadata-schema", responses=WRITE_ERRORS, summary="Set the customer metadata schema"
)
async def put_metadata_schema(
    data: schemas.MetadataSchemaUpdate, session: SessionDep, principal: PrincipalDep
) -> schemas.MetadataSchema:
    """Replace the schema that metadata written from now on must fit: each field's `type`
    (string, integer, number, boolean, date as YYYY-MM-DD), its allowed `values`, whether
    it is `required`, and whether keys not described are accepted (`additional`). A key
    described twice, or a listed value of the wrong type, is refused (422). Metadata
    already stored is not rewritten or re-checked: a value that no longer fits stays until
    it is next written. Set no fields and `additional: true` to accept anything again.
    Needs `customers:write`."""
    return await metadata_schema.put_schema(session, principal, data)


@router.post(
    "/customers/{customer_id}/erase",
    responses=WRITE_ERRORS,
    summary="Erase a customer's personal data (GDPR)",
)
async def erase_customer(
    customer_id: Annotated[str, Path(description="Customer id (cus_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> erasure.Erasure:
    """Erase the customer's personal data everywhere in the hub, for good: their e-mail
    addresses, phone numbers, names and street lines become pseudonyms
    (`erased-<random>@erased.invalid` for an e-mail) in every record that held them —
    profile, orders, shipments, returns, tickets and messages, notifications, redemptions,
    the inbox's raw deliveries, the event log, webhook logs, stored responses, and any
    other table — what they wrote is redacted and the files they attached are deleted.
    Amounts, order numbers and statuses stay, so orders still read and add up. The
    customer stays, with `erased_at`; asking again changes nothing (`already_erased`). A
    later order or upsert with the same e-mail address makes a new customer. Recorded as
    `customer.erased` (who asked, rows changed per table, no personal data); what erasure
    cannot reach is listed in docs/privacy.md. Needs `privacy:write`."""
    return await erasure.erase_customer(session, principal, customer_id)
