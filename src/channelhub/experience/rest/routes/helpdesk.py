"""The helpdesk: tickets and their messages, merges, replies; queues, agents, routing rules,
templates, mailboxes and settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Protocol, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, get_hub, idempotent
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.experience.rest.tokens import can_sign, sign_rating
from channelhub.platform.clock import utc_now
from channelhub.platform.errors import InvalidError
from channelhub.platform.runtime import Runtime
from channelhub.process.helpdesk import admin, metrics_schemas, schemas
from channelhub.process.helpdesk import metrics as helpdesk_metrics
from channelhub.process.helpdesk import service as helpdesk
from channelhub.process.helpdesk.inbound import Receiving
from channelhub.process.helpdesk.intents import Intent
from channelhub.process.helpdesk.tickets import Answering

router = APIRouter(tags=["helpdesk"])

TicketId = Annotated[str, Path(description="Ticket id (tkt_...).")]


class HelpdeskRuntime(Runtime, Protocol):
    helpdesk: Receiving


def receiving(request: Request) -> Receiving:
    return cast(HelpdeskRuntime, get_hub(request)).helpdesk


ReceivingDep = Annotated[Receiving, Depends(receiving)]


async def rating_url(
    request: Request, session: AsyncSession, tenant_id: str, ticket_id: str
) -> str:
    settings = get_hub(request).settings
    token = await sign_rating(session, settings, tenant_id, ticket_id)
    return f"{settings.public_url.rstrip('/')}/helpdesk/rate/{token}"


# --- tickets -----------------------------------------------------------------------------


@router.post(
    "/v1/helpdesk/messages",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Receive a chat or marketplace message",
)
async def receive_message(
    data: schemas.MessageIn,
    session: SessionDep,
    principal: PrincipalDep,
    how: ReceivingDep,
    response: Response,
) -> schemas.Accepted:
    """A customer message from a chat or marketplace integration. It joins the ticket of
    its thread, or opens one (linked to the customer and order, classified, routed, SLA
    running, reply drafted) that is merged with an open ticket of the same buyer about the
    same order. A repeat (same channel and `external_id`) answers 200 and changes nothing.
    Needs `helpdesk:write`."""
    accepted = await helpdesk.receive_message(session, principal, data, how)
    if accepted.duplicate:
        response.status_code = 200
    return accepted


@router.get("/v1/tickets", responses=READ_ERRORS, summary="List tickets")
async def list_tickets(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    status: Annotated[schemas.TicketStatus | None, Query(description="Only this status.")] = None,
    queue_id: Annotated[str | None, Query(description="Only this queue.")] = None,
    assignee_id: Annotated[str | None, Query(description="Only this agent's.")] = None,
    intent: Annotated[Intent | None, Query(description="Only this intent.")] = None,
    order_id: Annotated[str | None, Query(description="Only about this order.")] = None,
) -> ListResponse[schemas.Ticket]:
    """Tickets newest first. Needs `helpdesk:read`."""
    return ListResponse.of(
        await helpdesk.list_tickets(
            session,
            principal,
            page,
            status=status,
            queue_id=queue_id,
            assignee_id=assignee_id,
            intent=intent.value if intent else None,
            order_id=order_id,
        )
    )


@router.get("/v1/tickets/{ticket_id}", responses=READ_ERRORS, summary="Get a ticket")
async def get_ticket(
    ticket_id: TicketId, request: Request, session: SessionDep, principal: PrincipalDep
) -> schemas.TicketView:
    """The ticket with its messages, its timeline, its merges, and the linked order's live
    status, items and timeline. Needs `helpdesk:read`."""
    url = (
        await rating_url(request, session, principal.tenant_id, ticket_id)
        if await can_sign(session, get_hub(request).settings)
        else None
    )
    return await helpdesk.view(session, principal, ticket_id, rating_url=url)


@router.patch("/v1/tickets/{ticket_id}", responses=WRITE_ERRORS, summary="Change a ticket")
async def update_ticket(
    ticket_id: TicketId, data: schemas.TicketUpdate, session: SessionDep, principal: PrincipalDep
) -> schemas.Ticket:
    """Status, assignee, queue (its SLA starts over), priority, tags, linked order. Needs
    `helpdesk:write`."""
    return await helpdesk.update_ticket(session, principal, ticket_id, data)


@router.post(
    "/v1/tickets/{ticket_id}/replies",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Reply to the customer",
)
async def reply(
    ticket_id: TicketId,
    data: schemas.Reply,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Message:
    """Answer on the channel the customer last wrote on: an e-mail threaded on their
    message (sent from the mailbox it arrived at), or a chat/marketplace reply published
    as `ticket.replied` for the integration to deliver. With `resolve`, the ticket is
    resolved and the reply carries the one-click rating link. Needs `helpdesk:write`."""

    async def link(session: AsyncSession, ticket: object) -> str:
        return await rating_url(request, session, principal.tenant_id, ticket_id)

    return await helpdesk.reply(session, principal, ticket_id, data, Answering(rating_url=link))


@router.post(
    "/v1/tickets/{ticket_id}/notes",
    status_code=201,
    responses=WRITE_ERRORS,
    summary="Add an internal note",
)
async def note(
    ticket_id: TicketId, data: schemas.Note, session: SessionDep, principal: PrincipalDep
) -> schemas.Message:
    """A note for agents; the customer never sees it. Needs `helpdesk:write`."""
    return await helpdesk.note(session, principal, ticket_id, data)


@router.post(
    "/v1/tickets/{ticket_id}/merge",
    status_code=201,
    responses=WRITE_ERRORS,
    summary="Merge another ticket into this one",
)
async def merge(
    ticket_id: TicketId, data: schemas.MergeRequest, session: SessionDep, principal: PrincipalDep
) -> schemas.Merge:
    """Move the other ticket's messages here and mark it merged. Recorded; undo it with
    `POST /v1/ticket-merges/{id}/undo`. Needs `helpdesk:write`."""
    return await helpdesk.merge_tickets(session, principal, ticket_id, data)


@router.post("/v1/ticket-merges/{merge_id}/undo", responses=WRITE_ERRORS, summary="Undo a merge")
async def undo_merge(
    merge_id: Annotated[str, Path(description="Merge id (mrg_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Merge:
    """Give the merged ticket its messages and status back (automatic merges too). Needs
    `helpdesk:write`."""
    return await helpdesk.unmerge_tickets(session, principal, merge_id)


@router.post(
    "/v1/tickets/{ticket_id}/templates/{key}/render",
    responses=READ_ERRORS,
    summary="Fill in a reply template",
)
async def render_template(
    ticket_id: TicketId,
    key: Annotated[str, Path(description="Template key (wismo, return_approved...).")],
    data: schemas.RenderRequest,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.RenderedReply:
    """The template in the ticket's language, filled from the linked order's live status
    plus `values`. Needs `helpdesk:read`."""
    return await helpdesk.render_template(session, principal, ticket_id, key, data)


@router.get(
    "/v1/tickets/{ticket_id}/attachments/{attachment_id}",
    responses=READ_ERRORS,
    summary="Download an attachment",
    response_class=Response,
)
async def download(
    ticket_id: TicketId,
    attachment_id: Annotated[str, Path(description="Attachment id (att_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    """The attachment as received, always as a download (never rendered by the browser).
    Needs `helpdesk:read`; 422 for one that was not kept (over the size cap, or erased
    with the customer's personal data)."""
    found = await helpdesk.attachment(session, principal, ticket_id, attachment_id)
    if found.content is None:
        raise InvalidError(
            "the attachment was not kept: it was over the size cap, or erased with its "
            "sender's personal data"
        )
    return Response(
        found.content,
        media_type="application/octet-stream",
        headers={
            "content-disposition": f"attachment; filename*=UTF-8''{_quoted(found.filename)}",
            "x-content-type-options": "nosniff",
        },
    )


def _quoted(name: str) -> str:
    return quote(name or "attachment", safe="")


# --- configuration -----------------------------------------------------------------------


@router.get("/v1/helpdesk/settings", responses=READ_ERRORS, summary="Helpdesk settings")
async def get_settings(session: SessionDep, principal: PrincipalDep) -> schemas.Settings:
    """Merging, the default queue, order-number pattern, policy texts, signature. Needs
    `helpdesk:read`."""
    return await admin.get_settings(session, principal)


@router.put("/v1/helpdesk/settings", responses=WRITE_ERRORS, summary="Set helpdesk settings")
async def put_settings(
    data: schemas.SettingsIn, session: SessionDep, principal: PrincipalDep
) -> schemas.Settings:
    """Replace the helpdesk settings. Needs `helpdesk:write`."""
    return await admin.put_settings(session, principal, data)


@router.get("/v1/helpdesk/queues", responses=READ_ERRORS, summary="List queues")
async def list_queues(session: SessionDep, principal: PrincipalDep) -> list[schemas.Queue]:
    """Queues by name, with SLA policies and business hours. Needs `helpdesk:read`."""
    return await admin.list_queues(session, principal)


@router.post("/v1/helpdesk/queues", status_code=201, responses=WRITE_ERRORS, summary="Add a queue")
async def create_queue(
    data: schemas.QueueIn, session: SessionDep, principal: PrincipalDep
) -> schemas.Queue:
    """A queue with its SLA policy (first response, next response, resolution, counted in
    its business hours), WISMO auto-answer switch and escalation. Needs `helpdesk:write`."""
    return await admin.create_queue(session, principal, data)


@router.put("/v1/helpdesk/queues/{queue_id}", responses=WRITE_ERRORS, summary="Change a queue")
async def update_queue(
    queue_id: Annotated[str, Path(description="Queue id (que_...).")],
    data: schemas.QueueIn,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Queue:
    """Replace the queue's settings; open tickets keep their due times. Needs
    `helpdesk:write`."""
    return await admin.update_queue(session, principal, queue_id, data)


@router.get("/v1/helpdesk/agents", responses=READ_ERRORS, summary="List agents")
async def list_agents(session: SessionDep, principal: PrincipalDep) -> list[schemas.Agent]:
    """Agents by name. Needs `helpdesk:read`."""
    return await admin.list_agents(session, principal)


@router.post("/v1/helpdesk/agents", status_code=201, responses=WRITE_ERRORS, summary="Add an agent")
async def create_agent(
    data: schemas.AgentIn, session: SessionDep, principal: PrincipalDep
) -> schemas.Agent:
    """An agent; online agents take round-robin assignments. Needs `helpdesk:write`."""
    return await admin.create_agent(session, principal, data)


@router.put("/v1/helpdesk/agents/{agent_id}", responses=WRITE_ERRORS, summary="Change an agent")
async def update_agent(
    agent_id: Annotated[str, Path(description="Agent id (agt_...).")],
    data: schemas.AgentIn,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Agent:
    """Name, e-mail, online. Needs `helpdesk:write`."""
    return await admin.update_agent(session, principal, agent_id, data)


RuleId = Annotated[str, Path(description="Rule id (rul_...).")]


@router.get("/v1/helpdesk/rules", responses=READ_ERRORS, summary="List routing rules")
async def list_rules(session: SessionDep, principal: PrincipalDep) -> list[schemas.Rule]:
    """Rules in the order they are tried. Needs `helpdesk:read`."""
    return await admin.list_rules(session, principal)


@router.post(
    "/v1/helpdesk/rules", status_code=201, responses=WRITE_ERRORS, summary="Add a routing rule"
)
async def create_rule(
    data: schemas.RuleIn, session: SessionDep, principal: PrincipalDep
) -> schemas.Rule:
    """Conditions (brand/store, channel, language, intent, order value, customer tier) and
    what a matching new ticket gets (queue, tags, priority, assignee or round-robin). The
    first enabled rule by position that matches decides. Needs `helpdesk:write`."""
    return await admin.create_rule(session, principal, data)


@router.put("/v1/helpdesk/rules/{rule_id}", responses=WRITE_ERRORS, summary="Change a rule")
async def update_rule(
    rule_id: RuleId, data: schemas.RuleIn, session: SessionDep, principal: PrincipalDep
) -> schemas.Rule:
    """Replace the rule. Needs `helpdesk:write`."""
    return await admin.update_rule(session, principal, rule_id, data)


@router.delete(
    "/v1/helpdesk/rules/{rule_id}", status_code=204, responses=WRITE_ERRORS, summary="Remove a rule"
)
async def delete_rule(rule_id: RuleId, session: SessionDep, principal: PrincipalDep) -> None:
    """Needs `helpdesk:write`."""
    await admin.delete_rule(session, principal, rule_id)


TemplateKey = Annotated[str, Path(description="Template key (wismo, return_approved...).")]
TemplateLanguage = Annotated[str, Path(description="en, pt, es, it, cs, fr or de.")]


@router.get("/v1/helpdesk/templates", responses=READ_ERRORS, summary="List reply templates")
async def list_templates(
    session: SessionDep, principal: PrincipalDep
) -> list[schemas.ReplyTemplate]:
    """The hub's templates and the tenant's own, per key and language. Needs
    `helpdesk:read`."""
    return await admin.list_templates(session, principal)


@router.put(
    "/v1/helpdesk/templates/{key}/{language}",
    responses=WRITE_ERRORS,
    summary="Save a reply template",
)
async def put_template(
    key: TemplateKey,
    language: TemplateLanguage,
    data: schemas.ReplyTemplateIn,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.ReplyTemplate:
    """The tenant's template for this key and language (replaces the hub's). Checked by
    rendering it: an error names `body` and the line. Needs `helpdesk:write`."""
    return await admin.put_template(session, principal, key, language, data)


@router.delete(
    "/v1/helpdesk/templates/{key}/{language}",
    status_code=204,
    responses=WRITE_ERRORS,
    summary="Remove a reply template",
)
async def delete_template(
    key: TemplateKey, language: TemplateLanguage, session: SessionDep, principal: PrincipalDep
) -> None:
    """The hub's template applies again. Needs `helpdesk:write`."""
    await admin.delete_template(session, principal, key, language)


@router.get("/v1/helpdesk/mailboxes", responses=READ_ERRORS, summary="List mailboxes")
async def list_mailboxes(session: SessionDep, principal: PrincipalDep) -> list[schemas.Mailbox]:
    """Addresses the helpdesk receives at. Needs `helpdesk:read`."""
    return await admin.list_mailboxes(session, principal)


@router.post(
    "/v1/helpdesk/mailboxes", status_code=201, responses=WRITE_ERRORS, summary="Add a mailbox"
)
async def create_mailbox(
    data: schemas.MailboxIn, session: SessionDep, principal: PrincipalDep
) -> schemas.Mailbox:
    """An address of one of the tenant's e-mail connections: mail to it (by the built-in
    SMTP server, IMAP polling or the connection's hook) becomes tickets, and replies are
    sent from it. Needs `helpdesk:write`."""
    return await admin.create_mailbox(session, principal, data)


@router.delete(
    "/v1/helpdesk/mailboxes/{mailbox_id}",
    status_code=204,
    responses=WRITE_ERRORS,
    summary="Remove a mailbox",
)
async def delete_mailbox(
    mailbox_id: Annotated[str, Path(description="Mailbox id (mbx_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> None:
    """Mail to the address is refused from now on. Needs `helpdesk:write`."""
    await admin.delete_mailbox(session, principal, mailbox_id)


# --- metrics -----------------------------------------------------------------------------


async def metrics_window(
    since: Annotated[
        AwareDatetime | None,
        Query(
            description="Start of the window, included: ISO 8601 with a time zone offset "
            "(2026-11-01T00:00:00Z). Default: 30 days before `until`."
        ),
    ] = None,
    until: Annotated[
        AwareDatetime | None,
        Query(
            description="End of the window, excluded: ISO 8601 with a time zone offset. "
            "Default: now. Must be later than `since`, and at most 366 days after it."
        ),
    ] = None,
) -> tuple[datetime, datetime]:
    """The report's window; a wrong one is a 422 naming the query parameter at fault."""
    try:
        return helpdesk_metrics.window(since, until, utc_now())
    except InvalidError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", exc.field), "msg": exc.detail}]
        ) from exc


MetricsWindow = Annotated[tuple[datetime, datetime], Depends(metrics_window)]


@router.get("/v1/helpdesk/metrics", responses=READ_ERRORS, summary="Helpdesk metrics")
async def get_metrics(
    window: MetricsWindow, session: SessionDep, principal: PrincipalDep
) -> metrics_schemas.Report:
    """The helpdesk's figures for a window (default: the last 30 days), about the tickets
    created in it (merged tickets left out): first response time per store or brand
    (median and 90th percentile minutes, tickets still unanswered), resolution time per
    intent, the share of "where is my order?" tickets beside the on-time rate of the
    shipments delivered in the window, tickets answered automatically, the refund rate of
    the orders placed in the window and the reasons of the refunds issued in it, customer
    ratings per store and per intent, and SLA breaches per clock. Needs `helpdesk:read`."""
    since, until = window
    return await helpdesk_metrics.metrics(session, principal, since, until)


@router.get(
    "/v1/helpdesk/metrics.csv",
    responses={
        200: {
            "description": "One row per figure: `metric,dimension,value,count`.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **READ_ERRORS,
    },
    summary="Helpdesk metrics as CSV",
    response_class=Response,
)
async def get_metrics_csv(
    window: MetricsWindow, session: SessionDep, principal: PrincipalDep
) -> Response:
    """The same figures as `GET /v1/helpdesk/metrics`, as a CSV download in tidy long
    form for a spreadsheet or BI tool to pivot: columns `metric` (e.g.
    `first_response_minutes_median`), `dimension` (`all`, `sales_channel:<id>`,
    `intent:<intent>`, `reason:<refund reason>`, `clock:<SLA clock>`), `value` (empty when
    there was nothing to measure; shares as fractions, amounts in major units) and `count`
    (the tickets, orders, shipments or refunds the figure stands on). UTF-8, CRLF line
    ends. Needs `helpdesk:read`."""
    since, until = window
    report = await helpdesk_metrics.metrics(session, principal, since, until)
    name = f"helpdesk-metrics-{since:%Y%m%dT%H%M%SZ}-{until:%Y%m%dT%H%M%SZ}.csv"
    return Response(
        helpdesk_metrics.to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
