"""Agents' replies to a customer's e-mail: written so the customer's mail client threads them
under the conversation, and sent through the installation's SMTP server as notifications
are (``systems.notify``)."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from channelhub.platform.clock import utc_now
from channelhub.systems.notify import SmtpServer, send_message, single_address

MAX_REFERENCES = 20
"""Ids kept in References: the thread's first and its latest ones. Mail clients trim the
middle the way RFC 5537 does for news; a long thread would otherwise outgrow what servers
accept in one header."""

_REPLY_PREFIX = re.compile(
    # Re (most languages), AW (German), Antw (Dutch), SV (Nordic), VS (Finnish), Odp
    # (Polish, Czech), YNT (Turkish), RES (Brazilian Portuguese), R and Rif (Italian);
    # forwards: Fwd/Fw, WG (German), TR (French), RV (Spanish), Enc (Portuguese).
    r"^(?:re|aw|antw|sv|vs|odp|ynt|res|rif|r|fwd?|wg|tr|rv|enc)\s*(?:\[\d+\])?\s*:",
    re.IGNORECASE,
)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def reply_subject(subject: str) -> str:
    """``Re: subject``, unless the subject already starts with a reply or forward prefix
    (in any of the common languages): a thread keeps one subject."""
    subject = " ".join(subject.split())
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}".rstrip()


def compose_reply(
    *,
    from_address: str,
    from_name: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    in_reply_to: str,
    references: list[str],
    message_id: str,
) -> EmailMessage:
    """The reply: threaded by In-Reply-To and References (the message's References plus the
    message itself), a plain-text part and, when ``html`` is given, an HTML alternative.
    ``message_id`` (``<id@domain>``) is the caller's, so a retried send keeps it. ValueError
    when an address is not a single bare address or an id is not ``<...>``."""
    message = EmailMessage()
    message["From"] = formataddr((from_name, single_address(from_address)))
    message["To"] = single_address(to)
    message["Subject"] = reply_subject(subject)
    message["Date"] = format_datetime(utc_now())
    message["Message-ID"] = _message_id(message_id)
    if in_reply_to:
        message["In-Reply-To"] = _message_id(in_reply_to)
    thread = [*references, in_reply_to] if in_reply_to else references
    thread = list(dict.fromkeys(_message_id(found) for found in thread))
    if len(thread) > MAX_REFERENCES:
        thread = [thread[0], *thread[-(MAX_REFERENCES - 1) :]]
    if thread:
        message["References"] = " ".join(thread)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send(server: SmtpServer, message: EmailMessage, *, deadline_s: float = 60.0) -> str:
    """Send ``message`` to its To address from its From address; returns the server's
    reply. A failure is ``notifications.transport.DeliveryError``, whose ``retry`` says
    whether the message certainly did not go."""
    return await send_message(server, message, deadline_s=deadline_s)


def _message_id(value: str) -> str:
    if not _MESSAGE_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a message id (<id@domain>)")
    return value
