"""Standard Webhooks signatures (https://www.standardwebhooks.com): ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` of
``id.timestamp.body``), made with the official library so any receiver verifies with it.
During a secret rotation both secrets sign, space-separated, as the specification allows."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    """A 256-bit secret in the specification's ``whsec_<base64>`` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class Signer:
    """Signs with every secret given (the current one first)."""

    def __init__(self, secrets_: Sequence[str]) -> None:
        self._webhooks = [Webhook(secret) for secret in secrets_]

    def headers(self, message_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
        data = body.decode()
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": " ".join(
                webhook.sign(message_id, timestamp, data) for webhook in self._webhooks
            ),
        }
