"""Configuring the helpdesk: settings, mailboxes, queues, agents, routing rules, templates."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import flush_or_conflict
from channelhub.platform.errors import InvalidError, NotFoundError
from channelhub.platform.ids import new_id
from channelhub.process.channels.models import SalesChannel
from channelhub.process.connections.models import Connection
from channelhub.process.helpdesk import drafts, schemas
from channelhub.process.helpdesk.models import (
    Agent,
    HelpdeskSettings,
    Mailbox,
    Queue,
    RoutingRule,
    Template,
)
from channelhub.process.helpdesk.tickets import settings_of
from channelhub.process.notifications.templates import TemplateInvalid

READ = "helpdesk:read"
WRITE = "helpdesk:write"
Row = TypeVar("Row", Queue, Agent, RoutingRule, Mailbox)


class HelpdeskItemNotFound(NotFoundError):
    code = "helpdesk_item_not_found"


async def _owned(session: AsyncSession, model: type[Row], tenant_id: str, item_id: str) -> Row:
    row = await session.get(model, item_id)
    if row is None or row.tenant_id != tenant_id:
        raise HelpdeskItemNotFound(f"no {model.__tablename__[9:].rstrip('s')} {item_id!r}")
    return row


async def _check_refs(session: AsyncSession, tenant_id: str, **refs: str | None) -> None:
    """Refuse references to another tenant's (or no) queue or agent, naming the field."""
    models: dict[str, Any] = {"queue_id": Queue, "default_queue_id": Queue}
    for field, value in refs.items():
        if value is None:
            continue
        model = models.get(field, Agent)
        row = await session.get(model, value)
        if row is None or row.tenant_id != tenant_id:
            raise InvalidError(
                f"no {'queue' if model is Queue else 'agent'} {value!r}", field=field
            )


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


# --- settings --------------------------------------------------------------------------


def _settings(row: HelpdeskSettings) -> schemas.Settings:
    return schemas.Settings(
        auto_merge=row.auto_merge,
        merge_window_hours=row.merge_window_hours,
        default_queue_id=row.default_queue_id,
        order_number_pattern=row.order_number_pattern,
        policy_texts=row.policy_texts,
        signature=row.signature,
        updated_at=getattr(row, "updated_at", None),
    )


async def get_settings(session: AsyncSession, principal: Principal) -> schemas.Settings:
    principal.require(READ)
    return _settings(await settings_of(session, principal.tenant_id))


async def put_settings(
    session: AsyncSession, principal: Principal, data: schemas.SettingsIn, *, clock: Clock = utc_now
) -> schemas.Settings:
    principal.require(WRITE)
    await _check_refs(session, principal.tenant_id, default_queue_id=data.default_queue_id)
    row = await session.get(HelpdeskSettings, principal.tenant_id)
    if row is None:
        row = HelpdeskSettings(tenant_id=principal.tenant_id)
        session.add(row)
    for name, value in _dump(data).items():
        setattr(row, name, value)
    row.updated_at = clock()
    await session.flush()
    return _settings(row)


# --- queues, agents, rules ---------------------------------------------------------------


def _queue(row: Queue) -> schemas.Queue:
    return schemas.Queue.model_validate(row, from_attributes=True)


async def create_queue(
    session: AsyncSession, principal: Principal, data: schemas.QueueIn, *, clock: Clock = utc_now
) -> schemas.Queue:
    principal.require(WRITE)
    now = clock()
    row = Queue(id=new_id("que"), tenant_id=principal.tenant_id, created_at=now, updated_at=now)
    return await _save_queue(session, principal, row, data)


async def update_queue(
    session: AsyncSession,
    principal: Principal,
    queue_id: str,
    data: schemas.QueueIn,
    *,
    clock: Clock = utc_now,
) -> schemas.Queue:
    """Replace a queue's settings (open tickets keep their due times)."""
    principal.require(WRITE)
    row = await _owned(session, Queue, principal.tenant_id, queue_id)
    row.updated_at = clock()
    return await _save_queue(session, principal, row, data)


async def _save_queue(
    session: AsyncSession, principal: Principal, row: Queue, data: schemas.QueueIn
) -> schemas.Queue:
    await _check_refs(session, principal.tenant_id, escalate_to_id=data.escalate_to_id)
    for name, value in _dump(data).items():
        setattr(row, name, value)
    session.add(row)
    await flush_or_conflict(session, f"a queue named {data.name!r} exists", field="name")
    return _queue(row)


async def _all(
    session: AsyncSession, principal: Principal, model: type[Row], *order: Any
) -> list[Row]:
    """The tenant's rows of ``model`` in ``order`` (configuration lists are short)."""
    principal.require(READ)
    statement = select(model).where(model.tenant_id == principal.tenant_id).order_by(*order)
    return list(await session.scalars(statement))


async def list_queues(session: AsyncSession, principal: Principal) -> list[schemas.Queue]:
    return [_queue(row) for row in await _all(session, principal, Queue, Queue.name)]


def _agent(row: Agent) -> schemas.Agent:
    return schemas.Agent.model_validate(row, from_attributes=True)


async def create_agent(
    session: AsyncSession, principal: Principal, data: schemas.AgentIn, *, clock: Clock = utc_now
) -> schemas.Agent:
    principal.require(WRITE)
    now = clock()
    row = Agent(
        id=new_id("agt"),
        tenant_id=principal.tenant_id,
        name=data.name,
        email=data.email.strip().lower(),
        online=data.online,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await flush_or_conflict(session, f"an agent with e-mail {data.email!r} exists", field="email")
    return _agent(row)


async def update_agent(
    session: AsyncSession,
    principal: Principal,
    agent_id: str,
    data: schemas.AgentIn,
    *,
    clock: Clock = utc_now,
) -> schemas.Agent:
    principal.require(WRITE)
    row = await _owned(session, Agent, principal.tenant_id, agent_id)
    row.name, row.email, row.online = data.name, data.email.strip().lower(), data.online
    row.updated_at = clock()
    await flush_or_conflict(session, f"an agent with e-mail {data.email!r} exists", field="email")
    return _agent(row)


async def list_agents(session: AsyncSession, principal: Principal) -> list[schemas.Agent]:
    return [_agent(row) for row in await _all(session, principal, Agent, Agent.name)]


def _rule(row: RoutingRule) -> schemas.Rule:
    return schemas.Rule.model_validate(row, from_attributes=True)


async def _fill_rule(
    session: AsyncSession, principal: Principal, row: RoutingRule, data: schemas.RuleIn
) -> None:
    await _check_refs(
        session, principal.tenant_id, queue_id=data.queue_id, assignee_id=data.assignee_id
    )
    for name, value in _dump(data).items():
        setattr(row, name, value)


async def create_rule(
    session: AsyncSession, principal: Principal, data: schemas.RuleIn, *, clock: Clock = utc_now
) -> schemas.Rule:
    principal.require(WRITE)
    now = clock()
    row = RoutingRule(
        id=new_id("rul"), tenant_id=principal.tenant_id, created_at=now, updated_at=now
    )
    await _fill_rule(session, principal, row, data)
    session.add(row)
    await session.flush()
    return _rule(row)


async def update_rule(
    session: AsyncSession,
    principal: Principal,
    rule_id: str,
    data: schemas.RuleIn,
    *,
    clock: Clock = utc_now,
) -> schemas.Rule:
    principal.require(WRITE)
    row = await _owned(session, RoutingRule, principal.tenant_id, rule_id)
    await _fill_rule(session, principal, row, data)
    row.updated_at = clock()
    await session.flush()
    return _rule(row)


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: str) -> None:
    principal.require(WRITE)
    await session.delete(await _owned(session, RoutingRule, principal.tenant_id, rule_id))


async def list_rules(session: AsyncSession, principal: Principal) -> list[schemas.Rule]:
    rows = await _all(session, principal, RoutingRule, RoutingRule.position, RoutingRule.id)
    return [_rule(row) for row in rows]


# --- templates -------------------------------------------------------------------------


def _language(language: str) -> str:
    if language not in drafts.LANGUAGES:
        raise InvalidError(
            f"language must be one of {', '.join(drafts.LANGUAGES)}", field="language"
        )
    return language


async def list_templates(
    session: AsyncSession, principal: Principal
) -> list[schemas.ReplyTemplate]:
    principal.require(READ)
    own = {
        (row.key, row.language): row
        for row in await session.scalars(
            select(Template).where(Template.tenant_id == principal.tenant_id)
        )
    }
    keys = sorted(set(drafts.BUILT_IN) | set(own))
    found = []
    for key, language in keys:
        row = own.get((key, language))
        found.append(
            schemas.ReplyTemplate(
                key=key,
                language=language,
                name=row.name if row else key.replace("_", " "),
                body=row.body if row else drafts.BUILT_IN[(key, language)],
                built_in=row is None,
            )
        )
    return found


async def put_template(
    session: AsyncSession,
    principal: Principal,
    key: str,
    language: str,
    data: schemas.ReplyTemplateIn,
    *,
    clock: Clock = utc_now,
) -> schemas.ReplyTemplate:
    """Save the tenant's template for ``key`` in ``language`` (checked by rendering it)."""
    principal.require(WRITE)
    _language(language)
    if not key.replace("_", "").isalnum() or len(key) > 64:
        raise InvalidError("a key is letters, digits and underscores", field="key")
    try:
        for sample in drafts.SAMPLES:
            drafts.render(data.body, sample)
    except TemplateInvalid as exc:
        raise TemplateInvalid(exc.detail, field="body") from exc
    row = (
        await session.scalars(
            select(Template).where(
                Template.tenant_id == principal.tenant_id,
                Template.key == key,
                Template.language == language,
            )
        )
    ).first()
    if row is None:
        row = Template(id=new_id("tpl"), tenant_id=principal.tenant_id, key=key, language=language)
        session.add(row)
    row.name, row.body, row.updated_at = data.name, data.body, clock()
    await session.flush()
    return schemas.ReplyTemplate(
        key=key, language=language, name=row.name, body=row.body, built_in=False
    )


async def delete_template(
    session: AsyncSession, principal: Principal, key: str, language: str
) -> None:
    """Drop the tenant's own template (the hub's applies again, if there is one)."""
    principal.require(WRITE)
    await session.execute(
        delete(Template).where(
            Template.tenant_id == principal.tenant_id,
            Template.key == key,
            Template.language == language,
        )
    )


# --- mailboxes -------------------------------------------------------------------------


def _mailbox(row: Mailbox) -> schemas.Mailbox:
    return schemas.Mailbox.model_validate(row, from_attributes=True)


async def create_mailbox(
    session: AsyncSession, principal: Principal, data: schemas.MailboxIn, *, clock: Clock = utc_now
) -> schemas.Mailbox:
    principal.require(WRITE)
    connection = await session.get(Connection, data.connection_id)
    if (
        connection is None
        or connection.tenant_id != principal.tenant_id
        or connection.system != "email"
    ):
        raise InvalidError("not one of your e-mail connections", field="connection_id")
    if data.sales_channel_id is not None:
        channel = await session.get(SalesChannel, data.sales_channel_id)
        if channel is None or channel.tenant_id != principal.tenant_id:
            raise InvalidError(
                f"no sales channel {data.sales_channel_id!r}", field="sales_channel_id"
            )
    row = Mailbox(
        id=new_id("mbx"),
        tenant_id=principal.tenant_id,
        address=data.address,
        display_name=data.display_name,
        connection_id=data.connection_id,
        sales_channel_id=data.sales_channel_id,
        created_at=clock(),
    )
    session.add(row)
    await flush_or_conflict(session, f"{data.address} is already a mailbox", field="address")
    return _mailbox(row)


async def list_mailboxes(session: AsyncSession, principal: Principal) -> list[schemas.Mailbox]:
    return [_mailbox(row) for row in await _all(session, principal, Mailbox, Mailbox.address)]


async def delete_mailbox(session: AsyncSession, principal: Principal, mailbox_id: str) -> None:
    principal.require(WRITE)
    await session.delete(await _owned(session, Mailbox, principal.tenant_id, mailbox_id))


async def mailbox_at(session: AsyncSession, address: str) -> Mailbox | None:
    """The mailbox receiving at ``address`` (any tenant: the address decides the tenant)."""
    return (
        await session.scalars(select(Mailbox).where(Mailbox.address == address.strip().lower()))
    ).first()
