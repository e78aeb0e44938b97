"""The dispatcher: delivers the orders context's pending notices, each channel once.

Notices are the transactional outbox of customer messages: the orders services write one
in the same transaction as the state change it tells of. The dispatcher claims due pending
notices with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several processes share
the work), taking them round-robin across tenants so that one tenant's backlog never holds
another's, and delivers a few notices at a time concurrently. For each notice, one channel
after the other, in a transaction of that channel's own right before its send, it:

1. re-checks the notice against the truth — the order-status API's answer *now* — and
   drops it, with the reason on the timeline, if the order moved on (``rules``);
2. checks consent and, for SMS, the tenant's quiet hours (deferred to their end, then
   checked all over again);
3. renders the template from that same status, commits the channel as ``sending`` with a
   lease of its own, renews the notice's lease, and sends it within a deadline;
4. records sent, suppressed (and why) or failed on the delivery row and the order's
   timeline, with a ``notification.*`` event.

**At most once per (notice, channel).** The delivery row, unique on the pair, is committed
as ``sending`` (with ``sending_until``) before the message leaves. Looking at a notice
again (a second dispatcher, the notice redelivered, a crash) never re-sends a channel whose
row is past ``sending``; a row still ``sending`` after its lease ran out means the outcome
is unknown (the process died mid-send), and it is marked failed rather than risk a
duplicate. The sender writes its outcome only if the row is still ``sending`` under its own
attempt (the attempt number is the fence), so a late answer never overwrites what another
dispatcher decided. A failure known not to have delivered — anything before the SMTP DATA
command, a 4xx SMTP reply, a provider's 429/5xx or no answer — is retried with back-off;
providers also get the delivery id as ``webhook-id`` to drop a repeat.

**Poison notices.** A notice whose handling keeps failing for a reason that is not a
business decision (a bug, data the code cannot cope with) would otherwise come back every
lease period forever; the claim counts attempts, and past ``give_up_after`` the notice is
recorded as failed with the last error on the order's timeline.

The dispatcher orchestrates; the pieces live beside it: ``leases`` (the claim and lock
queries), ``checks`` (still true, reachable, quiet hours), ``messages`` (composing a
channel's message) and ``outcomes`` (recording decisions on the rows and the timeline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.database import Database
from channelhub.platform.errors import ChannelhubError
from channelhub.platform.tasks import work_while_due
from channelhub.process.notifications import checks, consent, leases, messages, outcomes, templates
from channelhub.process.notifications.models import NotificationDelivery, NotificationSettings
from channelhub.process.notifications.schemas import Channel, DeliveryStatus
from channelhub.process.notifications.transport import (
    DeliveryError,
    Email,
    ProviderMessage,
    Transport,
)
from channelhub.process.orders import repository
from channelhub.process.orders.models import Order, OrderNotice
from channelhub.process.orders.schemas import CustomerStatus
from channelhub.process.orders.timeline import NoticeKind, NoticeStatus

log = structlog.get_logger(__name__)

OrderToken = Callable[[AsyncSession, str, str], Awaitable[str]]
"""Signs a shopper's order link: (session, tenant id, order id) -> token."""

_UNKNOWN = (
    "the outcome of an earlier attempt is unknown (the dispatcher stopped while sending); "
    "not sent again so the customer never gets it twice"
)


@dataclass(frozen=True)
class _Send:
    delivery_id: str
    attempt: int
    """The row's attempt number when it was marked ``sending``: the fence for the outcome."""
    message: Email | ProviderMessage


class Dispatcher:
    def __init__(
        self,
        db: Database,
        transport: Transport,
        secret_box: SecretBox,
        *,
        public_url: str,
        secret_key: str | None,
        order_token: OrderToken | None = None,
        batch_size: int = 50,
        claim_timeout_s: float = 300.0,
        max_attempts: int = 5,
        retry_base_s: float = 60.0,
        poll_interval_s: float = 1.0,
        send_timeout_s: float = 120.0,
        concurrency: int = 4,
        give_up_after: int = 5,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.transport = transport
        self.secret_box = secret_box
        self.public_url = public_url
        self.secret_key = secret_key
        self.order_token = order_token
        self.batch_size = batch_size
        self.claim_timeout = timedelta(seconds=claim_timeout_s)
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.poll_interval_s = poll_interval_s
        # A send must end well inside the lease it was marked ``sending`` under.
        self.send_timeout_s = min(send_timeout_s, claim_timeout_s / 2)
        self.concurrency = concurrency
        self.give_up_after = give_up_after
        self.clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called after a commit that scheduled a notice: deliver it now, not at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        await work_while_due(
            self.dispatch_due,
            self._wake,
            poll_interval_s=self.poll_interval_s,
            failure_event="notifications.round_failed",
        )

    async def dispatch_due(self) -> int:
        """Deliver one batch of due notices (up to ``concurrency`` at a time); returns how
        many were looked at."""
        claimed = await self._claim()
        gate = asyncio.Semaphore(self.concurrency)

        async def one(notice_id: str) -> None:
            async with gate:
                try:
                    await self._dispatch(notice_id)
                except Exception as exc:
                    # Its lease runs out and it is looked at again (a message already handed
                    # to a server is never sent twice); past give_up_after it is failed.
                    log.exception("notifications.dispatch_failed", notice_id=notice_id)
                    await self._note_error(notice_id, exc)

        async with asyncio.TaskGroup() as group:
            for notice_id in claimed:
                group.create_task(one(notice_id))
        return len(claimed)

    async def _claim(self) -> list[str]:
        now = self.clock()
        async with self.db.transaction() as session:
            return await leases.claim_due(
                session, now, batch_size=self.batch_size, claimed_until=now + self.claim_timeout
            )

    async def _dispatch(self, notice_id: str) -> None:
        if await self._give_up(notice_id):
            return
        for channel in Channel:
            go_on, send = await self._step(notice_id, channel)
            if send is not None:
                await self._send(send)
            if not go_on:
                break
        await self._conclude(notice_id)

    # --- deciding -----------------------------------------------------------------------

    async def _step(self, notice_id: str, channel: Channel) -> tuple[bool, _Send | None]:
        """In one transaction, right before this channel's send: re-check, consent, quiet
        hours, render; commit the channel as ``sending`` and renew the notice's lease.
        Returns (whether the notice is still pending, what to send)."""
        async with self.db.transaction() as session:
            notice = await session.get(OrderNotice, notice_id, with_for_update=True)
            if notice is None or notice.status != NoticeStatus.pending.value:
                return False, None
            now = self.clock()
            order = await repository.load(session, notice.tenant_id, notice.order_id)
            kind = NoticeKind(notice.kind)
            rows = await leases.lock_deliveries(session, notice.id)
            for row in rows.values():
                if row.status == DeliveryStatus.sending.value and (
                    row.sending_until is None or row.sending_until < now
                ):
                    await outcomes.settle(session, order, row, DeliveryStatus.failed, _UNKNOWN, now)
            status, why = await checks.still_true(session, order, kind, now)
            if why is not None:
                await outcomes.withdraw(session, order, notice, rows, why, now)
                return False, None
            settings = await session.get(NotificationSettings, order.tenant_id)
            reachable = dict(checks.reachable(order, settings))
            for other, row in rows.items():
                if (
                    row.status not in outcomes.FINAL
                    and row.status != DeliveryStatus.sending.value
                    and (other not in reachable)
                ):
                    gone = f"{other.value} is no longer set up for this shop"
                    await outcomes.settle(session, order, row, DeliveryStatus.suppressed, gone, now)
            recipient = reachable.get(channel)
            if recipient is None:
                return True, None
            existing = rows.get(channel)
            if existing is not None and (
                existing.status in outcomes.FINAL
                or existing.status == DeliveryStatus.sending.value  # another sender's lease
                or (existing.next_attempt_at is not None and existing.next_attempt_at > now)
            ):
                return True, None
            row = existing or leases.new_delivery(notice, channel, recipient, status.language, now)
            session.add(row)
            notice.claimed_until = now + self.claim_timeout
            return True, await self._prepare(session, order, status, row, settings, now)

    async def _prepare(
        self,
        session: AsyncSession,
        order: Order,
        status: CustomerStatus,
        row: NotificationDelivery,
        settings: NotificationSettings | None,
        now: datetime,
    ) -> _Send | None:
        channel = Channel(row.channel)
        refusal = self._unavailable(channel, settings) or await consent.refusal(
            session, order.tenant_id, channel, row.recipient, settings
        )
        if refusal is not None:
            await outcomes.settle(session, order, row, DeliveryStatus.suppressed, refusal, now)
            return None
        if channel is Channel.sms and settings is not None:
            until = checks.quiet_until(settings, now)
            if until is not None:
                await outcomes.defer(session, order, row, until, now)
                return None
        assert settings is not None  # _unavailable refuses every channel without settings
        try:
            message = await self._compose(session, order, status, row, settings, now)
        except ChannelhubError as exc:
            # Every template failed on this order, or a provider secret cannot be read.
            await outcomes.settle(session, order, row, DeliveryStatus.failed, exc.detail, now)
            return None
        row.status = DeliveryStatus.sending.value
        row.attempts += 1
        row.next_attempt_at = None
        row.sending_until = now + self.claim_timeout
        row.updated_at = now
        return _Send(row.id, row.attempts, message)

    def _unavailable(self, channel: Channel, settings: NotificationSettings | None) -> str | None:
        if channel is Channel.email:
            if settings is None or not settings.email_from:
                return "e-mail is not set up: no sender address in the notification settings"
            return self.transport.email_unavailable()
        return None  # SMS and push are only reachable with their provider set

    async def _compose(
        self,
        session: AsyncSession,
        order: Order,
        status: CustomerStatus,
        row: NotificationDelivery,
        settings: NotificationSettings,
        now: datetime,
    ) -> Email | ProviderMessage:
        channel = Channel(row.channel)
        kind = NoticeKind(row.kind)
        brand_id, brand_name = await messages.brand(session, order)
        order_url = await self._order_url(session, order, settings)
        unsubscribe_url = (
            await consent.unsubscribe_url(
                session,
                self.secret_key,
                self.public_url,
                consent.Unsubscribe(order.tenant_id, channel, row.recipient, status.language),
            )
            if channel is Channel.email
            else None
        )
        shop = settings.email_from_name or brand_name
        context = templates.context(
            notice=kind,
            status=status,
            customer_name=order.customer_name,
            shop=shop,
            order_url=order_url,
            unsubscribe_url=unsubscribe_url,
        )
        rendered = await messages.render(
            session, order, row, brand_id, status.language, context, now
        )
        row.subject = rendered.subject
        if channel is Channel.email:
            return Email(
                id=row.id,
                sender=settings.email_from,
                sender_name=shop,
                reply_to=settings.reply_to,
                to=row.recipient,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                unsubscribe_url=unsubscribe_url or "",
                language=status.language,
            )
        url, sealed = (
            (settings.sms_url, settings.sms_secret)
            if channel is Channel.sms
            else (settings.push_url, settings.push_secret)
        )
        assert sealed is not None  # a provider is only saved with its secret
        return ProviderMessage(
            id=row.id,
            url=url,
            secret=str(self.secret_box.open(sealed)["secret"]),
            allow_private=await self.transport.allows_private(session, order.tenant_id),
            payload=messages.provider_payload(
                order, row, rendered, language=status.language, order_url=order_url
            ),
        )

    async def _order_url(
        self, session: AsyncSession, order: Order, settings: NotificationSettings
    ) -> str | None:
        if not settings.order_page_url or self.order_token is None:
            return None
        token = await self.order_token(session, order.tenant_id, order.id)
        return settings.order_page_url.replace("{token}", quote(token))

    # --- sending ------------------------------------------------------------------------

    async def _send(self, send: _Send) -> None:
        reference = ""
        error: DeliveryError | None = None
        try:
            async with asyncio.timeout(self.send_timeout_s):
                if isinstance(send.message, Email):
                    reference = await self.transport.send_email(send.message)
                else:
                    reference = await self.transport.post(send.message)
        except DeliveryError as exc:
            error = exc
        except TimeoutError:
            # The transport's own deadline did not end it: where it stopped is not known,
            # so only a provider (which drops a repeated webhook-id) is tried again.
            error = DeliveryError(
                f"no outcome within {self.send_timeout_s:g} s; outcome unknown",
                retry=isinstance(send.message, ProviderMessage),
            )
        except Exception as exc:
            # Not known to have failed before the message left: treated as final.
            log.exception("notifications.send_crashed", delivery_id=send.delivery_id)
            error = DeliveryError(f"{type(exc).__name__}: {exc}", retry=False)
        async with self.db.transaction() as session:
            row = await session.get(NotificationDelivery, send.delivery_id, with_for_update=True)
            order = await session.get(Order, row.order_id) if row is not None else None
            if row is None or order is None:
                return
            if row.status != DeliveryStatus.sending.value or row.attempts != send.attempt:
                # Our lease ran out and another dispatcher decided the row (see _UNKNOWN).
                log.warning(
                    "notifications.outcome_too_late",
                    delivery_id=row.id,
                    status=row.status,
                    sent=error is None,
                )
                return
            now = self.clock()
            row.sending_until = None
            if error is None:
                row.provider_message_id = reference[:255]
                row.sent_at = now
                await outcomes.settle(session, order, row, DeliveryStatus.sent, "", now)
            elif error.retry and row.attempts < self.max_attempts:
                delay = self.retry_base_s * 2 ** (row.attempts - 1)
                row.status = DeliveryStatus.deferred.value
                row.next_attempt_at = now + timedelta(seconds=delay)
                row.reason = f"will retry: {error.reason}"[:2000]
                row.updated_at = now
            else:
                await outcomes.settle(session, order, row, DeliveryStatus.failed, error.reason, now)

    async def _conclude(self, notice_id: str) -> None:
        """Give the notice its final status once every channel is decided; until then, make
        it due again when the next waiting channel is."""
        async with self.db.transaction() as session:
            notice = await session.get(OrderNotice, notice_id, with_for_update=True)
            if notice is None:
                return
            notice.claimed_until = None
            notice.attempts = 0
            if notice.status != NoticeStatus.pending.value:
                return
            now = self.clock()
            rows = list((await leases.lock_deliveries(session, notice.id)).values())
            outcomes.conclude(notice, rows, now)

    # --- notices that keep failing ------------------------------------------------------

    async def _note_error(self, notice_id: str, exc: Exception) -> None:
        """Keep the last error on the pending notice, for the timeline if it is given up."""
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        try:
            async with self.db.transaction() as session:
                await leases.note_error(session, notice_id, reason)
        except Exception:
            log.exception("notifications.note_error_failed", notice_id=notice_id)

    async def _give_up(self, notice_id: str) -> bool:
        """A notice claimed more than ``give_up_after`` times without the dispatcher
        finishing with it is recorded as failed, with its last error, on the timeline."""
        async with self.db.transaction() as session:
            notice = await session.get(OrderNotice, notice_id, with_for_update=True)
            if (
                notice is None
                or notice.status != NoticeStatus.pending.value
                or notice.attempts <= self.give_up_after
            ):
                return False
            await outcomes.give_up(session, notice, self.clock())
            return True
