"""Loyalty programs, members and their points, rewards and custom earning events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, idempotent
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.process.loyalty import custom_events, members, programs, rewards, schemas

router = APIRouter(prefix="/v1/loyalty", tags=["loyalty"])

ProgramId = Annotated[str, Path(description="Program id (lyp_...).")]
MemberId = Annotated[str, Path(description="Member id (mbr_...).")]
RewardId = Annotated[str, Path(description="Reward id (rwd_...).")]


@router.post(
    "/programs",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Create a loyalty program",
)
async def create_program(
    data: schemas.ProgramCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> schemas.Program:
    """A program: what earns points (paid orders at a rate, custom events such as an
    offline receipt, entering a segment), how long points stay pending (the return
    window) and when they expire, and its tiers (by points in a period, or by any customer
    metadata key). Emits `loyalty.program_created`. Needs `loyalty:write`."""
    created = await programs.create_program(session, principal, data)
    response.headers["Location"] = f"/v1/loyalty/programs/{created.id}"
    return created


@router.get("/programs", responses=READ_ERRORS, summary="List loyalty programs")
async def list_programs(
    session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Program]:
    """Programs, newest first. Needs `loyalty:read`."""
    return ListResponse.of(await programs.list_programs(session, principal, page))


@router.get("/programs/{program_id}", responses=READ_ERRORS, summary="Get a loyalty program")
async def get_program(
    program_id: ProgramId, session: SessionDep, principal: PrincipalDep
) -> schemas.Program:
    """One program. Needs `loyalty:read`."""
    return await programs.get_program(session, principal, program_id)


@router.patch("/programs/{program_id}", responses=WRITE_ERRORS, summary="Change a program")
async def update_program(
    program_id: ProgramId,
    data: schemas.ProgramUpdate,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Program:
    """Change the members given. Earning rules and expiry apply to points earned from then
    on; new tiers apply to each member at their next movement of points or metadata
    change, or at the periodic tier review. Emits `loyalty.program_updated`. Needs
    `loyalty:write`."""
    return await programs.update_program(session, principal, program_id, data)


@router.post(
    "/programs/{program_id}/members",
    status_code=201,
    responses={200: {"description": "Already a member."}, **WRITE_ERRORS},
    summary="Enrol a customer",
)
async def enrol(
    program_id: ProgramId,
    data: schemas.Enrolment,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.Member:
    """Make the customer a member (201), or return their membership (200). Programs with
    `auto_enroll` also enrol customers at their first earning. Emits
    `loyalty.member_enrolled`. Needs `loyalty:write`."""
    member, joined = await members.enrol_customer(session, principal, program_id, data)
    response.status_code = 201 if joined else 200
    response.headers["Location"] = f"/v1/loyalty/members/{member.id}"
    return member


@router.get("/members", responses=READ_ERRORS, summary="List members")
async def list_members(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    program_id: Annotated[str | None, Query(description="Only this program's.")] = None,
    customer_id: Annotated[str | None, Query(description="Only this customer's.")] = None,
) -> ListResponse[schemas.Member]:
    """Members with their balance and tier, newest first. Needs `loyalty:read`."""
    return ListResponse.of(
        await members.list_members(
            session, principal, page, program_id=program_id, customer_id=customer_id
        )
    )


@router.get("/members/{member_id}", responses=READ_ERRORS, summary="Get a member")
async def get_member(
    member_id: MemberId, session: SessionDep, principal: PrincipalDep
) -> schemas.Member:
    """A member's balance (available, pending, and what expires next), tier and progress
    to the next tier, all derived from their ledger now. Needs `loyalty:read`."""
    return await members.get_member(session, principal, member_id)


@router.get("/members/{member_id}/ledger", responses=READ_ERRORS, summary="A member's ledger")
async def list_entries(
    member_id: MemberId, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Entry]:
    """Every movement of the member's points, newest first; entries are never changed or
    removed. Needs `loyalty:read`."""
    return ListResponse.of(await members.list_entries(session, principal, member_id, page))


@router.post(
    "/members/{member_id}/adjustments",
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Add or take off points by hand",
)
async def adjust(
    member_id: MemberId, data: schemas.Adjustment, session: SessionDep, principal: PrincipalDep
) -> schemas.Member:
    """A goodwill gesture or a correction, with its reason and your reference (the same
    reference adjusts once). Taking off more than is available is refused (422
    `not_enough_points`). Emits `loyalty.points_earned` or `loyalty.points_spent`. Needs
    `loyalty:write`."""
    return await members.adjust(session, principal, member_id, data)


@router.post(
    "/events",
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Record a custom earning event",
)
async def record_event(
    data: schemas.LoyaltyEvent, session: SessionDep, principal: PrincipalDep
) -> schemas.EventResult:
    """Something that earns points outside the online shop: a receipt scanned at a till,
    a review, a birthday. The program's earning rule of that `name` decides the points
    (fixed, and/or a rate on `amount`). The customer is found by id, a system's id for
    them, e-mail or phone, and recorded if new. The same event `id` earns once. Emits
    `loyalty.points_earned`. Needs `loyalty:write`."""
    return await custom_events.earn_for_event(session, principal, data)


@router.post(
    "/programs/{program_id}/rewards",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Add a reward",
)
async def create_reward(
    program_id: ProgramId,
    data: schemas.RewardCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.Reward:
    """A reward members buy with points: a single-use code of a vouchers campaign (a
    discount, a free product, or money off), optionally only from a tier up. Needs
    `loyalty:write`."""
    created = await programs.create_reward(session, principal, program_id, data)
    response.headers["Location"] = f"/v1/loyalty/rewards/{created.id}"
    return created


@router.get("/programs/{program_id}/rewards", responses=READ_ERRORS, summary="List rewards")
async def list_rewards(
    program_id: ProgramId, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Reward]:
    """The program's rewards catalogue. Needs `loyalty:read`."""
    return ListResponse.of(await programs.list_rewards(session, principal, program_id, page))


@router.get("/rewards/{reward_id}", responses=READ_ERRORS, summary="Get a reward")
async def get_reward(
    reward_id: RewardId, session: SessionDep, principal: PrincipalDep
) -> schemas.Reward:
    """One reward. Needs `loyalty:read`."""
    return await programs.get_reward(session, principal, reward_id)


@router.patch("/rewards/{reward_id}", responses=WRITE_ERRORS, summary="Change a reward")
async def update_reward(
    reward_id: RewardId, data: schemas.RewardUpdate, session: SessionDep, principal: PrincipalDep
) -> schemas.Reward:
    """Change its cost, tier, validity, description or state. Needs `loyalty:write`."""
    return await programs.update_reward(session, principal, reward_id, data)


@router.post(
    "/reward-redemptions",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Redeem a reward",
)
async def redeem_reward(
    data: schemas.RewardRedemptionRequest, session: SessionDep, principal: PrincipalDep
) -> schemas.RewardRedemption:
    """Spend the member's points on a reward and issue its code to them, in one step.
    Refused as a whole (409, nothing spent) when the member has too few available points
    (`not_enough_points`), their tier is too low (`tier_too_low`), or the reward is off
    (`reward_inactive`; `campaign_ended`, `campaign_exhausted`, `campaign_scheduled` or
    `campaign_disabled` when its campaign is not running). Emits `loyalty.points_spent`,
    `voucher.created` and `loyalty.reward_redeemed`. Send an `Idempotency-Key`. Needs
    `loyalty:write`."""
    return await rewards.redeem_reward(session, principal, data)
