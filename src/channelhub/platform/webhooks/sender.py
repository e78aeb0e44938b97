"""The sender: posts queued deliveries to their endpoints and writes down what happened.

- The fan-out consumer queues each event for its endpoints; deliveries for endpoints with
  free slots in this process are queued already leased to it and handed over once the
  transaction commits, so the common case costs no claim at all.
- Claims due deliveries (retries, and whatever no sender took at once) in batches, at
  most ``max_in_flight`` per endpoint at a time and round-robin across endpoints, and
  leases them: ``next_attempt_at`` pushed ahead and a ``lease`` token set. A sender that
  dies mid-request leaves what it held to be sent again when the lease ends, with the
  same webhook-id. A request is never started after its lease, and never outlives it
  (every request has an overall deadline); only the lease's holder writes the outcome.
- Each endpoint has its own slots and connection pool, so a slow or failing one fills
  only its own; it is left out of claims while they are full and never holds up others.
- An endpoint that failed five times in a row is paused, probed, then ramped up again
  (``pacing``); its deliveries stay due meanwhile.
- Outcomes are written in batches, one transaction per batch, apart from the requests;
  an outcome that cannot be written is dropped (its lease ends and it is sent again)
  rather than holding up the others.
- A failed attempt is retried on the schedule (each delay varied by +-20 % so that
  retries of one outage do not arrive together), or later if the answer's Retry-After
  asks for more; when the schedule runs out the delivery is failed. An endpoint that has
  failed without a success for ``disable_after`` is disabled, with an
  ``endpoint.disabled`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.config import Settings
from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.core import execute_core, table_of
from channelhub.platform.db.database import (
    Database,
    is_connection_error,
    is_transient_conflict,
)
from channelhub.platform.errors import ChannelhubError
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.outbox import record_event
from channelhub.platform.ids import new_id
from channelhub.platform.observability import WEBHOOK_ATTEMPTS, WEBHOOK_LATENCY
from channelhub.platform.retry_after import retry_after_s
from channelhub.platform.tasks import cancel_all
from channelhub.platform.webhooks.events import ENDPOINT_DISABLED
from channelhub.platform.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
    WebhookSettings,
)
from channelhub.platform.webhooks.pacing import EndpointLoads
from channelhub.platform.webhooks.queue import body_of, matches, queue_deliveries
from channelhub.platform.webhooks.schemas import DeliveryStatus
from channelhub.platform.webhooks.service import to_schema
from channelhub.platform.webhooks.signing import Signer
from channelhub.platform.webhooks.targets import pin
from channelhub.platform.webhooks.transport import AiohttpTransport

log = structlog.get_logger(__name__)

HANDED_OVER = "channelhub.webhooks_handed_over"
"""``session.info``: deliveries this transaction leased to this process's sender."""

_SUBSCRIBERS = "channelhub.webhook_subscribers"
_RESPONSE_KEPT = 1024
_RESPONSE_READ = 64 * 1024
_JITTER = 0.2
_MAX_RETRY_AFTER_S = 86_400.0
"""A longer Retry-After is taken as a day (a misconfigured receiver cannot park a
delivery for a year)."""
_USER_AGENT = "channelhub-webhooks/1"
_STOP_SENDS_WITHIN_S = 5.0
_CLAIM_GATHER_S = 0.02
_DELIVERIES = table_of(WebhookDelivery)
_ATTEMPTS = table_of(WebhookAttempt)
_ENDPOINTS = table_of(WebhookEndpoint)


@dataclass(frozen=True)
class SenderConfig:
    schedule_s: Sequence[float]
    """Waits before retries 1, 2, ... (the first attempt is immediate)."""
    timeout_s: float
    """Every request's overall deadline (connecting, sending, the whole answer)."""
    max_in_flight: int
    disable_after: timedelta
    poll_interval_s: float
    batch_size: int = 200

    @classmethod
    def from_settings(cls, settings: Settings) -> SenderConfig:
        return cls(
            schedule_s=tuple(settings.webhook_retry_schedule_s),
            timeout_s=settings.webhook_timeout_s,
            max_in_flight=settings.webhook_max_in_flight,
            disable_after=timedelta(hours=settings.webhook_disable_after_hours),
            poll_interval_s=settings.relay_poll_interval_s,
        )

    @property
    def pause_s(self) -> float:
        """How long an endpoint failing again and again gets no new attempts: the first
        retry's wait (a retry would not come sooner anyway)."""
        return float(self.schedule_s[0]) if self.schedule_s else 0.0

    @property
    def lease_s(self) -> float:
        """Long enough for a claimed delivery to wait for a slot and then time out."""
        return self.timeout_s * 3 + 5

    @property
    def start_within_s(self) -> float:
        """A held delivery not started this long after its lease began is left to the
        next claim: started later, it could outlive the lease."""
        return self.lease_s - self.timeout_s - 1


@dataclass(frozen=True)
class _Target:
    """An endpoint as the sender needs it; its secrets stay sealed until a send."""

    endpoint_id: str
    version: datetime
    url: str
    allow_private: bool
    secret: bytes
    previous_secret: bytes | None
    previous_until: datetime | None


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    endpoint_id: str
    tenant_id: str
    message_id: str
    attempt: int
    """This attempt's number (1 = the first)."""
    step: int
    """Which retry of the current schedule this is (0 = its first attempt)."""
    body: bytes
    target: _Target
    lease: str
    leased_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class _Outcome:
    job: _Job
    at: datetime
    status_code: int | None
    latency_ms: int
    response: str
    error: str
    retry_after_s: float | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class _Subscriber:
    id: str
    patterns: tuple[str, ...]
    target: _Target


def _target(endpoint: WebhookEndpoint, allow_private: bool | None) -> _Target:
    return _Target(
        endpoint_id=endpoint.id,
        version=endpoint.updated_at,
        url=endpoint.url,
        allow_private=bool(allow_private),
        secret=endpoint.secret,
        previous_secret=endpoint.previous_secret,
        previous_until=endpoint.previous_until,
    )


class WebhookSender:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        config: SenderConfig,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """``client``: one client for every endpoint (tests route it to stand-ins); by
        default each endpoint gets a client of its own, since one connection pool shared
        by many busy endpoints costs more CPU per request the more connections it holds."""
        self.db = db
        self.box = box
        self.config = config
        self.clock = clock
        self._shared_client = client
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._loads = EndpointLoads(config.max_in_flight, pause_s=config.pause_s)
        self._wake = asyncio.Event()
        self._outcomes: list[_Outcome] = []
        self._outcome_ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._signers: dict[str, tuple[tuple[datetime, bool], Signer]] = {}
        self._running = False

    def wake(self) -> None:
        self._wake.set()

    # --- queueing: the fan-out consumer and the hand-over --------------------------------

    async def fan_out(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        """The webhooks consumer: queue the event for every enabled endpoint that takes it;
        those this sender has room for are leased to it and handed over on commit."""
        subscribers = [
            subscriber
            for subscriber in await self._subscribers(session, envelope.tenant)
            if matches(subscriber.patterns, envelope.type)
        ]
        if not subscribers:
            return
        now = self.clock()
        handed: list[_Job] = session.info.setdefault(HANDED_OVER, [])
        lease = new_id("lse")
        until = now + timedelta(seconds=self.config.lease_s)
        taking = {s.id: (until, lease) for s in subscribers if self._has_room(s.id, handed)}
        queued = await queue_deliveries(
            session, [(envelope, [s.id for s in subscribers])], now, leases=taking
        )
        targets = {s.id: s.target for s in subscribers}
        body = body_of(envelope)
        handed.extend(
            _Job(
                delivery_id=q.delivery_id,
                endpoint_id=q.endpoint_id,
                tenant_id=envelope.tenant,
                message_id=q.message_id,
                attempt=1,
                step=0,
                body=body,
                target=targets[q.endpoint_id],
                lease=lease,
            )
            for q in queued
            if q.endpoint_id in taking
        )

    def _has_room(self, endpoint_id: str, handed: Sequence[_Job]) -> bool:
        if not self._running or self._loads.paused(endpoint_id):
            return False
        waiting = sum(1 for job in handed if job.endpoint_id == endpoint_id)
        return self._loads.held[endpoint_id] + waiting < self._loads.cap

    def take(self, jobs: Sequence[_Job]) -> None:
        """Start sending what a committed fan-out leased to this sender (if it stopped in
        between, the leases run out and the deliveries are claimed again)."""
        if self._running:
            for job in jobs:
                self._start(job)

    async def _subscribers(self, session: AsyncSession, tenant_id: str) -> list[_Subscriber]:
        """The tenant's enabled endpoints, read once per transaction (a consumer batch
        handles many events in one)."""
        cache: dict[str, list[_Subscriber]] = session.info.setdefault(_SUBSCRIBERS, {})
        if tenant_id not in cache:
            rows = await session.execute(
                select(WebhookEndpoint, WebhookSettings.allow_private_targets)
                .outerjoin(WebhookSettings, WebhookSettings.tenant_id == WebhookEndpoint.tenant_id)
                .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.enabled.is_(True))
            )
            cache[tenant_id] = [
                _Subscriber(endpoint.id, tuple(endpoint.event_types), _target(endpoint, allow))
                for endpoint, allow in rows.all()
            ]
        return cache[tenant_id]

    # --- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        writer = asyncio.create_task(self._write_outcomes(), name="webhook-outcomes")
        self._running = True
        try:
            while True:
                try:
                    claimed = await self.send_due()
                except Exception as exc:
                    if not is_transient_conflict(exc):
                        log.exception("webhooks.claim_failed")
                    claimed = 0
                if claimed < self.config.batch_size:
                    await self._idle()
        finally:
            self._running = False
            await cancel_all([*self._tasks, writer], within_s=_STOP_SENDS_WITHIN_S)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._write_remaining())

    async def _idle(self) -> None:
        """Wait until woken (a slot freed, deliveries queued) or the poll interval passes;
        then a moment more, so that one claim gathers what several wake-ups announced."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.config.poll_interval_s)
            await asyncio.sleep(_CLAIM_GATHER_S)
        self._wake.clear()

    async def send_due(self) -> int:
        """Claim what is due and start sending it; returns how many were claimed."""
        jobs = await self._claim()
        for job in jobs:
            self._start(job)
        return len(jobs)

    def _start(self, job: _Job) -> None:
        self._loads.held[job.endpoint_id] += 1
        task = asyncio.create_task(self._send(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Close the endpoints' connections (after ``run`` was cancelled)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def _claim(self) -> list[_Job]:
        now = self.clock()
        lease = new_id("lse")
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    _claim_statement(bool(full := self._loads.full())),
                    {
                        "full": full,
                        "now": now,
                        "until": now + timedelta(seconds=self.config.lease_s),
                        "lease": lease,
                        "quota": self.config.max_in_flight,
                        "batch": self.config.batch_size,
                        "window": self.config.batch_size * 4,
                    },
                )
            ).all()
            if not rows:
                return []
            found = await session.execute(
                select(WebhookEndpoint, WebhookSettings.allow_private_targets)
                .outerjoin(WebhookSettings, WebhookSettings.tenant_id == WebhookEndpoint.tenant_id)
                .where(WebhookEndpoint.id.in_({row.endpoint_id for row in rows}))
            )
            targets = {endpoint.id: _target(endpoint, allow) for endpoint, allow in found.all()}
            bodies = dict(
                (
                    await session.execute(
                        select(WebhookMessage.id, WebhookMessage.body).where(
                            WebhookMessage.id.in_({row.message_id for row in rows})
                        )
                    )
                ).all()
            )
        return [
            _Job(
                delivery_id=row.id,
                endpoint_id=row.endpoint_id,
                tenant_id=row.tenant_id,
                message_id=row.message_id,
                attempt=row.attempts + 1,
                step=row.attempts - row.retry_from,
                body=bodies[row.message_id],
                target=targets[row.endpoint_id],
                lease=lease,
            )
            for row in rows
        ]

    # --- sending -------------------------------------------------------------------------

    async def _send(self, job: _Job) -> None:
        outcome = None
        try:
            async with self._loads.slot(job.endpoint_id):
                if await self._loads.turn(
                    job.endpoint_id, deadline=job.leased_at + self.config.start_within_s
                ):
                    outcome = await self._post(job)
        finally:
            self._loads.held[job.endpoint_id] -= 1
            if self._loads.held[job.endpoint_id] == self._loads.cap - 1:
                self.wake()
        if outcome is None:
            log.info("webhooks.lease_ran_out", delivery_id=job.delivery_id)
            return
        WEBHOOK_ATTEMPTS.labels("ok" if outcome.ok else "failed").inc()
        self._loads.answered(job.endpoint_id, outcome.ok)
        self._outcomes.append(outcome)
        self._outcome_ready.set()

    def _client(self, endpoint_id: str) -> httpx.AsyncClient:
        if self._shared_client is not None:
            return self._shared_client
        client = self._clients.get(endpoint_id)
        if client is None:
            transport = AiohttpTransport(max_connections=self.config.max_in_flight)
            client = self._clients[endpoint_id] = httpx.AsyncClient(
                transport=transport, trust_env=False
            )
        return client

    def _signer(self, target: _Target, now: datetime) -> Signer:
        """The endpoint's signer (both secrets during a rotation), opened once per
        version of the endpoint."""
        rotating = target.previous_until is not None and target.previous_until > now
        version = (target.version, rotating)
        known = self._signers.get(target.endpoint_id)
        if known is not None and known[0] == version:
            return known[1]
        secrets_ = [self.box.open(target.secret)["secret"]]
        if rotating and target.previous_secret is not None:
            secrets_.append(self.box.open(target.previous_secret)["secret"])
        signer = Signer(secrets_)
        self._signers[target.endpoint_id] = (version, signer)
        return signer

    async def _post(self, job: _Job) -> _Outcome:
        at = self.clock()
        started = time.perf_counter()
        status_code: int | None = None
        response_text = error = ""
        retry_after: float | None = None
        try:
            async with asyncio.timeout(self.config.timeout_s):
                target = await pin(job.target.url, allow_private=job.target.allow_private)
                headers = {
                    "content-type": "application/json",
                    "user-agent": _USER_AGENT,
                    **target.headers,
                    **self._signer(job.target, at).headers(job.message_id, at, job.body),
                }
                async with self._client(job.endpoint_id).stream(
                    "POST",
                    target.url,
                    content=job.body,
                    headers=headers,
                    extensions=target.extensions,
                    follow_redirects=False,
                ) as response:
                    status_code = response.status_code
                    retry_after = retry_after_s(response.headers.get("retry-after"), at)
                    response_text = await _start_of(response)
        except ChannelhubError as exc:
            error = exc.detail
        except TimeoutError:
            error = f"no complete answer within {self.config.timeout_s:g} s"
        except OSError as exc:
            error = f"cannot reach the endpoint: {exc}"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency = time.perf_counter() - started
        WEBHOOK_LATENCY.observe(latency)
        return _Outcome(
            job=job,
            at=at,
            status_code=status_code,
            latency_ms=round(latency * 1000),
            response=_printable(response_text),
            error=_printable(error),
            retry_after_s=retry_after,
        )

    # --- writing outcomes ----------------------------------------------------------------

    async def _write_outcomes(self) -> None:
        while True:
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            try:
                await self._write_remaining()
            except Exception:
                log.exception("webhooks.outcomes_not_written", waiting=len(self._outcomes))
                await asyncio.sleep(self.config.poll_interval_s)
                self._outcome_ready.set()

    async def drain(self) -> None:
        """Wait until everything started has been sent and written down."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._write_remaining()

    async def _write_remaining(self) -> None:
        """Write what is waiting, in one transaction; if that fails for anything but an
        unreachable database, one by one, so that one bad outcome cannot hold up the
        rest (one that still fails is dropped: its lease runs out and it is sent again)."""
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                await self._write(batch)
            except Exception as exc:
                if is_connection_error(exc):
                    self._outcomes = batch + self._outcomes
                    raise
                log.warning("webhooks.outcomes_written_one_by_one", error=str(exc)[:500])
                for outcome in batch:
                    try:
                        await self._write([outcome])
                    except Exception:
                        log.exception(
                            "webhooks.outcome_dropped", delivery_id=outcome.job.delivery_id
                        )

    async def _write(self, outcomes: list[_Outcome]) -> None:
        now = self.clock()
        async with self.db.transaction() as session:
            held = set(
                (
                    await session.execute(
                        select(WebhookDelivery.id, WebhookDelivery.lease)
                        .where(WebhookDelivery.id.in_([o.job.delivery_id for o in outcomes]))
                        .with_for_update()
                    )
                ).all()
            )
            mine = [o for o in outcomes if (o.job.delivery_id, o.job.lease) in held]
            if not mine:
                return
            await execute_core(
                session, _UPDATE_DELIVERY, [self._delivery_update(o, now) for o in mine]
            )
            await execute_core(session, _ATTEMPTS.insert(), [_attempt_row(o) for o in mine])
            succeeded = {o.job.endpoint_id for o in mine if o.ok}
            failed = {o.job.endpoint_id: o.at for o in mine if not o.ok}
            for endpoint_id in succeeded:
                failed.pop(endpoint_id, None)
            if succeeded:
                await session.execute(
                    update(WebhookEndpoint)
                    .where(
                        WebhookEndpoint.id.in_(succeeded),
                        WebhookEndpoint.failing_since.is_not(None),
                    )
                    .values(failing_since=None)
                    .execution_options(synchronize_session=False)
                )
            if failed:
                await self._note_failures(session, failed, now)

    def _delivery_update(self, outcome: _Outcome, now: datetime) -> dict[str, Any]:
        job = outcome.job
        values: dict[str, Any] = {
            "b_id": job.delivery_id,
            "b_lease": job.lease,
            "b_attempts": job.attempt,
            "b_code": outcome.status_code,
            "b_error": _summary(outcome),
            "b_updated": now,
        }
        if outcome.ok:
            return values | {
                "b_status": DeliveryStatus.delivered.value,
                "b_next": None,
                "b_delivered": outcome.at,
            }
        schedule = self.config.schedule_s
        if job.step >= len(schedule):
            return values | {
                "b_status": DeliveryStatus.failed.value,
                "b_next": None,
                "b_delivered": None,
            }
        wait = schedule[job.step] * random.uniform(1 - _JITTER, 1 + _JITTER)  # noqa: S311
        if outcome.retry_after_s is not None:
            wait = max(wait, min(outcome.retry_after_s, _MAX_RETRY_AFTER_S))
        return values | {
            "b_status": DeliveryStatus.pending.value,
            "b_next": now + timedelta(seconds=wait),
            "b_delivered": None,
        }

    async def _note_failures(
        self, session: AsyncSession, first_failed: dict[str, datetime], now: datetime
    ) -> None:
        """Start the failure clock of endpoints that were fine (at their first failed
        attempt); disable those whose clock has run past ``disable_after``."""
        for endpoint_id, at in first_failed.items():
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
                .values(failing_since=at)
                .execution_options(synchronize_session=False)
            )
        overdue = (
            await session.scalars(
                select(WebhookEndpoint)
                .where(
                    WebhookEndpoint.id.in_(first_failed),
                    WebhookEndpoint.enabled.is_(True),
                    WebhookEndpoint.failing_since <= now - self.config.disable_after,
                )
                .with_for_update()
            )
        ).all()
        for endpoint in overdue:
            endpoint.enabled = False
            endpoint.disabled_reason = (
                f"every attempt failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
            )
            endpoint.updated_at = now
            await session.flush()
            await record_event(
                session,
                ENDPOINT_DISABLED,
                tenant_id=endpoint.tenant_id,
                subject=endpoint.id,
                data=to_schema(endpoint, now),
                clock=lambda: now,
            )
            log.warning("webhooks.endpoint_disabled", endpoint_id=endpoint.id, url=endpoint.url)


def _attempt_row(outcome: _Outcome) -> dict[str, Any]:
    return {
        "id": new_id("wha"),
        "delivery_id": outcome.job.delivery_id,
        "endpoint_id": outcome.job.endpoint_id,
        "attempted_at": outcome.at,
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "response": outcome.response,
        "error": outcome.error,
    }


def _summary(outcome: _Outcome) -> str:
    if outcome.ok:
        return ""
    if outcome.status_code is not None:
        return f"HTTP {outcome.status_code}"
    return outcome.error


def _printable(text: str) -> str:
    """Without NUL characters, which no database stores in text the same way."""
    return text.replace("\x00", "\ufffd")


async def _start_of(response: httpx.Response) -> str:
    """The first kilobyte of the answer (read at most 64 KB, so a huge answer costs
    nothing; the rest is dropped with the connection)."""
    read = bytearray()
    async for chunk in response.aiter_bytes():
        read.extend(chunk)
        if len(read) >= _RESPONSE_READ:
            break
    return bytes(read[:_RESPONSE_KEPT]).decode("utf-8", "replace")


_UPDATE_DELIVERY = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("b_id"), _DELIVERIES.c.lease == bindparam("b_lease"))
    .values(
        status=bindparam("b_status"),
        attempts=bindparam("b_attempts"),
        next_attempt_at=bindparam("b_next"),
        last_status_code=bindparam("b_code"),
        last_error=bindparam("b_error"),
        updated_at=bindparam("b_updated"),
        delivered_at=bindparam("b_delivered"),
        lease=None,
    )
)
"""Run only for outcomes whose lease is still current (checked under a row lock in the
same transaction): a retry or replay in the meantime (which clears the lease) or a newer
claim makes a late outcome count for nothing."""


@functools.cache
def _claim_statement(leaving_out: bool) -> Any:
    """Lease up to ``batch`` due deliveries of enabled endpoints, at most ``quota`` per
    endpoint, first of each endpoint first; with ``leaving_out``, the endpoints in the
    ``full`` parameter are left out. Built once per shape, so claims reuse it. Only the
    ``window`` longest-due rows are ranked, so a claim costs the same whatever the backlog
    (an endpoint whose backlog fills the window fills its slots and is left out of the next
    claim, which then reaches the others). On PostgreSQL rows another sender has locked
    are skipped before ranking, so concurrent senders claim different rows; the repeated
    due check makes a row that a concurrent claim leased first drop out."""
    d = _DELIVERIES
    due = and_(d.c.status == DeliveryStatus.pending.value, d.c.next_attempt_at <= bindparam("now"))
    oldest = (
        select(d.c.id, d.c.endpoint_id, d.c.next_attempt_at)
        .join(_ENDPOINTS, _ENDPOINTS.c.id == d.c.endpoint_id)
        .where(due, _ENDPOINTS.c.enabled.is_(True))
        .order_by(d.c.next_attempt_at)
        .limit(bindparam("window"))
        .with_for_update(of=d, skip_locked=True)
    )
    if leaving_out:
        oldest = oldest.where(d.c.endpoint_id.not_in(bindparam("full", expanding=True)))
    window = oldest.subquery()
    ranked = select(
        window.c.id,
        window.c.next_attempt_at,
        func.row_number()
        .over(partition_by=window.c.endpoint_id, order_by=window.c.next_attempt_at)
        .label("rank"),
    ).subquery()
    chosen = (
        select(ranked.c.id)
        .where(ranked.c.rank <= bindparam("quota"))
        .order_by(ranked.c.rank, ranked.c.next_attempt_at)
        .limit(bindparam("batch"))
    )
    return (
        update(d)
        .where(d.c.id.in_(chosen), due)
        .values(next_attempt_at=bindparam("until"), lease=bindparam("lease"))
        .returning(
            d.c.id, d.c.endpoint_id, d.c.tenant_id, d.c.message_id, d.c.attempts, d.c.retry_from
        )
    )
