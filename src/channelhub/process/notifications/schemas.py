"""What the notifications APIs take and return."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, time
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from channelhub.platform.i18n import SUPPORTED
from channelhub.process.orders.schemas import Email
from channelhub.process.orders.timeline import NoticeKind

_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{32,}={0,2}$")


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    push = "push"


class DeliveryStatus(StrEnum):
    deferred = "deferred"
    """Waiting: for the end of SMS quiet hours, or to retry after a transient failure."""
    sending = "sending"
    sent = "sent"
    suppressed = "suppressed"
    failed = "failed"


def phone_key(value: str) -> str:
    """A phone number as consents key it, the same for a consent and an order's number:
    digits and a leading +, nothing else, the international prefix 00 written as +
    ("00351 912-345-678", "+351 912 345 678" and "+351912345678" are one number)."""
    key = re.sub(r"[\s().\-/]", "", value)
    return f"+{key[2:]}" if key.startswith("00") else key


def contact_key(channel: Channel, value: str) -> str:
    """How a consent names the customer on ``channel``: the phone number for SMS, the
    e-mail address (lower case) for e-mail and push."""
    return phone_key(value) if channel is Channel.sms else value.strip().lower()


def _language(value: str) -> str:
    if value not in SUPPORTED:
        raise ValueError(f"must be one of {', '.join(SUPPORTED)}")
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not an IANA time zone, e.g. Europe/Lisbon") from exc
    return value


def _url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value


TemplateLanguage = Annotated[
    str,
    Field(description="en, pt, es, it or cs.", examples=["pt"]),
    AfterValidator(_language),
]
TimeZone = Annotated[
    str,
    Field(max_length=64, description="IANA time zone of the quiet hours.", examples=["UTC"]),
    AfterValidator(_timezone),
]
Url = Annotated[str, Field(min_length=8, max_length=2048), AfterValidator(_url)]


# --- settings ---------------------------------------------------------------------------


class Provider(BaseModel):
    """An SMS or push provider as the API shows it: the secret is never shown."""

    url: str = Field(description="Where messages are POSTed (Standard Webhooks signed JSON).")
    secret_set: bool = Field(description="Whether a signing secret is stored.")


class ProviderUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="Where to POST each message (https in production).")
    secret: str | None = Field(
        None,
        description="The Standard Webhooks signing secret the provider verifies with "
        "(whsec_ + base64, at least 24 bytes). Write-only; omit to keep the stored one.",
    )

    @field_validator("secret")
    @classmethod
    def _whsec(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET.match(value):
            raise ValueError("must be whsec_ followed by base64 of at least 24 bytes")
        return value


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: time = Field(description="Local time SMS stop (e.g. 21:00).")
    end: time = Field(description="Local time SMS may go again (e.g. 08:00; may be next day).")
    timezone: TimeZone = "UTC"

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give a local time without offset; the zone is `timezone`")
        return value


class NotificationSettings(BaseModel):
    email_from: str | None = Field(description="Sender address of e-mails; null: no e-mails.")
    email_from_name: str = Field(description="Sender name; empty: the order's brand name.")
    reply_to: str | None = Field(description="Where customers' replies go; null: the sender.")
    order_page_url: str | None = Field(
        description="The shop's order page, with {token} for the signed order token; null: "
        "messages carry no order link."
    )
    sms: Provider | None = Field(description="The SMS provider; null: no SMS.")
    push: Provider | None = Field(description="The push provider; null: no push.")
    sms_requires_opt_in: bool = Field(
        description="SMS only to customers who opted in (true), or to all who did not opt out."
    )
    push_requires_opt_in: bool = Field(description="The same for push notifications.")
    quiet_hours: QuietHours | None = Field(
        description="When no SMS is sent; one due then waits for the end, then is re-checked."
    )
    updated_at: datetime | None = Field(description="Last change (UTC); null: never set.")


class NotificationSettingsUpdate(BaseModel):
    """The whole settings (PUT replaces them); a provider given without `secret` keeps the
    secret stored for it."""

    model_config = ConfigDict(extra="forbid")

    email_from: Email | None = Field(None, description="Sender address; null: no e-mails.")
    email_from_name: str = Field("", max_length=200, description="Sender name.")
    reply_to: Email | None = Field(None, description="Reply-To address.")
    order_page_url: str | None = Field(
        None,
        max_length=1000,
        description="The shop's order page with {token}, e.g. "
        "https://shop.example.com/order?token={token}.",
    )
    sms: ProviderUpdate | None = Field(None, description="SMS provider; null removes it.")
    push: ProviderUpdate | None = Field(None, description="Push provider; null removes it.")
    sms_requires_opt_in: bool = Field(True, description="SMS only after an explicit opt-in.")
    push_requires_opt_in: bool = Field(True, description="Push only after an explicit opt-in.")
    quiet_hours: QuietHours | None = Field(None, description="SMS quiet hours; null: none.")

    @field_validator("order_page_url")
    @classmethod
    def _token_placeholder(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _url(value)
        if "{token}" not in value:
            raise ValueError("must contain {token} where the order token goes")
        return value


# --- templates --------------------------------------------------------------------------


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(
        "",
        max_length=1000,
        description="Jinja2 template of the e-mail subject or push title (not for SMS).",
    )
    text: str = Field(
        min_length=1, max_length=20_000, description="Jinja2 template of the plain text."
    )
    html: str = Field(
        "",
        max_length=100_000,
        description="Jinja2 template of the HTML part (e-mail only; values are escaped).",
    )


class TemplateKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: NoticeKind = Field(description="Which notice it words.")
    channel: Channel = Field(description="email, sms or push.")
    language: TemplateLanguage
    brand_id: str | None = Field(
        None, max_length=40, description="Only for this brand (brd_...); null: every brand."
    )


class TemplateCreate(TemplateBody, TemplateKey):
    pass


class Template(TemplateCreate):
    id: str = Field(description="Template id (ntp_...).")
    version: int = Field(description="Increases with every change.")
    created_at: datetime = Field(description="When created (UTC).")
    updated_at: datetime = Field(description="Last change (UTC).")


class Preview(TemplateCreate):
    order_id: str | None = Field(
        None,
        max_length=40,
        description="Render with this order's status now; omit for a sample order.",
    )


class Rendered(BaseModel):
    subject: str = Field(description="The subject or push title.")
    text: str = Field(description="The plain text.")
    html: str = Field(description="The HTML part (empty for SMS and push).")


# --- consents and deliveries ------------------------------------------------------------


class ConsentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel = Field(description="email, sms or push.")
    contact: str = Field(
        min_length=3,
        max_length=254,
        description="The customer's e-mail address (email, push) or phone number (sms).",
    )
    subscribed: bool = Field(description="true: opted in; false: opted out.")
    source: str = Field(
        "api",
        min_length=1,
        max_length=64,
        description="Where the customer said so (checkout, call center, helpdesk...).",
    )

    @model_validator(mode="after")
    def _contact_fits_channel(self) -> ConsentUpdate:
        if self.channel is Channel.sms and not _PHONE.match(phone_key(self.contact)):
            raise ValueError("an SMS consent names a phone number, e.g. +351912345678")
        if self.channel is not Channel.sms and not _EMAIL.match(self.contact.strip()):
            raise ValueError(f"a {self.channel.value} consent names an e-mail address")
        return self


class Consent(BaseModel):
    id: str = Field(description="Consent id (ncs_...).")
    channel: Channel = Field(description="email, sms or push.")
    contact: str = Field(description="E-mail address (lower case) or phone number (digits).")
    subscribed: bool = Field(description="Opted in (true) or out (false).")
    source: str = Field(description="Where the customer said so.")
    updated_at: datetime = Field(description="When (UTC).")


class Delivery(BaseModel):
    """One notice on one channel: what was decided and why."""

    id: str = Field(description="Delivery id (ndl_...).")
    notice_id: str = Field(description="The order notice (ntc_...).")
    kind: NoticeKind = Field(description="Which notice.")
    channel: Channel = Field(description="email, sms or push.")
    status: DeliveryStatus = Field(
        description="deferred (quiet hours or a retry), sending, sent, suppressed or failed."
    )
    reason: str = Field(description="Why suppressed, failed or deferred.")
    recipient: str = Field(description="Where it went (address or phone).")
    language: str = Field(description="Language of the message.")
    subject: str = Field(description="Subject (e-mail) or title (push).")
    attempts: int = Field(description="Sending attempts so far.")
    next_attempt_at: datetime | None = Field(description="When a deferred one is tried again.")
    provider_message_id: str = Field(description="The SMTP server's or provider's reference.")
    sent_at: datetime | None = Field(description="When it was accepted for delivery (UTC).")
    created_at: datetime = Field(description="When first decided (UTC).")


class Outcome(BaseModel):
    """A decision about telling a customer something (event data)."""

    order_id: str = Field(description="The order.")
    notice_id: str = Field(description="The order notice (ntc_...).")
    kind: NoticeKind = Field(description="Which notice.")
    channel: Channel | None = Field(description="The channel; null: the notice as a whole.")
    delivery_id: str | None = Field(description="The delivery (ndl_...), if one was made.")
    status: str = Field(description="sent, suppressed or failed.")
    reason: str = Field(description="Why (empty when sent).")
    recipient: str = Field(description="Address or phone, if any.")
