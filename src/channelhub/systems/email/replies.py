"""Sending agents' e-mail replies: threaded on the customer's message, from the mailbox it
arrived at, through the installation's SMTP server (``CHANNELHUB_SMTP_URL``)."""

from __future__ import annotations

from channelhub.platform.clock import utc_now
from channelhub.platform.db.database import Database
from channelhub.process.helpdesk import outgoing
from channelhub.process.notifications.transport import DeliveryError
from channelhub.systems.email.outbound import compose_reply, send
from channelhub.systems.notify import SmtpServer


async def send_replies(db: Database, smtp: SmtpServer | None) -> int:
    """Send the replies that are due; how many were sent."""
    async with db.transaction() as session:
        due = await outgoing.claim_due(session, utc_now())
    sent = 0
    for mail in due:
        error, retry = "", False
        if smtp is None:
            error = "no SMTP server is configured (CHANNELHUB_SMTP_URL)"
        else:
            try:
                message = compose_reply(
                    from_address=mail.from_address,
                    from_name=mail.from_name,
                    to=mail.to[0],
                    subject=mail.subject,
                    text=mail.text,
                    html=None,
                    in_reply_to=mail.in_reply_to,
                    references=mail.references,
                    message_id=mail.message_id,
                )
                await send(smtp, message)
            except DeliveryError as exc:
                error, retry = str(exc), exc.retry
            except ValueError as exc:
                error = f"the reply cannot be written: {exc}"
        async with db.transaction() as session:
            await outgoing.settle(session, mail, utc_now(), error=error, retry=retry)
        sent += not error
    return sent
