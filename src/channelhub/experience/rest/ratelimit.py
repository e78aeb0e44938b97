"""Rate limits for the doors that need no API key (a shopper looking an order up).

Counted by the `limits` library in memory (per process) by default, or in a shared store
(``CHANNELHUB_RATE_LIMIT_STORAGE_URL``, e.g. redis://) so that every process of a
deployment counts together. Counting lives outside the request's database transaction, so
a refused attempt still counts.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from channelhub.platform.errors import RateLimitedError

LOOKUP_PER_CLIENT = parse("10/minute")
"""Order look-ups one client address may try per minute."""
LOOKUP_PER_ORDER = parse("5/15minutes")
"""Look-ups of one order number, from anywhere, per quarter hour."""


class RateLimits:
    def __init__(self, storage_url: str) -> None:
        url = storage_url if storage_url.startswith("async+") else f"async+{storage_url}"
        self._limiter = MovingWindowRateLimiter(storage_from_string(url))

    async def hit(self, limit: RateLimitItem, *key: str) -> None:
        """Count one attempt; RateLimitedError when over ``limit``."""
        if await self._limiter.hit(limit, *key):
            return
        stats = await self._limiter.get_window_stats(limit, *key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimitedError(
            f"too many attempts; try again in {retry_after} s", retry_after_s=retry_after
        )
