"""The composition root: builds the database, bus, relay and consumers from settings and
runs them. ``serve`` runs all of it beside the API; ``worker`` runs consumers only."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

import httpx
import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.experience.rest.tokens import sign_order, sign_rating
from channelhub.platform import idempotency
from channelhub.platform.auth import service as auth
from channelhub.platform.clock import utc_now
from channelhub.platform.config import Settings
from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.database import Database
from channelhub.platform.errors import UnavailableError
from channelhub.platform.events.bus import Delivery, EventBus, make_bus
from channelhub.platform.events.consumers import Consumer, ConsumerRegistry, ConsumerRunner
from channelhub.platform.events.outbox import OUTBOX_WRITTEN
from channelhub.platform.events.relay import OutboxRelay
from channelhub.platform.inbox.processor import InboxProcessor
from channelhub.platform.inbox.store import INBOX_WRITTEN, InboxWriter, Receiver
from channelhub.platform.tasks import cancel_all
from channelhub.platform.webhooks import service as webhook_service
from channelhub.platform.webhooks.queue import CONSUMER as WEBHOOKS_CONSUMER
from channelhub.platform.webhooks.queue import WEBHOOKS_QUEUED
from channelhub.platform.webhooks.sender import HANDED_OVER, SenderConfig, WebhookSender
from channelhub.process.access import RESOURCES
from channelhub.process.customers import membership
from channelhub.process.helpdesk.inbound import Receiving
from channelhub.process.helpdesk.jobs import run_slas
from channelhub.process.helpdesk.models import Ticket
from channelhub.process.helpdesk.tickets import Answering
from channelhub.process.inventory.reservations import expire_due
from channelhub.process.loyalty import earning
from channelhub.process.loyalty.jobs import expire_points, review_tiers
from channelhub.process.notifications.dispatcher import Dispatcher
from channelhub.process.orders.closures import apply_fallbacks, reopen_due
from channelhub.process.orders.timeline import NOTICE_SCHEDULED
from channelhub.process.promotions import redemptions
from channelhub.process.promotions.jobs import announce_schedules
from channelhub.systems.email.ingress import MailIngress
from channelhub.systems.email.replies import send_replies
from channelhub.systems.email.smtp import InboundSmtp
from channelhub.systems.llm import classifier_from_settings
from channelhub.systems.notify import Notifier, SmtpServer
from channelhub.systems.registry import Systems

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Job:
    """Periodic work that runs beside the relay (in ``serve``, or ``worker --relay``).
    ``run`` returns how many things it did; every job is safe to run in several processes."""

    name: str
    interval_s: float
    run: Callable[[Database], Awaitable[int]]


async def _purge_idempotency_keys(db: Database) -> int:
    async with db.transaction() as session:
        return await idempotency.purge_expired(session)


def _prune_webhook_log(retention: timedelta) -> Callable[[Database], Awaitable[int]]:
    async def prune(db: Database) -> int:
        async with db.transaction() as session:
            return await webhook_service.prune_log(session, utc_now() - retention)

    return prune


def default_jobs(settings: Settings) -> list[Job]:
    retention = timedelta(hours=settings.outbox_retention_hours)
    return [
        Job("webhook_log_pruned", 600.0, _prune_webhook_log(retention)),
        Job("idempotency_keys_purged", 600.0, _purge_idempotency_keys),
        Job("reservations_expired", settings.reservation_expiry_interval_s, expire_due),
        Job("closure_fallbacks_applied", 60.0, apply_fallbacks),
        Job("stores_reopened", 60.0, reopen_due),
        Job("helpdesk_slas_checked", 15.0, run_slas),
        Job("campaign_schedules_announced", 30.0, announce_schedules),
        Job("loyalty_points_expired", 60.0, expire_points),
        Job("loyalty_tiers_reviewed", 600.0, review_tiers),
    ]


_BUS_RETRY_S = 5.0
_STOP_WITHIN_S = 15.0
_JOBS_FINISH_WITHIN_S = 5.0
"""How long ``stop`` lets periodic jobs finish the run they are in before cancelling."""
"""How long ``stop`` waits for the background tasks to finish after cancelling them."""


def default_consumers() -> ConsumerRegistry:
    """The consumers every hub runs. Contexts add theirs here as they gain handlers."""
    return ConsumerRegistry()


class Hub:
    def __init__(
        self,
        settings: Settings,
        *,
        consumers: ConsumerRegistry | None = None,
        bus: EventBus | None = None,
        http: httpx.AsyncClient | None = None,
        webhook_http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.db = Database(settings)
        key = settings.encryption_key
        self.secret_box = SecretBox(key.get_secret_value() if key else None)
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=settings.outbound_timeout_s)
        # SMS and push providers are tenants' URLs: no proxies from the environment, no
        # redirects (a redirect could lead past the private-network guard).
        self._notify_http = http or httpx.AsyncClient(
            timeout=settings.outbound_timeout_s, trust_env=False, follow_redirects=False
        )
        self.helpdesk = Receiving(
            classifier=classifier_from_settings(settings, self.http),
            answering=Answering(rating_url=self._rating_url),
        )
        self.systems = Systems(
            self.db,
            self.secret_box,
            self.http,
            push_interval_s=settings.push_interval_s,
            retry_base_s=settings.outbound_retry_base_s,
            helpdesk=self.helpdesk,
            max_attachment_bytes=settings.helpdesk_max_attachment_bytes,
        )
        self.receivers: Mapping[str, Receiver] = self.systems.receivers
        self.inbox_writer = InboxWriter(self.db)
        self.inbox = InboxProcessor(
            self.db,
            self.systems.handle,
            yield_to=lambda: self.inbox_writer.busy,
            max_attempts=settings.inbox_max_attempts,
            retry_base_s=settings.inbox_retry_base_s,
            poll_interval_s=settings.relay_poll_interval_s,
        )
        self.bus = bus if bus is not None else make_bus(settings)
        self.consumers = consumers if consumers is not None else default_consumers()
        self.systems.register_consumers(self.consumers)
        self.webhooks = WebhookSender(
            self.db, self.secret_box, SenderConfig.from_settings(settings), client=webhook_http
        )
        self.consumers.register(WEBHOOKS_CONSUMER, self.webhooks.fan_out)
        self.consumers.register(
            redemptions.ROLLBACK_CONSUMER,
            redemptions.roll_back_for_order,
            types=redemptions.ROLLBACK_ON,
        )
        self.consumers.register(
            membership.ORDERS_CONSUMER, membership.reevaluate_for_order, types=membership.ORDERS_ON
        )
        for name, handler, types in (
            (earning.EARN_CONSUMER, earning.earn_for_order, earning.EARN_ON),
            (earning.REVERSE_CONSUMER, earning.reverse_for_order, earning.REVERSE_ON),
            (earning.SEGMENT_CONSUMER, earning.earn_for_segment, earning.SEGMENT_ON),
            (earning.METADATA_CONSUMER, earning.review_metadata_tiers, earning.METADATA_ON),
        ):
            self.consumers.register(name, handler, types=types)
        self.relay = OutboxRelay(
            self.db,
            self.bus,
            batch_size=settings.relay_batch_size,
            poll_interval_s=settings.relay_poll_interval_s,
            claim_timeout_s=settings.relay_claim_timeout_s,
            retention=timedelta(hours=settings.outbox_retention_hours),
            gather_s=settings.relay_gather_s,
        )
        self.runner = ConsumerRunner(
            self.db,
            self.consumers,
            max_deliveries=settings.consumer_max_deliveries,
            retry_base_s=settings.consumer_retry_base_s,
        )
        self.jobs = default_jobs(settings)
        self.notifications = self._notifications(settings)
        self.mail = MailIngress(self.db, self.inbox_writer, self.secret_box)
        self.jobs += [
            Job("helpdesk_replies_sent", 2.0, self._send_replies),
            Job("helpdesk_imap_polled", settings.helpdesk_imap_interval_s, self.mail.poll_imap),
        ]
        self.smtp_server = InboundSmtp(
            self.mail.accepts,
            self.mail.deliver,
            hostname=settings.helpdesk_smtp_hostname,
            max_message_bytes=settings.helpdesk_max_message_bytes,
        )
        self.db.on_commit(self._wake_relay)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._bus_connected = False
        self._started = False

    def _wake_relay(self, session: AsyncSession) -> None:
        if session.info.get(OUTBOX_WRITTEN):
            self.relay.wake()
        if session.info.get(INBOX_WRITTEN):
            self.inbox.wake()
        if session.info.get(NOTICE_SCHEDULED):
            self.notifications.wake()
        if session.info.get(HANDED_OVER):
            self.webhooks.take(session.info[HANDED_OVER])
        if session.info.get(WEBHOOKS_QUEUED):
            self.webhooks.wake()

    async def _rating_url(self, session: AsyncSession, ticket: Ticket) -> str:
        token = await sign_rating(session, self.settings, ticket.tenant_id, ticket.id)
        return f"{self.settings.public_url.rstrip('/')}/helpdesk/rate/{token}"

    async def _send_replies(self, db: Database) -> int:
        return await send_replies(db, self._outgoing_smtp)

    def _notifications(self, settings: Settings) -> Dispatcher:
        """The customer-message dispatcher, its SMTP server and providers' HTTP client."""
        smtp = self._outgoing_smtp = (
            SmtpServer.from_url(
                settings.smtp_url.get_secret_value(), timeout_s=settings.smtp_timeout_s
            )
            if settings.smtp_url
            else None
        )
        secret_key = settings.secret_key.get_secret_value() if settings.secret_key else None

        async def order_token(session: AsyncSession, tenant_id: str, order_id: str) -> str:
            return await sign_order(session, settings, tenant_id, order_id)

        return Dispatcher(
            self.db,
            Notifier(self._notify_http, smtp, deadline_s=settings.smtp_timeout_s * 4),
            self.secret_box,
            public_url=settings.public_url,
            secret_key=secret_key,
            order_token=order_token,
            claim_timeout_s=settings.notification_claim_timeout_s,
            max_attempts=settings.notification_max_attempts,
            retry_base_s=settings.notification_retry_base_s,
            poll_interval_s=settings.notification_poll_interval_s,
        )

    async def connect_bus(self) -> None:
        if not self._bus_connected:
            await self.bus.connect()
            self._bus_connected = True

    async def start(self, *, relay: bool = True, consumers: bool = True) -> None:
        """Connect the bus, subscribe the consumers, then start the relay. Idempotent.

        If the bus is down, the API still serves (events wait in the outbox, /readyz says
        the bus is down) and the hub keeps trying to connect in the background. The relay
        starts only after the consumers are subscribed, so no event is published to nobody.
        """
        if self._started:
            return
        self._started = True
        if relay and self.settings.helpdesk_smtp_listen:
            host, _, port = self.settings.helpdesk_smtp_listen.rpartition(":")
            await self.smtp_server.start(host.strip("[]"), int(port))
        try:
            await self._bring_up(relay=relay, consumers=consumers)
        except UnavailableError as exc:
            log.warning("hub.bus_unavailable", error=str(exc), retry_in_s=_BUS_RETRY_S)
            self._tasks.append(
                asyncio.create_task(self._bring_up_later(relay=relay, consumers=consumers))
            )

    async def _bring_up(self, *, relay: bool, consumers: bool) -> None:
        await self.connect_bus()
        if consumers:
            for consumer in self.consumers:
                await self.bus.subscribe(consumer.name, self._delivery_for(consumer))
            idle_s = min(1.0, self.settings.consumer_retry_base_s)
            self._tasks.append(
                asyncio.create_task(self.runner.run_retries(idle_s=idle_s), name="retries")
            )
            self._tasks.append(asyncio.create_task(self.webhooks.run(), name="webhooks"))
        if relay:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="relay"))
            self._tasks.append(asyncio.create_task(self.inbox.run(), name="inbox"))
            self._tasks.append(asyncio.create_task(self.notifications.run(), name="notifications"))
            self._tasks.append(asyncio.create_task(self.systems.pusher.run(), name="stock-push"))
            for job in self.jobs:
                self._tasks.append(asyncio.create_task(self._every(job), name=job.name))
        log.info(
            "hub.started",
            database=self.db.engine.dialect.name,
            bus=self.bus.name,
            relay=relay,
            consumers=[c.name for c in self.consumers] if consumers else [],
        )

    async def _bring_up_later(self, *, relay: bool, consumers: bool) -> None:
        while True:
            await asyncio.sleep(_BUS_RETRY_S)
            try:
                await self._bring_up(relay=relay, consumers=consumers)
            except Exception as exc:
                log.warning("hub.bus_unavailable", error=str(exc), retry_in_s=_BUS_RETRY_S)
                await self._disconnect_bus()
            else:
                return

    def _delivery_for(self, consumer: Consumer) -> Delivery:
        return functools.partial(self.runner.deliver_batch, consumer)

    async def _every(self, job: Job) -> None:
        """Run ``job`` every ``interval_s`` until the hub stops. A stop lets the run in
        progress finish (see ``stop``): cut short inside a transaction, a job would leave
        its connection half returned to the pool."""
        while not self._stopping.is_set():
            try:
                done = await job.run(self.db)
                if done:
                    log.info("job.done", job=job.name, count=done)
            except Exception:
                log.exception("job.failed", job=job.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), job.interval_s)

    async def stop(self) -> None:
        await self.smtp_server.stop()
        self._stopping.set()
        names = {job.name for job in self.jobs}
        jobs = [task for task in self._tasks if task.get_name() in names]
        if jobs:
            await asyncio.wait(jobs, timeout=_JOBS_FINISH_WITHIN_S)
        await cancel_all(self._tasks, within_s=_STOP_WITHIN_S)
        self._stopping.clear()
        self._started = False
        await self._disconnect_bus()
        if self._owns_http:
            await self.http.aclose()
            await self._notify_http.aclose()
        await self.webhooks.aclose()
        await self.db.dispose()

    async def _disconnect_bus(self) -> None:
        if self._bus_connected:
            await self.bus.close()
            self._bus_connected = False

    async def bootstrap(self) -> auth.IssuedKey | None:
        """Create the default tenant and admin key on an empty database (see ``serve``)."""
        secret = self.settings.bootstrap_admin_key
        try:
            async with self.db.transaction() as session:
                return await auth.bootstrap(
                    session,
                    resources=RESOURCES,
                    admin_secret=secret.get_secret_value() if secret else None,
                )
        except IntegrityError:
            # Another process bootstrapped the same empty database a moment earlier.
            return None
