"""NATS JetStream bus: one stream for all channelhub subjects, durable pull consumers.

Publishing sets ``Nats-Msg-Id`` to the event id, so a relay that republishes after a crash
(published, not yet marked) is de-duplicated by the server within the duplicate window.
A message is acknowledged only after its consumer's transaction committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from channelhub.platform.config import Settings
from channelhub.platform.errors import UnavailableError
from channelhub.platform.events.bus import Delivery
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.tasks import cancel_all

log = structlog.get_logger(__name__)

_FETCH_BATCH = 100
_FETCH_WAIT_S = 1.0
_REDELIVER_DELAY_S = 5.0
_ACK_WAIT_S = 60.0


def _without_credentials(url: str) -> str:
    """The URL as it may be logged: user and password removed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


async def _log_error(error: Exception) -> None:
    log.warning("bus.nats_error", error=repr(error))


async def _log_disconnected() -> None:
    log.warning("bus.nats_disconnected")


async def _log_reconnected() -> None:
    log.info("bus.nats_reconnected")


class JetStreamBus:
    name = "nats-jetstream"

    def __init__(self, settings: Settings) -> None:
        self.url = settings.bus_url
        self.stream = settings.nats_stream
        self.prefix = settings.nats_subject_prefix
        self.duplicate_window = settings.nats_duplicate_window_s
        self.max_age = settings.outbox_retention_hours * 3600.0
        self.timeout = settings.health_timeout_s
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def subject_of(self, envelope: EventEnvelope) -> str:
        return f"{self.prefix}.{envelope.tenant}.{envelope.type}"

    async def connect(self) -> None:
        """Connect within the health timeout; once connected, reconnect without limit."""
        client = Client()
        try:
            await asyncio.wait_for(
                client.connect(
                    self.url,
                    connect_timeout=max(1, round(self.timeout)),
                    max_reconnect_attempts=-1,
                    name="channelhub",
                    error_cb=_log_error,
                    disconnected_cb=_log_disconnected,
                    reconnected_cb=_log_reconnected,
                ),
                self.timeout * 2,
            )
            self._nc = client
            self._js = client.jetstream(timeout=self.timeout * 5)
            await self._ensure_stream()
        except Exception as exc:
            await client.close()
            await self.close()
            where = _without_credentials(self.url)
            raise UnavailableError(f"NATS JetStream unreachable at {where}: {exc!r}") from exc

    async def _ensure_stream(self) -> None:
        """Create the stream when missing. An existing stream keeps the limits its operator
        set; only a duplicate window shorter than configured is widened."""
        js = self._jetstream()
        try:
            info = await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=[f"{self.prefix}.>"],
                    duplicate_window=self.duplicate_window,
                    max_age=self.max_age,
                )
            )
            return
        if (info.config.duplicate_window or 0) < self.duplicate_window:
            info.config.duplicate_window = self.duplicate_window
            await js.update_stream(info.config)

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise UnavailableError("the NATS bus is not connected")
        return self._js

    async def close(self) -> None:
        await cancel_all(self._tasks)
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        self._nc = self._js = None

    async def ping(self) -> None:
        if self._nc is None or not self._nc.is_connected:
            raise UnavailableError("NATS is not connected")
        try:
            await asyncio.wait_for(self._jetstream().account_info(), self.timeout)
        except Exception as exc:
            raise UnavailableError(f"JetStream does not answer: {exc!r}") from exc

    async def publish(self, envelopes: Sequence[EventEnvelope]) -> None:
        js = self._jetstream()
        await asyncio.gather(
            *(
                js.publish(
                    self.subject_of(envelope),
                    envelope.to_json(),
                    headers={"Nats-Msg-Id": envelope.id},
                )
                for envelope in envelopes
            )
        )

    async def subscribe(self, subscription: str, delivery: Delivery) -> None:
        config = ConsumerConfig(
            durable_name=subscription,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=_ACK_WAIT_S,
            max_ack_pending=_FETCH_BATCH * 10,
        )
        pull = await self._jetstream().pull_subscribe(
            f"{self.prefix}.>", durable=subscription, stream=self.stream, config=config
        )
        self._tasks.append(asyncio.create_task(self._consume(subscription, pull, delivery)))

    async def _consume(
        self, subscription: str, pull: JetStreamContext.PullSubscription, delivery: Delivery
    ) -> None:
        while True:
            try:
                messages = await self._fetch(pull)
            except NatsTimeoutError:
                continue
            except Exception:
                log.exception("bus.fetch_failed", subscription=subscription)
                await asyncio.sleep(_REDELIVER_DELAY_S)
                continue
            await self._deliver(subscription, messages, delivery)

    @staticmethod
    async def _fetch(pull: JetStreamContext.PullSubscription) -> list[Msg]:
        """Wait for the first message, then take exactly as many as are already waiting.

        A single ``fetch(batch)`` keeps collecting until the batch is full or its timeout
        ends, which holds a lone message back under light traffic. Asking for the number
        the consumer reports pending returns at once, so latency stays low when quiet and
        handlers still get full batches under load.
        """
        messages = await pull.fetch(1, timeout=_FETCH_WAIT_S)
        try:
            pending = min((await pull.consumer_info()).num_pending or 0, _FETCH_BATCH - 1)
            if pending:
                messages += await pull.fetch(pending, timeout=_FETCH_WAIT_S)
        except Exception:
            # Another worker took them, or the server is busy: hand over what we hold
            # rather than leave it unacknowledged until ack_wait.
            log.debug("bus.drain_skipped")
        return messages

    async def _deliver(self, subscription: str, messages: list[Msg], delivery: Delivery) -> None:
        """Hand a fetched batch over; acknowledge it only once its handling committed."""
        decoded: list[tuple[Msg, EventEnvelope]] = []
        for message in messages:
            try:
                decoded.append((message, EventEnvelope.from_json(message.data)))
            except ValueError:
                log.error(
                    "bus.undecodable_message", subscription=subscription, subject=message.subject
                )
                await message.term()
        if not decoded:
            return
        try:
            await delivery([envelope for _, envelope in decoded])
        except Exception:
            log.exception("bus.delivery_failed", subscription=subscription, events=len(decoded))
            for message, _ in decoded:
                await message.nak(delay=_REDELIVER_DELAY_S)
            return
        for message, _ in decoded:
            await message.ack()
