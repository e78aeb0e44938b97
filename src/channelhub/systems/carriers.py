"""Carrier tracking: EasyPost, AfterShip and UPS Track Alert, into one vocabulary.

Each update names a tracking number; the shipment with that number gets a tracking event
in the normalised vocabulary, with the carrier's own code and words beside it. Ordering and
de-duplication are the order context's: a late scan is kept but never overwrites a newer
status. An update for a tracking number no shipment has (yet) is parked, and can be
replayed once the shipment exists.
"""

from __future__ import annotations

import hmac
import json
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.processor import Park
from channelhub.platform.inbox.store import Delivery, SignatureInvalid, body_digest
from channelhub.process.connections.service import ConnectionContext
from channelhub.process.orders import fulfilment
from channelhub.process.orders.schemas import TrackingEventCreate, TrackingStatus
from channelhub.systems.common import (
    Api,
    check_base64_hmac,
    check_shared_value,
    event_delivery,
    field,
    header,
    json_body,
    timestamp,
    unsupported,
)


async def _apply(
    session: AsyncSession,
    ctx: ConnectionContext,
    tracking_number: str,
    scan: TrackingEventCreate,
) -> str:
    shipment_id = await fulfilment.shipment_by_tracking(session, ctx.tenant_id, tracking_number)
    if shipment_id is None:
        raise Park(f"no shipment has tracking number {tracking_number!r} (yet)")
    shipment = await fulfilment.add_tracking_event(session, ctx.principal, shipment_id, scan)
    scanned = f"{scan.status.value} ({scan.carrier_code})"
    return f"{tracking_number}: {scanned}; shipment {shipment.status.value}"


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


# --- EasyPost ------------------------------------------------------------------------------

_EASYPOST = {
    "unknown": TrackingStatus.pending,
    "pre_transit": TrackingStatus.info_received,
    "in_transit": TrackingStatus.in_transit,
    "out_for_delivery": TrackingStatus.out_for_delivery,
    "available_for_pickup": TrackingStatus.available_for_pickup,
    "delivered": TrackingStatus.delivered,
    "return_to_sender": TrackingStatus.exception,
    "failure": TrackingStatus.exception,
    "cancelled": TrackingStatus.exception,
    "error": TrackingStatus.exception,
}


class EasyPostReceiver:
    name = "easypost"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        """``X-Hmac-Signature: hmac-sha256-hex=<hex>``: HMAC-SHA256 of the raw body keyed
        with the NFKD-normalised secret (as EasyPost's client libraries check it)."""
        given = header(headers, "x-hmac-signature").removeprefix("hmac-sha256-hex=")
        key = unicodedata.normalize("NFKD", secret).encode()
        expected = hmac.new(key, body, "sha256").hexdigest()
        if not given or not hmac.compare_digest(expected, given.strip().lower()):
            raise SignatureInvalid("the EasyPost signature is missing or does not match")

    def identify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        return event_delivery(body, "id", "description")


class EasyPost:
    receiver = EasyPostReceiver()

    async def handle(
        self, session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, api: Api
    ) -> str:
        if record.topic != "tracker.updated":
            raise unsupported(record.topic)
        tracker = field(json_body(record), "result")
        details = tracker.get("tracking_details") or [{}]
        last = details[-1]
        status = str(tracker.get("status", "unknown"))
        detail = str(tracker.get("status_detail") or "")
        mapped = _EASYPOST.get(status, TrackingStatus.in_transit)
        if detail == "expired":
            mapped = TrackingStatus.expired
        where = last.get("tracking_location") or {}
        scan = TrackingEventCreate(
            status=mapped,
            occurred_at=timestamp(last.get("datetime") or tracker.get("updated_at"))
            or record.received_at,
            carrier_code=f"{status}/{detail}" if detail else status,
            carrier_text=str(last.get("message") or ""),
            location=", ".join(str(where[k]) for k in ("city", "state", "country") if where.get(k)),
            estimated_delivery=_day(tracker.get("est_delivery_date")),
        )
        return await _apply(session, ctx, str(field(tracker, "tracking_code")), scan)


# --- AfterShip -----------------------------------------------------------------------------

_AFTERSHIP = {
    "Pending": TrackingStatus.pending,
    "InfoReceived": TrackingStatus.info_received,
    "InTransit": TrackingStatus.in_transit,
    "OutForDelivery": TrackingStatus.out_for_delivery,
    "AttemptFail": TrackingStatus.attempt_fail,
    "Delivered": TrackingStatus.delivered,
    "AvailableForPickup": TrackingStatus.available_for_pickup,
    "Exception": TrackingStatus.exception,
    "Expired": TrackingStatus.expired,
}


class AfterShipReceiver:
    name = "aftership"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        check_base64_hmac(secret, body, header(headers, "aftership-hmac-sha256"), "AfterShip")

    def identify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        return event_delivery(body, "event_id", "event")


class AfterShip:
    receiver = AfterShipReceiver()

    async def handle(
        self, session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, api: Api
    ) -> str:
        if record.topic != "tracking_update":
            raise unsupported(record.topic)
        event = json_body(record)
        tracking = field(event, "msg")
        tag = str(field(tracking, "tag"))
        if tag not in _AFTERSHIP:
            raise Park(f"unknown AfterShip tag {tag!r}")
        checkpoints = tracking.get("checkpoints") or [{}]
        last = checkpoints[-1]
        # Checkpoint times are the carrier's local time without an offset; AfterShip's
        # own time of the checkpoint (created_at) orders them reliably in UTC.
        occurred = timestamp(last.get("created_at")) or (
            datetime.fromtimestamp(event["ts"], UTC) if event.get("ts") else record.received_at
        )
        scan = TrackingEventCreate(
            status=_AFTERSHIP[tag],
            occurred_at=occurred,
            carrier_code=str(tracking.get("subtag") or tag),
            carrier_text=str(last.get("message") or tracking.get("subtag_message") or ""),
            location=str(last.get("location") or ""),
            estimated_delivery=_day(tracking.get("expected_delivery")),
        )
        return await _apply(session, ctx, str(field(tracking, "tracking_number")), scan)


# --- UPS Track Alert -----------------------------------------------------------------------


class UpsReceiver:
    name = "ups"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        """Track Alert echoes the credential given at subscription in ``credential``."""
        check_shared_value(secret, header(headers, "credential"), "UPS")

    def identify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        """UPS sends no event id: one scan is (number, UTC time, code)."""
        try:
            alert = json.loads(body)
            key = ":".join(
                str(alert.get(k, ""))
                for k in ("trackingNumber", "gmtActivityDate", "gmtActivityTime")
            )
            return Delivery(f"{key}:{alert['activityStatus'].get('code', '')}", "track_alert")
        except (ValueError, KeyError, TypeError, AttributeError):
            return Delivery(body_digest(body), "track_alert")


def _ups_status(alert: Mapping[str, Any]) -> TrackingStatus:
    activity = alert.get("activityStatus") or {}
    kind, code = activity.get("type"), activity.get("code")
    if kind == "D" and code == "FS":
        return TrackingStatus.delivered
    if code == "OT" or activity.get("descriptionCode") == "021":
        return TrackingStatus.out_for_delivery
    if kind == "M":
        return TrackingStatus.info_received
    if kind in ("MV", "X"):
        return TrackingStatus.exception
    if kind == "D":
        delivered = bool(alert.get("actualDeliveryDate"))
        return TrackingStatus.delivered if delivered else TrackingStatus.out_for_delivery
    return TrackingStatus.in_transit


def _ups_time(day: str, clock: str) -> datetime | None:
    try:
        return datetime.strptime(day + (clock or "000000"), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _ups_day(value: str) -> date | None:
    if len(value) == 8 and value.isdigit():
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    return None


class Ups:
    receiver = UpsReceiver()

    async def handle(
        self, session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, api: Api
    ) -> str:
        alert = json_body(record)
        activity = field(alert, "activityStatus")
        number = str(field(alert, "trackingNumber"))
        estimate = _ups_day(str(alert.get("scheduledDeliveryDate") or ""))
        if activity.get("type") == "U":
            # A new delivery estimate, not a scan: the status stays what it is.
            shipment_id = await fulfilment.shipment_by_tracking(session, ctx.tenant_id, number)
            if shipment_id is None:
                raise Park(f"no shipment has tracking number {number!r} (yet)")
            await fulfilment.set_estimate(session, ctx.principal, shipment_id, estimate)
            return f"{number}: delivery estimate {estimate}"
        where = alert.get("activityLocation") or {}
        scan = TrackingEventCreate(
            status=_ups_status(alert),
            occurred_at=_ups_time(
                str(alert.get("gmtActivityDate", "")), str(alert.get("gmtActivityTime", ""))
            )
            or record.received_at,
            carrier_code=f"{activity.get('type', '')}/{activity.get('code', '')}",
            carrier_text=str(activity.get("description") or ""),
            location=", ".join(
                str(where[k]) for k in ("city", "stateProvince", "country") if where.get(k)
            ),
            estimated_delivery=estimate,
        )
        return await _apply(session, ctx, number, scan)
