from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from channelhub.process.orders.schemas import Email, ExternalRef, Language


class CustomerUpsert(BaseModel):
    """A customer as a system of record sees them: found by its id for them, else by
    e-mail, else created."""

    model_config = ConfigDict(extra="forbid")

    external_id: ExternalRef = Field(description="The system's id for the customer.")
    email: Email | None = Field(None, description="E-mail address.")
    phone: str = Field("", max_length=32, description="Phone number.")
    name: str = Field("", max_length=200, description="Full name.")
    language: Language | None = Field(None, description="Preferred language.")
    tier: str | None = Field(
        None,
        max_length=32,
        pattern=r"^[a-z0-9_-]*$",
        description="The customer's tier as the loyalty or CRM system names it (vip, gold...); "
        "helpdesk routing rules can match it. Absent: unchanged.",
    )
    source_updated_at: AwareDatetime | None = Field(
        None, description="The system's update time; an older update changes nothing."
    )


class Customer(BaseModel):
    id: str = Field(description="Customer id (cus_...).")
    email: str = Field(description="E-mail address.")
    phone: str = Field(description="Phone number.")
    name: str = Field(description="Full name.")
    language: str = Field(description="Preferred language, if known.")
    tier: str = Field(description="The customer's tier (vip, gold...), if known.")
    external_ids: list[ExternalRef] = Field(description="Ids of the customer in other systems.")
    created_at: datetime = Field(description="When first seen (UTC).")
    updated_at: datetime = Field(description="When last changed (UTC).")
