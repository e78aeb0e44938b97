"""What the notifications context needs from the outside: something that sends e-mail and
posts to SMS/push providers. The systems layer implements it (``systems/notify.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class Email:
    id: str
    """The delivery id; also the Message-ID's local part."""
    sender: str
    sender_name: str
    reply_to: str
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    """One-click unsubscribe (RFC 8058 List-Unsubscribe), empty for none."""
    language: str


@dataclass(frozen=True)
class ProviderMessage:
    id: str
    """The delivery id, sent as ``webhook-id`` so the provider can drop a repeat."""
    url: str
    secret: str
    payload: dict[str, Any]
    allow_private: bool = False
    """The tenant's webhook policy allows private network targets (checked per request)."""


class DeliveryError(Exception):
    """Sending failed. ``retry``: it certainly did not go out and may work later (a refused
    connection, a 4xx SMTP reply, a provider's 5xx); otherwise it is final."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class ProviderTargets(Protocol):
    """Where a tenant may have its SMS and push messages POSTed: the same policy as its
    webhooks (public hosts only, unless an admin allowed private networks)."""

    async def allows_private(self, session: AsyncSession, tenant_id: str) -> bool:
        """Whether the tenant's webhook policy allows private network targets."""

    async def check_provider_url(
        self, session: AsyncSession, tenant_id: str, url: str, *, field: str
    ) -> None:
        """Refuse (an ``InvalidError`` on ``field``) a provider URL the tenant may not use."""


class Transport(ProviderTargets, Protocol):
    def email_unavailable(self) -> str | None:
        """Why e-mail cannot be sent from this installation, or None when it can."""

    async def send_email(self, email: Email) -> str:
        """Hand the e-mail to the SMTP server; returns its reply (its reference)."""

    async def post(self, message: ProviderMessage) -> str:
        """POST to an SMS or push provider; returns the provider's message id, if any."""
