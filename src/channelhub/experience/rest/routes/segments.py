"""Customer segments: rule-defined groups of customers, kept up to date."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, idempotent
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.process.customers import schemas, segments

router = APIRouter(prefix="/v1/segments", tags=["customers"])

SegmentId = Annotated[str, Path(description="Segment id (seg_...).")]


@router.post(
    "",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Create a segment",
)
async def create_segment(
    data: schemas.SegmentCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> schemas.Segment:
    """A group of customers defined by `rules`: a condition tree (`all`, `any`, `not`,
    conditions `{"field", "op", "value"}`) over `customer.tier`, `customer.language`,
    `customer.email`, `customer.email_domain`, `customer.created_at`,
    `customer.metadata.<key>`, `customer.orders_count` and `customer.total_spent.<CUR>`.
    Rules naming an unknown field or comparing the wrong types are refused (422) with the
    path of the fault; a key already used is refused (409). Every customer is evaluated
    before the answer: each one in it gets `customer.segment_entered`. Needs
    `customers:write`."""
    created = await segments.create_segment(session, principal, data)
    response.headers["Location"] = f"/v1/segments/{created.id}"
    return created


@router.get("", responses=READ_ERRORS, summary="List segments")
async def list_segments(
    session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Segment]:
    """Segments newest first, with how many customers are in each. Needs `customers:read`."""
    return ListResponse.of(await segments.list_segments(session, principal, page))


@router.get("/{segment_id}", responses=READ_ERRORS, summary="Get a segment")
async def get_segment(
    segment_id: SegmentId, session: SessionDep, principal: PrincipalDep
) -> schemas.Segment:
    """One segment. Needs `customers:read`."""
    return await segments.get_segment(session, principal, segment_id)


@router.patch("/{segment_id}", responses=WRITE_ERRORS, summary="Change a segment")
async def update_segment(
    segment_id: SegmentId, data: schemas.SegmentUpdate, session: SessionDep, principal: PrincipalDep
) -> schemas.Segment:
    """Change the name, description or rules given (the key is permanent). New rules
    re-evaluate every customer before the answer, with `customer.segment_entered` /
    `customer.segment_left` for each one who moved. Needs `customers:write`."""
    return await segments.update_segment(session, principal, segment_id, data)


@router.delete("/{segment_id}", status_code=204, responses=WRITE_ERRORS, summary="Delete a segment")
async def delete_segment(
    segment_id: SegmentId, session: SessionDep, principal: PrincipalDep
) -> None:
    """Every member leaves it (`customer.segment_left` each), then it is gone. Needs
    `customers:write`."""
    await segments.delete_segment(session, principal, segment_id)


@router.get("/{segment_id}/customers", responses=READ_ERRORS, summary="List a segment's customers")
async def list_members(
    segment_id: SegmentId, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Customer]:
    """The customers in the segment now, newest customer first. Needs `customers:read`."""
    return ListResponse.of(await segments.list_members(session, principal, segment_id, page))
