"""The composition root: builds the database, bus, relay and consumers from settings and
runs them. ``serve`` runs all of it beside the API; ``worker`` runs consumers only."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

import httpx
import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform import idempotency
from channelhub.platform.auth import service as auth
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
from channelhub.process.access import RESOURCES
from channelhub.process.inventory.reservations import expire_due
from channelhub.process.orders.closures import apply_fallbacks, reopen_due
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


def default_jobs(settings: Settings) -> list[Job]:
    return [
        Job("idempotency_keys_purged", 600.0, _purge_idempotency_keys),
        Job("reservations_expired", settings.reservation_expiry_interval_s, expire_due),
        Job("closure_fallbacks_applied", 60.0, apply_fallbacks),
        Job("stores_reopened", 60.0, reopen_due),
    ]


_BUS_RETRY_S = 5.0


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
    ) -> None:
        self.settings = settings
        self.db = Database(settings)
        key = settings.encryption_key
        self.secret_box = SecretBox(key.get_secret_value() if key else None)
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=settings.outbound_timeout_s)
        self.systems = Systems(
            self.db,
            self.secret_box,
            self.http,
            push_interval_s=settings.push_interval_s,
            retry_base_s=settings.outbound_retry_base_s,
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
        self.relay = OutboxRelay(
            self.db,
            self.bus,
            batch_size=settings.relay_batch_size,
            poll_interval_s=settings.relay_poll_interval_s,
            claim_timeout_s=settings.relay_claim_timeout_s,
            retention=timedelta(hours=settings.outbox_retention_hours),
        )
        self.runner = ConsumerRunner(
            self.db,
            self.consumers,
            max_deliveries=settings.consumer_max_deliveries,
            retry_base_s=settings.consumer_retry_base_s,
        )
        self.jobs = default_jobs(settings)
        self.db.on_commit(self._wake_relay)
        self._tasks: list[asyncio.Task[None]] = []
        self._bus_connected = False
        self._started = False

    def _wake_relay(self, session: AsyncSession) -> None:
        if session.info.get(OUTBOX_WRITTEN):
            self.relay.wake()
        if session.info.get(INBOX_WRITTEN):
            self.inbox.wake()

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
        if relay:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="relay"))
            self._tasks.append(asyncio.create_task(self.inbox.run(), name="inbox"))
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
        while True:
            try:
                done = await job.run(self.db)
                if done:
                    log.info("job.done", job=job.name, count=done)
            except Exception:
                log.exception("job.failed", job=job.name)
            await asyncio.sleep(job.interval_s)

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._started = False
        await self._disconnect_bus()
        if self._owns_http:
            await self.http.aclose()
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
