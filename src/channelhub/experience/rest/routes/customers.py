"""Customers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.process.customers import schemas
from channelhub.process.customers import service as customers

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get("", responses=READ_ERRORS, summary="List customers")
async def list_customers(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    email: Annotated[str | None, Query(description="Only the customer with this e-mail.")] = None,
) -> ListResponse[schemas.Customer]:
    """Customers newest first, with their ids in other systems. Needs `customers:read`."""
    return ListResponse.of(await customers.list_customers(session, principal, page, email=email))


@router.get("/{customer_id}", responses=READ_ERRORS, summary="Get a customer")
async def get_customer(
    customer_id: Annotated[str, Path(description="Customer id (cus_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Customer:
    """One customer. Needs `customers:read`."""
    return await customers.get_customer(session, principal, customer_id)


@router.patch("/{customer_id}", responses=WRITE_ERRORS, summary="Change a customer's metadata")
async def update_metadata(
    customer_id: Annotated[str, Path(description="Customer id (cus_...).")],
    data: schemas.MetadataUpdate,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Customer:
    """Set keys of the customer's `metadata` (null removes one; keys not given stay; 50
    keys at most). Promotion rules match them as `customer.metadata.<key>`. Needs
    `customers:write`."""
    return await customers.update_metadata(session, principal, customer_id, data)
