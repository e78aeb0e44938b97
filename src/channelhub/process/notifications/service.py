"""The notifications APIs: settings, template overrides, consents, what was sent."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.pagination import Page, PageRequest
from channelhub.platform.errors import ConflictError, InvalidError, NotFoundError
from channelhub.platform.ids import new_id
from channelhub.process.channels.models import Brand
from channelhub.process.notifications import consent, schemas, templates
from channelhub.process.notifications.models import (
    NotificationConsent,
    NotificationDelivery,
    NotificationSettings,
    NotificationTemplate,
)
from channelhub.process.notifications.repository import ConsentRepository, TemplateRepository
from channelhub.process.notifications.schemas import Channel, phone_key
from channelhub.process.notifications.transport import ProviderTargets
from channelhub.process.orders import repository as orders
from channelhub.process.orders import status as order_status
from channelhub.process.orders.service import READ as ORDERS_READ

READ = "notifications:read"
WRITE = "notifications:write"


class TemplateNotFound(NotFoundError):
    code = "template_not_found"


class TemplateExists(ConflictError):
    code = "template_exists"


# --- settings ---------------------------------------------------------------------------


def _settings_view(row: NotificationSettings | None) -> schemas.NotificationSettings:
    if row is None:
        return schemas.NotificationSettings(
            email_from=None,
            email_from_name="",
            reply_to=None,
            order_page_url=None,
            sms=None,
            push=None,
            sms_requires_opt_in=True,
            push_requires_opt_in=True,
            quiet_hours=None,
            updated_at=None,
        )
    quiet = (
        schemas.QuietHours(
            start=row.quiet_hours_start, end=row.quiet_hours_end, timezone=row.timezone
        )
        if row.quiet_hours_start is not None and row.quiet_hours_end is not None
        else None
    )
    return schemas.NotificationSettings(
        email_from=row.email_from or None,
        email_from_name=row.email_from_name,
        reply_to=row.reply_to or None,
        order_page_url=row.order_page_url or None,
        sms=schemas.Provider(url=row.sms_url, secret_set=row.sms_secret is not None)
        if row.sms_url
        else None,
        push=schemas.Provider(url=row.push_url, secret_set=row.push_secret is not None)
        if row.push_url
        else None,
        sms_requires_opt_in=row.sms_requires_opt_in,
        push_requires_opt_in=row.push_requires_opt_in,
        quiet_hours=quiet,
        updated_at=row.updated_at,
    )


async def get_settings(session: AsyncSession, principal: Principal) -> schemas.NotificationSettings:
    principal.require(READ)
    return _settings_view(await session.get(NotificationSettings, principal.tenant_id))


def _provider(
    box: SecretBox, given: schemas.ProviderUpdate | None, stored: bytes | None, field: str
) -> tuple[str, bytes | None]:
    """(url, sealed secret) of a provider: a new secret sealed, else the stored one kept."""
    if given is None:
        return "", None
    if given.secret is not None:
        return given.url, box.seal({"secret": given.secret})
    if stored is None:
        raise InvalidError(f"give the {field} provider's signing secret", field=f"{field}.secret")
    return given.url, stored


async def put_settings(
    session: AsyncSession,
    principal: Principal,
    data: schemas.NotificationSettingsUpdate,
    secret_box: SecretBox,
    *,
    targets: ProviderTargets,
    clock: Clock = utc_now,
) -> schemas.NotificationSettings:
    """Replace the settings; provider secrets are sealed, never stored in clear. A provider
    URL is checked like a webhook endpoint's (``targets``): one on a private, loopback or
    link-local network is refused unless the tenant's webhook policy allows private
    targets."""
    principal.require(WRITE)
    for field, provider in (("sms", data.sms), ("push", data.push)):
        if provider is not None:
            await targets.check_provider_url(
                session, principal.tenant_id, provider.url, field=f"{field}.url"
            )
    row = await session.get(NotificationSettings, principal.tenant_id, with_for_update=True)
    if row is None:
        row = NotificationSettings(tenant_id=principal.tenant_id)
        session.add(row)
    row.sms_url, row.sms_secret = _provider(secret_box, data.sms, row.sms_secret, "sms")
    row.push_url, row.push_secret = _provider(secret_box, data.push, row.push_secret, "push")
    row.email_from = data.email_from or ""
    row.email_from_name = data.email_from_name
    row.reply_to = data.reply_to or ""
    row.order_page_url = data.order_page_url or ""
    row.sms_requires_opt_in = data.sms_requires_opt_in
    row.push_requires_opt_in = data.push_requires_opt_in
    quiet = data.quiet_hours
    row.quiet_hours_start = quiet.start if quiet else None
    row.quiet_hours_end = quiet.end if quiet else None
    row.timezone = quiet.timezone if quiet else "UTC"
    row.updated_at = clock()
    await session.flush()
    return _settings_view(row)


# --- templates --------------------------------------------------------------------------


def _template_view(row: NotificationTemplate) -> schemas.Template:
    return schemas.Template(
        id=row.id,
        kind=row.kind,
        channel=Channel(row.channel),
        language=row.language,
        brand_id=row.brand_id or None,
        subject=row.subject,
        text=row.text,
        html=row.html,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _body(data: schemas.TemplateBody) -> templates.Body:
    return templates.Body(subject=data.subject, text=data.text, html=data.html)


async def _check_brand(session: AsyncSession, tenant_id: str, brand_id: str | None) -> None:
    if brand_id is None:
        return
    found = await session.scalar(
        select(Brand.id).where(Brand.tenant_id == tenant_id, Brand.id == brand_id)
    )
    if found is None:
        raise InvalidError(f"no brand {brand_id!r}", field="brand_id")


async def create_template(
    session: AsyncSession,
    principal: Principal,
    data: schemas.TemplateCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Template:
    """Save a tenant's (or a brand's) wording, checked first: a template error is refused
    here, with its line, rather than failing when a customer should get the message."""
    principal.require(WRITE)
    await _check_brand(session, principal.tenant_id, data.brand_id)
    templates.check(data.kind, data.channel, _body(data), data.language)
    now = clock()
    row = NotificationTemplate(
        id=new_id("ntp"),
        tenant_id=principal.tenant_id,
        brand_id=data.brand_id or "",
        kind=data.kind.value,
        channel=data.channel.value,
        language=data.language,
        subject=data.subject,
        text=data.text,
        html=data.html,
        version=1,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise TemplateExists(
            "a template for this kind, channel, language and brand exists; change it with PUT",
        ) from exc
    return _template_view(row)


async def _template(
    session: AsyncSession, principal: Principal, template_id: str, *, lock: bool = False
) -> NotificationTemplate:
    row = await TemplateRepository(session, principal.tenant_id).get(template_id, for_update=lock)
    if row is None:
        raise TemplateNotFound(f"no template {template_id!r}")
    return row


async def get_template(
    session: AsyncSession, principal: Principal, template_id: str
) -> schemas.Template:
    principal.require(READ)
    return _template_view(await _template(session, principal, template_id))


async def update_template(
    session: AsyncSession,
    principal: Principal,
    template_id: str,
    data: schemas.TemplateBody,
    *,
    clock: Clock = utc_now,
) -> schemas.Template:
    principal.require(WRITE)
    row = await _template(session, principal, template_id, lock=True)
    kind = schemas.TemplateKey.model_validate(
        {"kind": row.kind, "channel": row.channel, "language": row.language}
    )
    templates.check(kind.kind, kind.channel, _body(data), row.language)
    row.subject, row.text, row.html = data.subject, data.text, data.html
    row.version += 1
    row.updated_at = clock()
    await session.flush()
    return _template_view(row)


async def delete_template(session: AsyncSession, principal: Principal, template_id: str) -> None:
    """Back to the built-in default (or the tenant-wide template, for a brand's)."""
    principal.require(WRITE)
    row = await _template(session, principal, template_id)
    await session.execute(delete(NotificationTemplate).where(NotificationTemplate.id == row.id))


async def list_templates(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> Page[schemas.Template]:
    principal.require(READ)
    repository = TemplateRepository(session, principal.tenant_id)
    found = await repository.paginate(repository.scoped(), page)
    return Page([_template_view(r) for r in found.items], found.next_cursor)


async def preview(
    session: AsyncSession, principal: Principal, data: schemas.Preview, *, clock: Clock = utc_now
) -> schemas.Rendered:
    """Render a template, checked as on save, with an order's status now (in the
    template's language) or a sample."""
    principal.require(READ)
    body = _body(data)
    templates.check(data.kind, data.channel, body, data.language)
    if data.order_id is None:
        status = templates.samples(data.kind, data.language)[0]
        return templates.render(body, templates.sample_context(data.kind, status))
    principal.require(ORDERS_READ)
    order = await orders.load(session, principal.tenant_id, data.order_id)
    status = await order_status.build(session, order, clock(), language=data.language)
    context = templates.context(
        notice=data.kind,
        status=status,
        customer_name=order.customer_name,
        shop="",
        order_url=None,
        unsubscribe_url=None,
    )
    return templates.render(body, context)


# --- consents ---------------------------------------------------------------------------


def _consent_view(row: NotificationConsent) -> schemas.Consent:
    return schemas.Consent(
        id=row.id,
        channel=Channel(row.channel),
        contact=row.contact,
        subscribed=row.subscribed,
        source=row.source,
        updated_at=row.updated_at,
    )


async def put_consent(
    session: AsyncSession,
    principal: Principal,
    data: schemas.ConsentUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.Consent:
    """Record a customer's yes or no to a channel (what an agent heard, a checkout box)."""
    principal.require(WRITE)
    row = await consent.set_consent(
        session,
        principal.tenant_id,
        data.channel,
        data.contact,
        subscribed=data.subscribed,
        source=data.source,
        now=clock(),
    )
    return _consent_view(row)


async def list_consents(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    contact: str | None = None,
) -> Page[schemas.Consent]:
    principal.require(READ)
    repository = ConsentRepository(session, principal.tenant_id)
    statement = repository.scoped()
    if contact is not None:
        keys = {contact.strip().lower(), phone_key(contact)}
        statement = statement.where(NotificationConsent.contact.in_(keys))
    found = await repository.paginate(statement, page)
    return Page([_consent_view(r) for r in found.items], found.next_cursor)


async def unsubscribe(
    session: AsyncSession,
    token: str,
    secret_key: str | None,
    *,
    clock: Clock = utc_now,
) -> consent.Unsubscribe:
    """The one-click unsubscribe of an e-mail's link (no API key: the signed link is the
    proof). Idempotent."""
    target = await consent.read_token(session, secret_key, token)
    await consent.set_consent(
        session,
        target.tenant_id,
        target.channel,
        target.contact,
        subscribed=False,
        source="unsubscribe_link",
        now=clock(),
    )
    return target


# --- deliveries -------------------------------------------------------------------------


def _delivery_view(row: NotificationDelivery) -> schemas.Delivery:
    return schemas.Delivery(
        id=row.id,
        notice_id=row.notice_id,
        kind=row.kind,
        channel=Channel(row.channel),
        status=row.status,
        reason=row.reason,
        recipient=row.recipient,
        language=row.language,
        subject=row.subject,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        provider_message_id=row.provider_message_id,
        sent_at=row.sent_at,
        created_at=row.created_at,
    )


async def order_deliveries(
    session: AsyncSession, principal: Principal, order_id: str
) -> list[schemas.Delivery]:
    """Every message about the order, oldest first."""
    principal.require(READ)
    order = await orders.load(session, principal.tenant_id, order_id)
    rows = await session.scalars(
        select(NotificationDelivery)
        .where(NotificationDelivery.order_id == order.id)
        .order_by(NotificationDelivery.created_at, NotificationDelivery.id)
    )
    return [_delivery_view(r) for r in rows]
