"""Stopping background work: a lost cancellation never keeps a component running, and
clean-up is never cut short by one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from structlog.testing import capture_logs

from channelhub.platform.tasks import cancel_all, finish_despite_cancellation


@dataclass
class LosesCancellations:
    """A worker loop whose cancellation gets lost ``times`` times, as a cancel racing
    ``asyncio.wait_for``'s completion does on Python 3.11."""

    times: int
    stopped: bool = False

    async def run(self) -> None:
        lost = 0
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if lost >= self.times:
                    self.stopped = True
                    raise
                lost += 1


async def test_a_task_that_lost_its_cancellation_is_cancelled_again() -> None:
    worker = LosesCancellations(times=3)
    tasks = [asyncio.create_task(worker.run(), name="worker")]
    await asyncio.sleep(0)

    await asyncio.wait_for(cancel_all(tasks, within_s=5), timeout=10)

    assert worker.stopped
    assert tasks == []


async def test_a_task_that_never_stops_is_named_and_left_behind() -> None:
    worker = LosesCancellations(times=10**9)
    stubborn = asyncio.create_task(worker.run(), name="stubborn")
    tasks = [stubborn]
    await asyncio.sleep(0)

    with capture_logs() as logs:
        await asyncio.wait_for(cancel_all(tasks, within_s=0.6), timeout=10)

    assert [(e["event"], e["tasks"]) for e in logs] == [("tasks.still_running", ["stubborn"])]
    assert not stubborn.done()
    worker.times = 0
    stubborn.cancel()
    await asyncio.wait([stubborn], timeout=5)
    assert worker.stopped


@dataclass
class SlowCleanUp:
    """A clean-up step (a rollback, say) that takes a while and must not be cut short."""

    release: asyncio.Event
    finished: bool = False

    async def run(self) -> str:
        await self.release.wait()
        self.finished = True
        return "rolled back"


async def test_clean_up_runs_to_its_end_however_often_its_task_is_cancelled() -> None:
    clean_up = SlowCleanUp(asyncio.Event())
    task = asyncio.create_task(finish_despite_cancellation(clean_up.run()))
    await asyncio.sleep(0)
    for _ in range(5):
        task.cancel()
        await asyncio.sleep(0)
    assert not task.done()

    clean_up.release.set()
    await asyncio.wait([task])

    assert clean_up.finished
    assert task.cancelled()


async def test_clean_up_gives_its_result_when_nobody_cancels() -> None:
    clean_up = SlowCleanUp(asyncio.Event())
    clean_up.release.set()

    assert await finish_despite_cancellation(clean_up.run()) == "rolled back"


async def test_a_deadline_passing_during_clean_up_still_ends_as_a_timeout() -> None:
    clean_up = SlowCleanUp(asyncio.Event())
    asyncio.get_running_loop().call_later(0.05, clean_up.release.set)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await finish_despite_cancellation(clean_up.run())

    assert clean_up.finished
