"""The one event envelope: CloudEvents 1.0 attributes plus ``tenant`` and ``sequence``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field


class EventEnvelope(BaseModel):
    """A domain event as published on the bus, sent to webhooks and shown by ``events tail``.

    ``sequence`` counts the events of one ``subject`` (1, 2, 3...) so a consumer can tell
    when it sees an older state after a newer one.
    """

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = Field("1.0", description="CloudEvents version.")
    id: str = Field(description="Unique event id (evt_...); stable across redeliveries.")
    source: str = Field(description="What emitted the event, e.g. /tenants/ten_.../catalog.")
    type: str = Field(description="Dotted, past-tense event type, e.g. product.created.")
    subject: str = Field(description="Id of the thing the event is about, e.g. prd_...")
    time: datetime = Field(
        description="When the change was made (UTC), in the transaction that committed it."
    )
    datacontenttype: Literal["application/json"] = Field(
        "application/json", description="Media type of data: always application/json."
    )
    tenant: str = Field(description="Tenant (merchant) id the event belongs to.")
    sequence: int = Field(ge=1, description="Position of this event among its subject's events.")
    data: dict[str, Any] = Field(description="The event payload; its schema depends on type.")

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> EventEnvelope:
        return cls.model_validate_json(raw)
