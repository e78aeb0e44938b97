"""Reading an HTTP ``Retry-After`` answer (RFC 9110 10.2.3): delta-seconds or an HTTP date."""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime


def retry_after_s(value: str | None, now: datetime) -> float | None:
    """Seconds the header asks to wait, from ``now``; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
