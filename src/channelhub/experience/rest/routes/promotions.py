"""Campaigns, vouchers, validation, redemption and rollback.

Validation and redemption, which every checkout calls, are on a router of their own that
the app includes before every other: the router tries routes in order, and matching a
path against the hundreds of routes before it cost more than a tenth of a redeem.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, get_hub, idempotent
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.platform.errors import InvalidError
from channelhub.process.promotions import campaigns, redemptions, schemas, vouchers

router = APIRouter(prefix="/v1", tags=["promotions"])
checkout = APIRouter(prefix="/v1", tags=["promotions"])
"""The hot paths (validate, redeem), routed first."""

CampaignId = Annotated[str, Path(description="Campaign id (cmp_...).")]
VoucherCode = Annotated[str, Path(description="The voucher's code (any case).")]
RedemptionId = Annotated[str, Path(description="Redemption id (rdm_...).")]

REDEEM_ERRORS: dict[int | str, dict[str, Any]] = {
    **WRITE_ERRORS,
    409: {
        **WRITE_ERRORS[409],
        "description": "Refused as a whole: the problem's `code` is the first reason "
        "(`code_exhausted`, `budget_exhausted`, `voucher_expired`, `wrong_channel`...) and "
        "`refused` lists every code refused with its reason.",
    },
}


@router.post(
    "/campaigns",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Create a campaign",
)
async def create_campaign(
    data: schemas.CampaignCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> schemas.Campaign:
    """A promotion: what it takes off (`effect`), when it applies (`rules`, schedule,
    channels, brands) and what it may give at most (`budget`, `per_customer`). A
    `vouchers` campaign applies through its codes; an `automatic` one by itself. Rules
    naming unknown fields or comparing the wrong types are refused (422) with the path of
    the fault. Emits `campaign.created`. Needs `promotions:write`."""
    created = await campaigns.create_campaign(session, principal, data)
    response.headers["Location"] = f"/v1/campaigns/{created.id}"
    return created


@router.get("/campaigns", responses=READ_ERRORS, summary="List campaigns")
async def list_campaigns(
    session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Campaign]:
    """Campaigns newest first, with their counters. Needs `promotions:read`."""
    return ListResponse.of(await campaigns.list_campaigns(session, principal, page))


@router.get("/campaigns/{campaign_id}", responses=READ_ERRORS, summary="Get a campaign")
async def get_campaign(
    campaign_id: CampaignId, session: SessionDep, principal: PrincipalDep
) -> schemas.Campaign:
    """One campaign, its state now and what it has given so far. Needs `promotions:read`."""
    return await campaigns.get_campaign(session, principal, campaign_id)


@router.patch("/campaigns/{campaign_id}", responses=WRITE_ERRORS, summary="Change a campaign")
async def update_campaign(
    campaign_id: CampaignId,
    data: schemas.CampaignUpdate,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Campaign:
    """Change the members given (schedule, rules, channels, budget, stacking...); its
    effect and type stay. Emits `campaign.updated`. Needs `promotions:write`."""
    return await campaigns.update_campaign(session, principal, campaign_id, data)


@router.post(
    "/campaigns/{campaign_id}/vouchers",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Add a code",
)
async def create_voucher(
    campaign_id: CampaignId,
    data: schemas.VoucherCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.Voucher:
    """One code of your choosing (stored upper case; codes are unique in the tenant, 409
    otherwise). Emits `voucher.created`. Needs `promotions:write`."""
    created = await campaigns.create_voucher(session, principal, campaign_id, data)
    response.headers["Location"] = f"/v1/vouchers/{created.code}"
    return created


@router.post(
    "/campaigns/{campaign_id}/voucher-batches",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Generate codes",
)
async def generate_vouchers(
    campaign_id: CampaignId,
    data: schemas.VoucherBatch,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.BatchResult:
    """Up to 100,000 unguessable unique codes from a pattern, in one transaction (for
    millions, `channelhub vouchers generate`). A pattern too small for the count is
    refused (422 `pattern_too_small`). Emits one `voucher_batch.created`. Needs
    `promotions:write`."""
    return await vouchers.generate(session, principal, campaign_id, data)


@router.post(
    "/campaigns/{campaign_id}/voucher-imports",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "UTF-8 CSV with a header: `code` and any of `max_redemptions`, "
            "`customer_id`, `expires_at`.",
        }
    },
    summary="Import codes from CSV",
)
async def import_vouchers(
    campaign_id: CampaignId, request: Request, session: SessionDep, principal: PrincipalDep
) -> schemas.BatchResult:
    """Add the codes of a CSV file. A bad row refuses the whole file (422, naming its
    line); a code that exists already is skipped and counted. Emits one
    `voucher_batch.created`. Needs `promotions:write`."""
    limit = get_hub(request).settings.max_request_body_bytes
    body = await request.body()
    if len(body) > limit:
        raise InvalidError(f"the file exceeds {limit} bytes", field="file")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidError("the file is not UTF-8", field="file") from exc
    return await vouchers.import_codes(session, principal, campaign_id, vouchers.parse_csv(text))


@router.get("/vouchers", responses=READ_ERRORS, summary="List vouchers")
async def list_vouchers(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    campaign_id: Annotated[str | None, Query(description="Only this campaign's.")] = None,
    customer_id: Annotated[str | None, Query(description="Only those given to them.")] = None,
) -> ListResponse[schemas.Voucher]:
    """Vouchers newest first. Needs `promotions:read`."""
    found = await campaigns.list_vouchers(
        session, principal, page, campaign_id=campaign_id, customer_id=customer_id
    )
    return ListResponse.of(found)


@router.get("/vouchers/{code}", responses=READ_ERRORS, summary="Get a voucher")
async def get_voucher(
    code: VoucherCode, session: SessionDep, principal: PrincipalDep
) -> schemas.Voucher:
    """One voucher by its code, with its uses. Needs `promotions:read`."""
    return await campaigns.get_voucher(session, principal, code)


@router.patch("/vouchers/{code}", responses=WRITE_ERRORS, summary="Disable or re-date a code")
async def update_voucher(
    code: VoucherCode, data: schemas.VoucherUpdate, session: SessionDep, principal: PrincipalDep
) -> schemas.Voucher:
    """Disable (or enable) a code, or change when it expires. Emits `voucher.updated`.
    Needs `promotions:write`."""
    return await campaigns.update_voucher(session, principal, code, data)


@router.post(
    "/vouchers/{code}/publication",
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Give a code to a customer",
)
async def publish_voucher(
    code: VoucherCode, data: schemas.Publication, session: SessionDep, principal: PrincipalDep
) -> schemas.Voucher:
    """Only this customer may use the code from now on (409 if it was given to someone
    else). Emits `voucher.published`. Needs `promotions:write`."""
    return await campaigns.publish_voucher(session, principal, code, data)


@router.post(
    "/promotions/qualifications", responses=READ_ERRORS, summary="What may this customer use?"
)
async def qualify(
    data: schemas.Purchase, session: SessionDep, principal: PrincipalDep
) -> schemas.Qualification:
    """Every automatic offer and every code given to this customer that applies to the
    cart, each with what it would take off alone (largest first), and the automatic offers
    as they stack. Spends nothing. Needs `promotions:read`."""
    return await redemptions.qualify(session, principal, data)


@checkout.post(
    "/promotions/validations", responses=READ_ERRORS, summary="Check codes against a cart"
)
async def validate(
    data: schemas.ValidationRequest, session: SessionDep, principal: PrincipalDep
) -> schemas.Validation:
    """What the codes given and the automatic offers would take off this cart, in the
    order they stack, and why any code does not apply (`refused[].reason`). Spends
    nothing. Needs `promotions:read`."""
    return await redemptions.validate(session, principal, data)


@checkout.post(
    "/promotions/redemptions",
    status_code=201,
    responses=REDEEM_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Redeem",
)
async def redeem(
    data: schemas.RedemptionRequest,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.Redemption:
    """Spend the codes given and the automatic offers that apply, all or nothing, atomic
    against every limit and budget. With `order_id`, the redemption rolls back by itself
    when that order is cancelled or refunded in full. Emits `voucher.redeemed` for each
    code, `redemption.succeeded`, and `campaign.budget_exhausted` when a budget runs out.
    Send an `Idempotency-Key` so that a retry never redeems twice. Needs
    `promotions:write`."""
    created = await redemptions.redeem(session, principal, data)
    response.headers["Location"] = f"/v1/promotions/redemptions/{created.id}"
    return created


@router.get("/promotions/redemptions", responses=READ_ERRORS, summary="List redemptions")
async def list_redemptions(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    order_id: Annotated[str | None, Query(description="Only this order's.")] = None,
    customer_id: Annotated[str | None, Query(description="Only this customer's.")] = None,
) -> ListResponse[schemas.Redemption]:
    """Redemptions newest first. Needs `promotions:read`."""
    found = await redemptions.list_redemptions(
        session, principal, page, order_id=order_id, customer_id=customer_id
    )
    return ListResponse.of(found)


@router.get(
    "/promotions/redemptions/{redemption_id}", responses=READ_ERRORS, summary="Get a redemption"
)
async def get_redemption(
    redemption_id: RedemptionId, session: SessionDep, principal: PrincipalDep
) -> schemas.Redemption:
    """One redemption and the discounts it applied. Needs `promotions:read`."""
    return await redemptions.get_redemption(session, principal, redemption_id)


@router.post(
    "/promotions/redemptions/{redemption_id}/rollback",
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Roll a redemption back",
)
async def rollback(
    redemption_id: RedemptionId,
    data: schemas.Rollback,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Redemption:
    """Undo it: its codes, budgets and per-customer limits get their uses back (409
    `already_rolled_back` the second time). Emits `voucher.rolled_back` for each code and
    `redemption.rolled_back`. Needs `promotions:write`."""
    return await redemptions.rollback(session, principal, redemption_id, data)


@router.get("/promotion-settings", responses=READ_ERRORS, summary="Promotion settings")
async def get_settings(session: SessionDep, principal: PrincipalDep) -> schemas.Settings:
    """The tenant's promotion settings. Needs `promotions:read`."""
    return await campaigns.get_settings(session, principal)


@router.put("/promotion-settings", responses=WRITE_ERRORS, summary="Change promotion settings")
async def put_settings(
    data: schemas.Settings, session: SessionDep, principal: PrincipalDep
) -> schemas.Settings:
    """How many codes one order may use. Needs `promotions:write`."""
    return await campaigns.put_settings(session, principal, data)
