"""Customer notifications: settings, template overrides, consents, what each order's
customer was sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, get_hub, idempotent
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.platform.webhooks import service as webhooks
from channelhub.platform.webhooks import targets
from channelhub.process.notifications import schemas
from channelhub.process.notifications import service as notifications

router = APIRouter(prefix="/v1", tags=["notifications"])

TemplateId = Annotated[str, Path(description="Template id (ntp_...).")]


class _WebhookPolicy:
    """Provider URLs follow the tenant's webhook target policy (the dispatcher's transport
    checks them again before every request)."""

    async def allows_private(self, session: AsyncSession, tenant_id: str) -> bool:
        return await webhooks.allows_private(session, tenant_id)

    async def check_provider_url(
        self, session: AsyncSession, tenant_id: str, url: str, *, field: str
    ) -> None:
        allow_private = await webhooks.allows_private(session, tenant_id)
        await targets.check_target(url, allow_private=allow_private, field=field)


_TARGETS = _WebhookPolicy()


@router.get("/notification-settings", responses=READ_ERRORS, summary="Notification settings")
async def get_settings(
    session: SessionDep, principal: PrincipalDep
) -> schemas.NotificationSettings:
    """The e-mail sender, SMS and push providers (secrets are never shown), consent
    defaults and SMS quiet hours. Needs `notifications:read`."""
    return await notifications.get_settings(session, principal)


@router.put("/notification-settings", responses=WRITE_ERRORS, summary="Set notification settings")
async def put_settings(
    data: schemas.NotificationSettingsUpdate,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.NotificationSettings:
    """Replace the settings. Without `email_from` no e-mail is sent (each is recorded on
    the order's timeline as suppressed). Provider secrets are write-only and sealed with
    CHANNELHUB_ENCRYPTION_KEY (409 `encryption_not_configured` without one); a provider
    given without `secret` keeps the stored one. A provider URL on a private, loopback or
    link-local network is refused (422 `webhook_target_refused`) unless the tenant's
    webhook settings allow private targets. Needs `notifications:write`."""
    return await notifications.put_settings(
        session, principal, data, get_hub(request).secret_box, targets=_TARGETS
    )


@router.get("/notification-templates", responses=READ_ERRORS, summary="List templates")
async def list_templates(
    session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Template]:
    """The tenant's and brands' own templates, newest first (notices without one use the
    built-in default). Needs `notifications:read`."""
    return ListResponse.of(await notifications.list_templates(session, principal, page))


@router.post(
    "/notification-templates",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Create a template",
)
async def create_template(
    data: schemas.TemplateCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> schemas.Template:
    """Word one notice kind on one channel in one language, for the tenant or one brand
    (the brand's wins). Jinja2, sandboxed: `status` is the order-status API's answer,
    plus `words`, `links`, `customer`, `shop`, `notice` (see docs/notifications.md). A
    template that does not parse or does not render is 422 `template_invalid` naming the
    part (`/subject`, `/text`, `/html`) and its `line`. One per key: 409
    `template_exists`. Needs `notifications:write`."""
    template = await notifications.create_template(session, principal, data)
    response.headers["Location"] = f"/v1/notification-templates/{template.id}"
    return template


@router.post(
    "/notification-templates/preview", responses=WRITE_ERRORS, summary="Preview a template"
)
async def preview_template(
    data: schemas.Preview, session: SessionDep, principal: PrincipalDep
) -> schemas.Rendered:
    """Render a template without saving it, checked as on save: with an order's status
    now (`order_id`, needs `orders:read` too) or a sample order. Needs
    `notifications:read`."""
    return await notifications.preview(session, principal, data)


@router.get(
    "/notification-templates/{template_id}", responses=READ_ERRORS, summary="Get a template"
)
async def get_template(
    template_id: TemplateId, session: SessionDep, principal: PrincipalDep
) -> schemas.Template:
    """One template. Needs `notifications:read`."""
    return await notifications.get_template(session, principal, template_id)


@router.put(
    "/notification-templates/{template_id}", responses=WRITE_ERRORS, summary="Change a template"
)
async def update_template(
    template_id: TemplateId,
    data: schemas.TemplateBody,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Template:
    """Replace the subject, text and HTML, checked as on creation. Needs
    `notifications:write`."""
    return await notifications.update_template(session, principal, template_id, data)


@router.delete(
    "/notification-templates/{template_id}",
    status_code=204,
    responses=WRITE_ERRORS,
    summary="Delete a template",
)
async def delete_template(
    template_id: TemplateId, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Back to the tenant-wide template (for a brand's) or the built-in default. Needs
    `notifications:write`."""
    await notifications.delete_template(session, principal, template_id)
    return Response(status_code=204)


@router.get("/notification-consents", responses=READ_ERRORS, summary="List consents")
async def list_consents(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    contact: Annotated[
        str | None, Query(max_length=254, description="Only this e-mail address or phone.")
    ] = None,
) -> ListResponse[schemas.Consent]:
    """Customers' explicit answers per channel, newest first. Needs `notifications:read`."""
    return ListResponse.of(
        await notifications.list_consents(session, principal, page, contact=contact)
    )


@router.put("/notification-consents", responses=WRITE_ERRORS, summary="Record a consent")
async def put_consent(
    data: schemas.ConsentUpdate, session: SessionDep, principal: PrincipalDep
) -> schemas.Consent:
    """A customer's yes or no to e-mail, SMS or push (the latest answer wins). Without an
    answer, order e-mails go and SMS and push wait for an opt-in (unless the settings say
    otherwise). Needs `notifications:write`."""
    return await notifications.put_consent(session, principal, data)


@router.get(
    "/orders/{order_id}/notifications", responses=READ_ERRORS, summary="Order notifications"
)
async def order_notifications(
    order_id: Annotated[str, Path(description="Order id (ord_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> list[schemas.Delivery]:
    """Every message about the order per channel, oldest first: sent, suppressed (and
    why), deferred or failed. The order's timeline tells the same decisions in its
    story. Needs `notifications:read`."""
    return await notifications.order_deliveries(session, principal, order_id)
