"""Event bus backends share one small interface; ``make_bus`` picks one from settings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from channelhub.platform.config import Settings
from channelhub.platform.events.envelope import EventEnvelope

Delivery = Callable[[Sequence[EventEnvelope]], Awaitable[object]]
"""Called with a batch of events (in bus order) delivered to a named subscription. It
returns after the consumer's transactions committed; if it raises, the batch must be
delivered again."""


class EventBus(Protocol):
    name: str

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise ``UnavailableError`` when the bus cannot take events."""

    async def publish(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Return once the bus holds every envelope durably (or raise)."""

    async def subscribe(self, subscription: str, delivery: Delivery) -> None:
        """Start delivering events to a durable, named subscription."""


class InProcessBus:
    """The embedded bus: delivery is a direct call to each subscription, in publish order.

    ``publish`` returns only after every subscription has handled (or durably recorded the
    failure of) each event, so the relay marks an event published only once nothing more
    can be lost by a crash: an unmarked event is simply published, and de-duplicated, again.
    """

    name = "in-process"

    def __init__(self) -> None:
        self._subscriptions: dict[str, Delivery] = {}

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        self._subscriptions.clear()

    async def ping(self) -> None:
        return None

    async def publish(self, envelopes: Sequence[EventEnvelope]) -> None:
        await asyncio.gather(*(deliver(envelopes) for deliver in self._subscriptions.values()))

    async def subscribe(self, subscription: str, delivery: Delivery) -> None:
        self._subscriptions[subscription] = delivery


def make_bus(settings: Settings) -> EventBus:
    if settings.uses_nats:
        from channelhub.platform.events.nats import JetStreamBus

        return JetStreamBus(settings)
    return InProcessBus()
