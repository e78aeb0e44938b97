"""ERP / WMS stock feeds: snapshots (absolute on hand) and deltas, as JSON or CSV.

A feed is POSTed to the connection's hook, signed per Standard Webhooks (``webhook-id``,
``webhook-timestamp``, ``webhook-signature`` with the connection's ``whsec_`` secret), so
any ERP can sign it with the official library. The kind of feed is the
``X-Feed-Type`` header: ``stock.snapshot`` (the default) or ``stock.delta``.

JSON: ``{"as_of": "...", "items": [{"sku", "location", "on_hand" | "delta"}]}``; CSV: a
header row with ``sku,location,on_hand`` (or ``delta``). ``location`` is the ERP's id for
the location (mapped by the connection) or our location code. Only locations the
connection owns on-hand stock for are changed; the rest are counted and ignored. A
snapshot sets each listed SKU x location absolutely; the ledger records the differences.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook, WebhookVerificationError

from channelhub.platform.clock import utc_now
from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.processor import Park
from channelhub.platform.inbox.store import Delivery, SignatureInvalid, body_digest
from channelhub.process.connections.service import ConnectionContext
from channelhub.process.inventory import schemas as stock
from channelhub.process.inventory import service as inventory
from channelhub.process.stores.repository import LocationRepository
from channelhub.systems.common import Api, header, json_body, timestamp

SNAPSHOT = "stock.snapshot"
DELTA = "stock.delta"
_BATCH = 5_000


class Receiver:
    name = "erp"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        wanted = {
            k: header(headers, k) for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
        }
        try:
            Webhook(secret).verify(body, wanted, json_parse=False)
        except (WebhookVerificationError, ValueError) as exc:
            raise SignatureInvalid(
                f"the Standard Webhooks signature does not verify: {exc}"
            ) from exc

    def identify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        topic = header(headers, "x-feed-type") or SNAPSHOT
        return Delivery(header(headers, "webhook-id") or body_digest(body), topic)


def _rows(record: InboxRecord) -> tuple[list[dict[str, Any]], str | None]:
    """(items, as_of) from a JSON or CSV body."""
    if "csv" in record.headers.get("content-type", ""):
        try:
            text = record.body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise Park(f"the CSV is not UTF-8: {exc}") from exc
        return list(csv.DictReader(io.StringIO(text))), record.headers.get("x-feed-as-of")
    payload = json_body(record)
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        raise Park('the feed needs {"items": [...]}')
    return payload["items"], payload.get("as_of")


class Erp:
    receiver = Receiver()

    async def handle(
        self, session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, api: Api
    ) -> str:
        if record.topic not in (SNAPSHOT, DELTA):
            raise Park(f"unsupported feed type {record.topic!r}: use {SNAPSHOT} or {DELTA}")
        items, as_of_text = _rows(record)
        as_of = timestamp(as_of_text) or record.received_at
        locations = await LocationRepository(session, ctx.tenant_id).resolve(
            sorted({str(item.get("location", "")) for item in items})
        )
        updates: list[stock.StockUpdate] = []
        not_owned = unknown_location = 0
        for line, item in enumerate(items, start=1):
            external = str(item.get("location", ""))
            mapped = ctx.location_for(external)
            location_id = (
                mapped.location_id if mapped else getattr(locations.get(external), "id", None)
            )
            if location_id is None:
                unknown_location += 1
                continue
            owner = ctx.external_for(location_id)
            if owner is None or not owner.owns_stock:
                not_owned += 1
                continue
            updates.append(_update(item, location_id, as_of, record.topic, line))
        applied = ignored = 0
        unknown_skus: list[str] = []
        for start in range(0, len(updates), _BATCH):
            batch = updates[start : start + _BATCH]
            known = await inventory.known_skus(session, ctx.tenant_id, [u.sku for u in batch])
            unknown_skus += [u.sku for u in batch if u.sku not in known]
            batch = [u for u in batch if u.sku in known]
            if not batch:
                continue
            result = await inventory.apply_updates(
                session,
                ctx.principal,
                stock.StockUpdateBatch(source=f"erp:{ctx.id}", updates=batch),
                clock=utc_now,
            )
            applied += result.applied
            ignored += result.ignored
        parts = [f"{record.topic}: {applied} applied, {ignored} older than what is applied"]
        if not_owned:
            parts.append(f"{not_owned} at locations this connection does not own")
        if unknown_location:
            parts.append(f"{unknown_location} at unknown locations")
        if unknown_skus:
            parts.append(f"{len(unknown_skus)} unknown SKUs ({', '.join(unknown_skus[:5])})")
        return "; ".join(parts)


def _update(
    item: Mapping[str, Any], location_id: str, as_of: Any, topic: str, line: int
) -> stock.StockUpdate:
    try:
        if topic == SNAPSHOT:
            return stock.StockUpdate(
                sku=str(item["sku"]),
                location=location_id,
                on_hand=int(item["on_hand"]),
                as_of=as_of,
            )
        # A delta changes what is there whenever it arrives: no as-of ordering applies.
        return stock.StockUpdate(
            sku=str(item["sku"]), location=location_id, on_hand_delta=int(item["delta"])
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise Park(f"item {line} is not a valid {topic} line: {exc}") from exc
