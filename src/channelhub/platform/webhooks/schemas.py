"""What the webhooks API takes and returns. A secret is shown when it is made (on create
and on rotation) and never again."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from channelhub.platform.webhooks.signing import SECRET_PREFIX

EventTypePatterns = list[str]


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


def _secret(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(SECRET_PREFIX):
        raise ValueError(f"a secret looks like {SECRET_PREFIX}<base64>")
    try:
        raw = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"the part after {SECRET_PREFIX} is not base64") from exc
    if not 24 <= len(raw) <= 64:
        raise ValueError("a secret is 24 to 64 random bytes")
    return value


Secret = Annotated[str | None, AfterValidator(_secret)]


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="Where events are POSTed (https://...).")
    description: str = Field("", max_length=500, description="What this endpoint is for.")
    event_types: EventTypePatterns = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        max_length=100,
        description="Event types to send: exact names (order.created) or patterns "
        "(order.*, *). Each must name at least one type of the event catalogue.",
    )
    enabled: bool = Field(True, description="Disabled endpoints receive nothing.")
    secret: Secret = Field(
        None,
        description="Your own signing secret (whsec_ + base64 of 24-64 bytes); by default "
        "one is generated.",
    )


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=2048, description="New URL.")
    description: str | None = Field(None, max_length=500, description="New description.")
    event_types: EventTypePatterns | None = Field(
        None, min_length=1, max_length=100, description="New event type filter."
    )
    enabled: bool | None = Field(
        None,
        description="false stops deliveries (those waiting are held); true resumes them "
        "and clears the failure record.",
    )


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: int = Field(
        24,
        ge=0,
        le=168,
        description="How long the old secret keeps signing beside the new one (both "
        "signatures are sent), so receivers can switch without losing a delivery.",
    )
    secret: Secret = Field(None, description="The new secret; by default one is generated.")


class Endpoint(BaseModel):
    id: str = Field(description="Endpoint id (whe_...).")
    url: str = Field(description="Where events are POSTed.")
    description: str = Field(description="What this endpoint is for.")
    event_types: EventTypePatterns = Field(description="Event types it receives.")
    enabled: bool = Field(description="Whether it receives events.")
    disabled_reason: str = Field(description="Why it was disabled, when the hub did it.")
    failing_since: datetime | None = Field(
        description="First failed attempt since the last success (UTC)."
    )
    previous_secret_until: datetime | None = Field(
        description="Until when the previous secret still signs (during a rotation)."
    )
    created_at: datetime = Field(description="When it was created (UTC).")
    updated_at: datetime = Field(description="When it last changed (UTC).")


class EndpointWithSecret(Endpoint):
    secret: str = Field(
        description="The signing secret: verify deliveries with it. Shown only now."
    )


class Attempt(BaseModel):
    id: str = Field(description="Attempt id (wha_...).")
    delivery_id: str = Field(description="The delivery it belongs to.")
    attempted_at: datetime = Field(description="When the request was sent (UTC).")
    status_code: int | None = Field(description="The HTTP status answered; null if none.")
    latency_ms: int = Field(description="Time to the answer (or to the failure).")
    response: str = Field(description="The start of the answer's body.")
    error: str = Field(description="Why it failed without an answer (timeout, refused...).")


class Delivery(BaseModel):
    id: str = Field(description="Delivery id (whd_...).")
    endpoint_id: str = Field(description="The endpoint.")
    event_id: str = Field(description="The event (also the webhook-id header).")
    event_type: str = Field(description="The event's type.")
    status: DeliveryStatus = Field(description="pending, delivered or failed.")
    attempts: int = Field(description="Requests sent so far.")
    next_attempt_at: datetime | None = Field(description="When it is tried next (pending).")
    last_status_code: int | None = Field(description="The last HTTP status answered.")
    last_error: str = Field(description="The last failure.")
    created_at: datetime = Field(description="When the event was queued for the endpoint.")
    delivered_at: datetime | None = Field(description="When a 2xx answer came.")
    attempt_log: list[Attempt] | None = Field(
        None, description="Every attempt, oldest first (on GET of one delivery)."
    )


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime = Field(description="Replay events from this time (inclusive, UTC).")
    until: datetime | None = Field(None, description="...up to this time (exclusive); now.")


class ReplayResult(BaseModel):
    queued: int = Field(description="Events queued for the endpoint again.")


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_private_targets: bool = Field(
        False,
        description="Allow endpoints on private, loopback and link-local addresses (your "
        "own network). Off by default, so a URL cannot be used to reach the hub's "
        "neighbours (SSRF).",
    )
