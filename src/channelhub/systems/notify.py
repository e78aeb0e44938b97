"""Sending customer messages: e-mail over SMTP, SMS and push through a provider's webhook.

E-mail goes to the installation's SMTP server (``CHANNELHUB_SMTP_URL``: a relay such as
Postfix, Amazon SES or Mailgun) with aiosmtplib; each message carries a Message-ID made
from its delivery id and, when it has one, RFC 8058 one-click unsubscribe headers.

SMS and push go to the provider URL each tenant configures, as JSON POSTed with Standard
Webhooks signatures (``webhook-id`` is the delivery id, so a provider can drop a repeat),
verifiable with the official ``standardwebhooks`` library and the tenant's secret.

Provider URLs get the same guard as webhook endpoints (``platform.webhooks.targets``): a
URL on a private, loopback or link-local network is refused when saved and again before
every request (the host is resolved, checked, and the request sent to the checked address),
unless the tenant's webhook policy allows private targets. Redirects are not followed and
proxies from the environment are not used. Nothing of a provider's answer is kept but its
status code and the message id it names.

Failures are sorted for the dispatcher: ``retry`` only when the message certainly did not
go (anything before the SMTP DATA command: connect, EHLO, STARTTLS, AUTH, a refused sender
or recipient; a 4xx reply to the message itself) or the provider can de-duplicate it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from channelhub.platform.clock import utc_now
from channelhub.platform.errors import ChannelhubError
from channelhub.platform.webhooks import service as webhooks
from channelhub.platform.webhooks import targets
from channelhub.process.notifications.transport import DeliveryError, Email, ProviderMessage

SCHEMES = {
    "smtp": (25, False, None),
    "smtp+starttls": (587, False, True),
    "smtps": (465, True, False),
}
"""URL scheme -> (default port, implicit TLS, STARTTLS: None = when the server offers it)."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None
    timeout_s: float

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float) -> SmtpServer:
        """``smtp://user:password@host:port`` (STARTTLS when offered),
        ``smtp+starttls://`` (STARTTLS required) or ``smtps://`` (TLS from the start)."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError("use smtp://, smtp+starttls:// or smtps://user:password@host:port")
        port, use_tls, start_tls = SCHEMES[parts.scheme]
        return cls(
            host=parts.hostname,
            port=parts.port or port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
            start_tls=start_tls,
            timeout_s=timeout_s,
        )


def single_address(value: str) -> str:
    """``value`` if it is exactly one bare e-mail address (``local@domain``), else
    ValueError: a comma, a display name, a group or a second address would add recipients."""
    if any(c in value for c in ',;<>()"\\:') or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not a single e-mail address")
    try:
        address = Address(addr_spec=value)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise ValueError(f"{value!r} is not a single e-mail address") from exc
    if address.addr_spec != value or not address.username or "." not in address.domain:
        raise ValueError(f"{value!r} is not a single e-mail address")
    return value


def mime(email: Email) -> EmailMessage:
    """The message. ``Content-Language`` is set last: setting the content moves every
    ``Content-*`` header onto the body part, where mail clients do not look for it."""
    message = EmailMessage()
    message["From"] = formataddr((email.sender_name, email.sender))
    message["To"] = single_address(email.to)
    message["Subject"] = email.subject
    message["Date"] = format_datetime(utc_now())
    domain = email.sender.rpartition("@")[2] or "channelhub"
    message["Message-ID"] = f"<{email.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    message["Content-Language"] = email.language
    return message


class _Smtp(aiosmtplib.SMTP):
    """aiosmtplib's client, noting when the DATA command starts: a failure before it
    certainly sent nothing, a failure after it may have (the server may have the message)."""

    data_started = False

    async def data(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        self.data_started = True
        return await super().data(*args, **kwargs)


async def send_message(
    server: SmtpServer,
    message: EmailMessage,
    *,
    sender: str | None = None,
    recipients: list[str] | None = None,
    deadline_s: float,
) -> str:
    """Hand ``message`` to ``server``; returns the server's reply. The envelope's sender and
    recipients default to the message's headers. ``deadline_s`` bounds the whole SMTP
    conversation. A failure is a ``DeliveryError`` whose ``retry`` says whether the message
    certainly did not go (see the module's docstring)."""
    client = _Smtp(
        hostname=server.host,
        port=server.port,
        username=server.username,
        password=server.password,
        use_tls=server.use_tls,
        start_tls=server.start_tls,
        timeout=server.timeout_s,
    )
    try:
        async with asyncio.timeout(deadline_s):
            await client.connect()
            try:
                _, reply = await client.send_message(message, sender=sender, recipients=recipients)
            finally:
                client.close()
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [refused.code for refused in exc.recipients]
        raise DeliveryError(
            f"the SMTP server refused the recipient ({', '.join(map(str, codes))})",
            retry=all(400 <= code < 500 for code in codes),
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        # A reply, before or after the message: the server says it did not take it.
        raise DeliveryError(
            f"the SMTP server answered {exc.code} {exc.message}",
            retry=400 <= exc.code < 500 or not client.data_started,
        ) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        detail = str(exc) or type(exc).__name__
        if client.data_started:
            # Lost while the server had the message: it may have taken it. Not retried.
            raise DeliveryError(
                f"the SMTP server went silent mid-send; outcome unknown: {detail}",
                retry=False,
            ) from exc
        # Connect, EHLO, STARTTLS, AUTH, MAIL, RCPT: nothing was handed over yet.
        raise DeliveryError(f"cannot reach the SMTP server: {detail}", retry=True) from exc
    return reply


class Notifier:
    """The notifications context's ``Transport``.

    ``http`` must not follow redirects nor read proxies from the environment
    (``trust_env=False``): the hub gives it a client of its own. ``deadline_s`` bounds a
    whole SMTP conversation or provider request, so one slow server cannot hold the
    dispatcher."""

    def __init__(
        self, http: httpx.AsyncClient, smtp: SmtpServer | None, *, deadline_s: float = 60.0
    ) -> None:
        self.http = http
        self.smtp = smtp
        self.deadline_s = deadline_s

    def email_unavailable(self) -> str | None:
        if self.smtp is None:
            return "no SMTP server is configured (CHANNELHUB_SMTP_URL)"
        return None

    async def allows_private(self, session: AsyncSession, tenant_id: str) -> bool:
        return await webhooks.allows_private(session, tenant_id)

    async def check_provider_url(
        self, session: AsyncSession, tenant_id: str, url: str, *, field: str
    ) -> None:
        allow_private = await webhooks.allows_private(session, tenant_id)
        await targets.check_target(url, allow_private=allow_private, field=field)

    async def send_email(self, email: Email) -> str:
        if self.smtp is None:
            raise DeliveryError("no SMTP server is configured", retry=False)
        try:
            message = mime(email)
        except ValueError as exc:
            raise DeliveryError(f"the message cannot be written: {exc}", retry=False) from exc
        return await send_message(
            self.smtp,
            message,
            sender=email.sender,
            recipients=[email.to],
            deadline_s=self.deadline_s,
        )

    async def post(self, message: ProviderMessage) -> str:
        body = orjson.dumps(message.payload).decode()
        now = utc_now()
        try:
            signature = Webhook(message.secret).sign(message.id, now, body)
        except Exception as exc:
            raise DeliveryError(f"the provider secret is unusable: {exc}", retry=False) from exc
        try:
            async with asyncio.timeout(self.deadline_s):
                target = await targets.pin(message.url, allow_private=message.allow_private)
                headers = {
                    "content-type": "application/json",
                    **target.headers,
                    "webhook-id": message.id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signature,
                }
                async with self.http.stream(
                    "POST",
                    target.url,
                    content=body,
                    headers=headers,
                    extensions=target.extensions,
                    follow_redirects=False,
                ) as response:
                    start = await _start_of(response) if response.is_success else b""
        except ChannelhubError as exc:
            # The URL now points somewhere it may not (a changed DNS record).
            raise DeliveryError(f"the provider URL is refused: {exc.detail}", retry=False) from exc
        except (httpx.HTTPError, OSError, TimeoutError) as exc:
            # Safe to retry even if it arrived: the provider sees the same webhook-id.
            reason = str(exc) or type(exc).__name__
            raise DeliveryError(f"cannot reach the provider: {reason}", retry=True) from exc
        if response.is_success:
            return _message_id(start)
        retry = response.status_code == 429 or response.status_code >= 500
        # The answer's body is not kept: it is the provider's (or, for a URL that was
        # turned against us, someone else's) and is none of the customer history's business.
        raise DeliveryError(f"the provider answered {response.status_code}", retry=retry)


_ANSWER_KEPT = 16_384
"""Bytes of a provider's answer read to find its message id; the rest is not read."""


async def _start_of(response: httpx.Response) -> bytes:
    read = b""
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= _ANSWER_KEPT:
            break
    return read[:_ANSWER_KEPT]


def _message_id(answer: bytes) -> str:
    """The provider's id for the message, when its answer names one (``{"id": ...}``): a
    string or number of printable characters, at most 255; anything else is not kept."""
    try:
        found: Any = json.loads(answer)
    except ValueError:
        return ""
    value = found.get("id") if isinstance(found, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    text = str(value)
    return text if len(text) <= 255 and text.isprintable() else ""
