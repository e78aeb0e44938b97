"""Events of the customers context. The subject of each is the customer's id."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from channelhub.platform.events.catalog import declare
from channelhub.process.customers.schemas import Customer


class CustomerChanged(BaseModel):
    """What changed about a customer, and the customer now."""

    changed: list[str] = Field(
        description="What changed: email, phone, name, language, tier, external_ids, and "
        "metadata.<key> for each metadata key set to a new value or removed."
    )
    customer: Customer = Field(description="The customer after the change.")


class SegmentMembershipChange(BaseModel):
    """A customer entered or left a segment."""

    segment_id: str = Field(description="The segment (seg_...).")
    segment_key: str = Field(description="The segment's key.")
    customer_id: str = Field(description="The customer (cus_...).")
    at: datetime = Field(description="When (UTC).")


CUSTOMER_CREATED = declare(
    "customer.created",
    context="customers",
    description="A customer was first seen (from a system of record, or resolved with create).",
    data_model=Customer,
)
CUSTOMER_UPDATED = declare(
    "customer.updated",
    context="customers",
    description="A customer's details, ids in other systems or metadata changed; `changed` "
    "names what.",
    data_model=CustomerChanged,
)
CUSTOMER_SEGMENT_ENTERED = declare(
    "customer.segment_entered",
    context="customers",
    description="A customer now matches a segment's rules (they changed, their orders did, or "
    "the segment was created or its rules changed).",
    data_model=SegmentMembershipChange,
)
CUSTOMER_SEGMENT_LEFT = declare(
    "customer.segment_left",
    context="customers",
    description="A customer no longer matches a segment's rules, or the segment was deleted.",
    data_model=SegmentMembershipChange,
)
