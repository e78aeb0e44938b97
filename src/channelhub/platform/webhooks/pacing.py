"""How fast each endpoint may be sent to, per process: its slots (requests held, waiting
or in flight), its pause after failing again and again, and its ramp-up after the pause.

After ``trip_after`` failures in a row an endpoint is paused for the retry schedule's
first wait: no new attempts, and the requests already held wait too. Then one request
probes it and nothing else goes until the probe is answered (a failure pauses it again).
From the probe's success the backlog follows at a rate that starts at 5/s and doubles
every 2 s, with no limit after 20 s. A receiver that is down thus costs a request per
pause instead of one per event, and its backlog comes back as a rising stream rather than
a burst that takes the CPU the other endpoints' deliveries need.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

PROBE_POLL_S = 0.05
"""How often requests held for an endpoint look whether its probe has been answered."""


@dataclass
class Ramp:
    """What an endpoint coming back from a pause may be sent. First one request, the probe,
    and nothing else until it is answered (a failure pauses the endpoint again). From the
    probe's success, ``first_rate`` requests a second, doubling every ``doubling_s``, so
    that a receiver that just recovered (and the hub's CPU, which the other endpoints
    share) gets its backlog as a rising stream rather than all at once.

    The rate ``t`` seconds after the probe's success is ``first_rate * 2 ** (t /
    doubling_s)``; what may have been sent by then is its integral, plus the probe. Turns
    are booked in order, so each waiting request wakes once, at its own."""

    since: float
    first_rate: float
    doubling_s: float
    probing: bool = True
    sent: int = 0
    """Turns booked, the probe's included."""

    def next_turn(self, now: float) -> float | None:
        """When the next request may go (``now`` at the earliest); None while the probe is
        out."""
        if self.probing:
            return None if self.sent else now
        scale = self.first_rate * self.doubling_s / math.log(2)
        return max(now, self.since + self.doubling_s * math.log2(1 + self.sent / scale))

    def probe_succeeded(self, now: float) -> None:
        self.probing = False
        self.since = now

    def over(self, now: float, ramp_s: float) -> bool:
        """Past ``ramp_s``: from the probe's success, or from the pause's end when nothing
        was sent since (an endpoint deleted or left idle is not remembered forever)."""
        idle = self.probing and not self.sent
        return (idle or not self.probing) and now - self.since >= ramp_s


@dataclass(frozen=True)
class Booking:
    """A request's place in its endpoint's queue: go at ``at`` if ``booked`` (in ``ramp``,
    if any, which must still be the endpoint's ramp then), else ask again at ``at``."""

    at: float
    booked: bool
    ramp: Ramp | None = None


@dataclass
class EndpointLoads:
    """Deliveries this process holds per endpoint (waiting for a slot or in flight), and
    the endpoints it pauses: after ``trip_after`` failures in a row an endpoint gets no new
    attempts for ``pause_s``, then is probed and ramped up again (see ``Ramp``) for
    ``ramp_s``. A receiver that is down thus costs a request per pause, not one per event,
    and neither its outage nor its recovery takes the CPU the other endpoints' deliveries
    need; its deliveries wait, due, and go when it is back."""

    cap: int
    pause_s: float = 0.0
    trip_after: int = 5
    ramp_first_rate: float = 5.0
    ramp_doubling_s: float = 2.0
    ramp_s: float = 20.0
    """Ten doublings: 5,120 requests a second, as good as no limit."""
    clock: Callable[[], float] = time.monotonic
    held: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    failures: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    paused_until: dict[str, float] = field(default_factory=dict)
    ramps: dict[str, Ramp] = field(default_factory=dict)

    def full(self) -> list[str]:
        """Endpoints not to claim for: their slots are full, or they are paused (and
        forgets pauses and ramps that are over)."""
        now = self.clock()
        for endpoint in [e for e, until in self.paused_until.items() if until <= now]:
            del self.paused_until[endpoint]
        for endpoint in [e for e, ramp in self.ramps.items() if ramp.over(now, self.ramp_s)]:
            del self.ramps[endpoint]
        return sorted(
            {endpoint for endpoint, count in self.held.items() if count >= self.cap}
            | set(self.paused_until)
        )

    def paused(self, endpoint_id: str) -> bool:
        return self.paused_until.get(endpoint_id, 0.0) > self.clock()

    def answered(self, endpoint_id: str, ok: bool) -> None:
        if ok:
            self.failures.pop(endpoint_id, None)
            self.paused_until.pop(endpoint_id, None)
            ramp = self.ramps.get(endpoint_id)
            if ramp is not None and ramp.probing:
                ramp.probe_succeeded(self.clock())
            return
        self.failures[endpoint_id] += 1
        if self.pause_s > 0 and self.failures[endpoint_id] >= self.trip_after:
            until = self.clock() + self.pause_s
            self.paused_until[endpoint_id] = until
            self.ramps[endpoint_id] = Ramp(until, self.ramp_first_rate, self.ramp_doubling_s)

    def book(self, endpoint_id: str, deadline: float) -> Booking | None:
        """A request's turn: at once when the endpoint is neither paused nor ramping up;
        None when it could not go by ``deadline`` (nothing is booked then)."""
        now = self.clock()
        wake = now
        until = self.paused_until.get(endpoint_id, 0.0)
        ramp = self.ramps.get(endpoint_id)
        if until > now:
            wake = until
        elif ramp is not None and ramp.over(now, self.ramp_s):
            del self.ramps[endpoint_id]
            ramp = None
        elif ramp is not None:
            at = ramp.next_turn(now)
            if at is None:
                wake = now + PROBE_POLL_S
            elif at <= deadline:
                ramp.sent += 1
                return Booking(at, booked=True, ramp=ramp)
            else:
                return None
        if wake > deadline:
            return None
        return Booking(wake, booked=wake == now and ramp is None)

    def holds(self, endpoint_id: str, booking: Booking) -> bool:
        """Whether a booked turn still stands (a pause since voids it)."""
        if not booking.booked or self.paused(endpoint_id):
            return False
        return booking.ramp is None or self.ramps.get(endpoint_id) is booking.ramp

    async def turn(self, endpoint_id: str, deadline: float) -> bool:
        """Wait for a request's turn; False if it could not go by ``deadline`` (it is then
        not sent at all)."""
        while (booking := self.book(endpoint_id, deadline)) is not None:
            if (delay := booking.at - self.clock()) > 0:
                await asyncio.sleep(delay)
            if self.holds(endpoint_id, booking):
                return True
        return False

    def slot(self, endpoint_id: str) -> asyncio.Semaphore:
        if endpoint_id not in self.slots:
            self.slots[endpoint_id] = asyncio.Semaphore(self.cap)
        return self.slots[endpoint_id]
