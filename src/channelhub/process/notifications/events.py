from __future__ import annotations

from channelhub.platform.events.catalog import declare
from channelhub.process.notifications.schemas import Outcome

NOTIFICATION_SENT = declare(
    "notification.sent",
    context="notifications",
    description="A customer message (e-mail, SMS or push) was accepted for delivery.",
    data_model=Outcome,
)
NOTIFICATION_SUPPRESSED = declare(
    "notification.suppressed",
    context="notifications",
    description="A customer message was not sent, and why: the order moved on, no consent, "
    "the channel is not set up.",
    data_model=Outcome,
)
NOTIFICATION_FAILED = declare(
    "notification.failed",
    context="notifications",
    description="A customer message could not be delivered (refused, or retries exhausted).",
    data_model=Outcome,
)
