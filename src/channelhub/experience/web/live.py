"""Live order updates: a Server-Sent Events stream that pushes the order page's live part
whenever what it shows changes.

Every ``POLL_S`` the stream recomputes the order's ``CustomerStatus`` in a short read
session and compares its version with the last one sent. Polling, rather than listening
to the event bus, sees every change however it was made (another API process, a worker,
a job) and also what changes with the clock alone (a pickup store opening), at the cost
of one small read per open page every two seconds. A stream ends after ``MAX_AGE_S``;
the browser's EventSource reconnects by itself, sending the last version it got
(Last-Event-ID), so nothing is sent twice and nothing is missed.

Each open stream costs a status read every two seconds, so a process keeps at most
``portal_live_streams`` of them, and at most ``PER_ORDER`` for one order (a few tabs): one
order's cookie cannot hold the database's connections. A stream refused says so with a
429; the page still works, it just no longer updates by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import orjson

from channelhub.experience.web.views import OrderView

PER_ORDER = 3
POLL_S = 2.0
MAX_AGE_S = 300.0
KEEPALIVE_S = 20.0
RETRY_MS = 3000
"""How long the browser waits before reconnecting a stream that ended."""

Snapshot = Callable[[], Awaitable[tuple[OrderView, str]]]
"""Reads the order now: (its view, the live part rendered as HTML)."""


class LiveStreams:
    """The streams this process has open, by order."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._open: Counter[str] = Counter()

    def has_room(self, order_id: str) -> bool:
        return self._open.total() < self.most and self._open[order_id] < PER_ORDER

    @contextlib.contextmanager
    def slot(self, order_id: str) -> Iterator[bool]:
        """Holds a place for a stream of ``order_id`` while the block runs; yields False
        (and holds nothing) when the process or the order has no room left."""
        if not self.has_room(order_id):
            yield False
            return
        self._open[order_id] += 1
        try:
            yield True
        finally:
            self._open[order_id] -= 1
            if not self._open[order_id]:
                del self._open[order_id]


def _event(view: OrderView, html: str) -> bytes:
    data = orjson.dumps(
        {"code": view.status.code, "headline": view.status.headline, "html": html}
    ).decode()
    return f"id: {view.version}\nevent: status\ndata: {data}\n\n".encode()


async def stream(
    snapshot: Snapshot, seen: str, streams: LiveStreams, order_id: str
) -> AsyncIterator[bytes]:
    """The SSE body, holding its place in ``streams`` while it runs (empty when another
    stream took the last place since the request was let in: the browser comes back)."""
    with streams.slot(order_id) as held:
        if held:
            async for chunk in _events(snapshot, seen):
                yield chunk


async def _events(snapshot: Snapshot, seen: str) -> AsyncIterator[bytes]:
    """An event each time the order's version differs from ``seen`` (the version the page
    or the previous stream already shows). Comments say "up to date" when the first look
    finds nothing new, and keep proxies from closing an idle connection."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    started = last_sent = time.monotonic()
    view, html = await snapshot()
    if view.version == seen:
        yield b": up to date\n\n"
    while True:
        if view.version != seen:
            seen = view.version
            last_sent = time.monotonic()
            yield _event(view, html)
        elif time.monotonic() - last_sent >= KEEPALIVE_S:
            last_sent = time.monotonic()
            yield b": still here\n\n"
        if time.monotonic() - started >= MAX_AGE_S:
            return
        await asyncio.sleep(POLL_S)
        view, html = await snapshot()
