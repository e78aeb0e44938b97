"""The event catalogue and the event log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep
from channelhub.experience.rest.schemas import READ_ERRORS, ListResponse
from channelhub.platform.events.catalog import event_types
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.log import list_events

router = APIRouter(prefix="/v1", tags=["events"])


class EventTypeInfo(BaseModel):
    name: str = Field(description="The event type, e.g. product.created.")
    source: str = Field(description="CloudEvents source of events of this type.")
    description: str = Field(description="When the event is emitted.")
    data_schema: dict[str, Any] = Field(description="JSON Schema of the event's data.")
    example: Any = Field(description="An example of the event's data (built from its schema).")


@router.get("/event-types", responses=READ_ERRORS, summary="The event catalogue")
async def list_event_types(principal: PrincipalDep) -> list[EventTypeInfo]:
    """Every event type channelhub emits, with the JSON Schema of its `data`. Events use
    the CloudEvents 1.0 envelope plus `tenant` and a per-subject `sequence`."""
    return [
        EventTypeInfo(
            name=t.name,
            source=t.source,
            description=t.description,
            data_schema=t.json_schema(),
            example=t.example(),
        )
        for t in event_types()
    ]


@router.get("/events", responses=READ_ERRORS, summary="The event log")
async def get_events(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    type: Annotated[
        str | None, Query(description="Event type, or a pattern such as product.*")
    ] = None,
    subject: Annotated[str | None, Query(description="Only events about this id.")] = None,
) -> ListResponse[EventEnvelope]:
    """Your tenant's events, newest first, kept for the configured retention (30 days by
    default). Needs `events:read`."""
    principal.require("events:read")
    return ListResponse.of(
        await list_events(session, principal.tenant_id, page, type_pattern=type, subject=subject)
    )
