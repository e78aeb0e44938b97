"""An endpoint's pause and ramp-up, on a clock the tests move: a receiver that is down
gets one probe per pause, and one that is back gets its backlog as a rising stream."""

from __future__ import annotations

import heapq
import math

from channelhub.platform.webhooks.pacing import Booking, EndpointLoads


def tripped(now: list[float]) -> EndpointLoads:
    """An endpoint ``we_down`` that has just failed five times in a row (paused 5 s), on a
    clock the test moves."""
    loads = EndpointLoads(cap=8, pause_s=5.0, clock=lambda: now[0])
    for _ in range(5):
        loads.answered("we_down", ok=False)
    return loads


def goes_now(loads: EndpointLoads, endpoint_id: str = "we_down") -> bool:
    booking = loads.book(endpoint_id, deadline=math.inf)
    assert booking is not None
    return booking.at == loads.clock() and loads.holds(endpoint_id, booking)


def senders(
    loads: EndpointLoads, now: list[float], *, seconds: float
) -> tuple[list[float], list[float]]:
    """Eight held requests for ``we_down``, each waiting as ``EndpointLoads.turn`` does
    and, once sent, followed by the next (a backlog that never ends; a send takes 0.1 ms).
    Returns when each request went, and when one woke up and could not go."""
    queue: list[tuple[float, int, Booking | None]] = [(now[0], lane, None) for lane in range(8)]
    sent: list[float] = []
    woken: list[float] = []
    end = now[0] + seconds
    while queue[0][0] < end:
        now[0], lane, booking = heapq.heappop(queue)
        if booking is not None and loads.holds("we_down", booking):
            sent.append(now[0])
            heapq.heappush(queue, (now[0] + 0.0001, lane, None))
            continue
        if booking is not None:
            woken.append(now[0])
        booking = loads.book("we_down", deadline=math.inf)
        assert booking is not None
        heapq.heappush(queue, (max(booking.at, now[0]), lane, booking))
    return sent, woken


def test_an_endpoint_back_from_a_pause_is_probed_then_gets_its_backlog_as_a_rising_stream() -> None:
    now = [100.0]
    loads = tripped(now)
    assert loads.full() == ["we_down"]
    booking = loads.book("we_down", deadline=math.inf)
    assert booking is not None
    assert booking.at == 105.0, "no attempt during the pause"
    assert goes_now(loads, "we_other"), "the others are not held"

    now[0] = 105.0
    assert loads.full() == []
    sent, _ = senders(loads, now, seconds=3)
    assert sent == [105.0], "one probe, and nothing more until it is answered"

    loads.answered("we_down", ok=True)
    start = now[0]
    sent, woken = senders(loads, now, seconds=22)
    per_second = [sum(1 for at in sent if start + s <= at < start + s + 1) for s in range(22)]
    assert 4 <= per_second[0] <= 7, per_second
    assert per_second[:20] == sorted(per_second[:20]), "the rate only rises"
    assert 2_500 < per_second[19] < 5_000, "doubled every 2 s for 20 s"
    assert per_second[21] > 50_000, "and then no limit"
    assert len(woken) <= 8, "each waiting request wakes once, at its turn"


def test_an_endpoint_failing_its_probe_is_paused_again_and_probed_again() -> None:
    now = [0.0]
    loads = tripped(now)
    now[0] = 5.0
    assert goes_now(loads), "the probe"
    loads.answered("we_down", ok=False)
    booking = loads.book("we_down", deadline=math.inf)
    assert booking is not None
    assert booking.at == 10.0
    assert not booking.booked
    now[0] = 10.0
    assert goes_now(loads), "a new probe"
    assert not goes_now(loads), "and only the probe"


def test_a_turn_booked_before_a_new_pause_does_not_stand() -> None:
    now = [0.0]
    loads = tripped(now)
    now[0] = 5.0
    assert goes_now(loads)
    loads.answered("we_down", ok=True)
    booking = loads.book("we_down", deadline=math.inf)
    assert booking is not None
    assert booking.booked
    assert booking.at > now[0]
    for _ in range(5):
        loads.answered("we_down", ok=False)
    now[0] = booking.at
    assert not loads.holds("we_down", booking)


async def test_a_held_request_whose_lease_would_run_out_first_gives_up_its_turn() -> None:
    now = [0.0]
    loads = tripped(now)
    assert await loads.turn("we_down", deadline=4.0) is False, "the pause outlasts it"
    now[0] = 6.0
    assert await loads.turn("we_down", deadline=5.0) is False, "too late already"
    assert await loads.turn("we_down", deadline=30.0) is True, "the probe was left for it"
    assert not goes_now(loads)
