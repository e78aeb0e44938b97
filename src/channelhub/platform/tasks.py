"""Background asyncio tasks owned by a long-lived component."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")


_GRACE_S = 2.0
_RECANCEL_EVERY_S = 0.25


async def finish_despite_cancellation(step: Awaitable[T]) -> T:
    """Await ``step`` to its end even if the calling task is cancelled meanwhile, however
    often, and only then give in to the cancellation.

    For clean-up that must not be cut short (a rollback, returning a connection to its
    pool): a shutdown cancels a busy task and, when its clean-up is slow, cancels it again
    (see ``cancel_all``); a plain ``asyncio.shield`` protects against the first cancel only.
    """
    finishing = asyncio.ensure_future(step)
    cancellation: asyncio.CancelledError | None = None
    while not finishing.done():
        try:
            await asyncio.shield(finishing)
        except asyncio.CancelledError as exc:
            cancellation = exc
    if cancellation is not None:
        if not finishing.cancelled():
            finishing.exception()  # retrieved: the cancellation is what the caller sees
        raise cancellation
    return finishing.result()


async def cancel_all(tasks: list[asyncio.Task[None]], *, within_s: float = 15.0) -> None:
    """Cancel every task, wait until each has finished, and empty the list.

    A cancellation can be lost on Python 3.11 (``asyncio.wait_for`` returns the inner
    result when it completes in the same loop pass as the cancel), which would leave a
    ``while True`` worker running for ever; so tasks still running after a grace period
    (for the clean-up in their ``finally``) are cancelled again every quarter second.
    Those still running after ``within_s`` are named in a warning and left to the loop's
    shutdown, so that one stuck task cannot hold a process from stopping.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    pending = {task for task in tasks if not task.done()}
    wait_s = _GRACE_S
    while pending:
        for task in pending:
            task.cancel()
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.warning("tasks.still_running", tasks=sorted(t.get_name() for t in pending))
            break
        _, pending = await asyncio.wait(pending, timeout=min(remaining, wait_s))
        wait_s = _RECANCEL_EVERY_S
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("tasks.ended_with_error", task=task.get_name(), error=str(task.exception()))
    tasks.clear()


async def work_while_due(
    step: Callable[[], Awaitable[int]],
    wake: asyncio.Event,
    *,
    poll_interval_s: float,
    failure_event: str,
) -> None:
    """Run ``step`` (one batch of due work; returns how much it did) again at once while it
    finds work; otherwise wait until ``wake`` is set or ``poll_interval_s`` passes. A
    failing step is logged as ``failure_event`` and the loop goes on (the database may be
    back next time)."""
    while True:
        wake.clear()
        try:
            done = await step()
        except Exception as exc:
            log.warning(failure_event, error=str(exc))
            done = 0
        if done:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), poll_interval_s)
