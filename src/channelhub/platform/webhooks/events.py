"""Event types of the webhooks machinery itself."""

from __future__ import annotations

from channelhub.platform.events.catalog import declare
from channelhub.platform.webhooks.schemas import Endpoint

ENDPOINT_DISABLED = declare(
    "endpoint.disabled",
    context="webhooks",
    description="A webhook endpoint failed for longer than the configured period and was "
    "disabled; its waiting deliveries are held until it is enabled again.",
    data_model=Endpoint,
)
