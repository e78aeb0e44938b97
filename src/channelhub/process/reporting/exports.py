"""BI exports: the hub's records as flat tables, CSV or Parquet, streamed.

Each dataset is one SELECT over the tenant's rows created in a time range, read in pages
of ``PAGE`` rows by id (keyset), each page in a read session of its own, so an export of
millions of rows holds neither a transaction nor the whole table in memory. Exports carry
no direct personal data: where analysts need to tell customers apart, the e-mail address
comes as a SHA-256 of its lower-cased form (``customer_email_sha256``), which joins across
datasets; it is a pseudonym, not anonymity (anyone holding the address can compute it).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.db.database import Database
from channelhub.platform.errors import InvalidError
from channelhub.process.helpdesk.models import Ticket
from channelhub.process.loyalty.models import LedgerEntry, LoyaltyMember
from channelhub.process.orders.models import Order
from channelhub.process.promotions.models import (
    Campaign,
    Redemption,
    RedemptionItem,
    Voucher,
)

PAGE = 5_000


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def email_key(email: str | None) -> str | None:
    """A stable pseudonym for an e-mail address: SHA-256 of its lower-cased form."""
    if not email:
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    value: Callable[[Any], Any]
    description: str


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda row: getattr(row, name)


def _col(
    name: str, kind: pa.DataType, description: str, value: Callable[[Any], Any] | None = None
) -> Column:
    return Column(name, kind, value or _attr(name), description)


TIME = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Dataset:
    name: str
    scope: str
    description: str
    columns: tuple[Column, ...]
    query: Callable[[str], Select[*tuple[Any, ...]]]
    """The tenant's rows; ``created`` and ``key`` below filter and page it."""
    created: Any
    key: Any

    def row_values(self, row: Any) -> list[Any]:
        return [column.value(row) for column in self.columns]


def _orders(tenant_id: str) -> Select[*tuple[Any, ...]]:
    return select(Order).where(Order.tenant_id == tenant_id)


def _tickets(tenant_id: str) -> Select[*tuple[Any, ...]]:
    return select(Ticket).where(Ticket.tenant_id == tenant_id)


def _vouchers(tenant_id: str) -> Select[*tuple[Any, ...]]:
    return select(Voucher).where(Voucher.tenant_id == tenant_id)


def _redemptions(tenant_id: str) -> Select[*tuple[Any, ...]]:
    statement: Select[*tuple[Any, ...]] = (
        select(RedemptionItem, Redemption, Campaign.name)
        .join(Redemption, Redemption.id == RedemptionItem.redemption_id)
        .join(Campaign, Campaign.id == RedemptionItem.campaign_id)
        .where(Redemption.tenant_id == tenant_id)
    )
    return statement


def _loyalty_ledger(tenant_id: str) -> Select[*tuple[Any, ...]]:
    statement: Select[*tuple[Any, ...]] = (
        select(LedgerEntry, LoyaltyMember.customer_id)
        .join(LoyaltyMember, LoyaltyMember.id == LedgerEntry.member_id)
        .where(LedgerEntry.tenant_id == tenant_id)
    )
    return statement


DATASETS: dict[str, Dataset] = {
    "orders": Dataset(
        "orders",
        "orders:read",
        "One row per order.",
        (
            _col("id", pa.string(), "Order id (ord_...)."),
            _col("number", pa.string(), "The shop's order number."),
            _col("sales_channel_id", pa.string(), "Sales channel (sch_...)."),
            _col("status", pa.string(), "Order status."),
            _col("payment_status", pa.string(), "Payment status."),
            _col("currency", pa.string(), "ISO 4217 currency."),
            _col("subtotal", pa.int64(), "Lines, minor units."),
            _col("shipping_total", pa.int64(), "Shipping, minor units."),
            _col("discount_total", pa.int64(), "Discounts, minor units."),
            _col("tax_total", pa.int64(), "Tax, minor units."),
            _col("total", pa.int64(), "Total, minor units."),
            _col("refunded_total", pa.int64(), "Refunded so far, minor units."),
            _col(
                "customer_email_sha256",
                pa.string(),
                "SHA-256 of the buyer's lower-cased e-mail address.",
                lambda row: email_key(row.customer_email),
            ),
            _col("language", pa.string(), "The buyer's language."),
            _col("placed_at", TIME, "When the order was placed (UTC)."),
            _col("created_at", TIME, "When the hub recorded it (UTC)."),
        ),
        _orders,
        Order.created_at,
        Order.id,
    ),
    "tickets": Dataset(
        "tickets",
        "helpdesk:read",
        "One row per helpdesk ticket.",
        (
            _col("id", pa.string(), "Ticket id (tkt_...)."),
            _col("channel", pa.string(), "email, chat or marketplace."),
            _col("status", pa.string(), "open, pending, resolved or merged."),
            _col("priority", pa.string(), "low, normal, high or urgent."),
            _col("intent", pa.string(), "Detected intent."),
            _col("intent_confidence", pa.float64(), "The classifier's confidence."),
            _col("language", pa.string(), "Detected language."),
            _col("queue_id", pa.string(), "Queue."),
            _col("assignee_id", pa.string(), "Assigned agent."),
            _col("sales_channel_id", pa.string(), "Sales channel of the linked order."),
            _col("order_id", pa.string(), "Linked order."),
            _col("order_verified", pa.bool_(), "The sender is the order's buyer."),
            _col("customer_id", pa.string(), "Linked customer."),
            _col(
                "sla_breached",
                pa.string(),
                "SLA clocks breached, comma-separated.",
                lambda row: ",".join(row.sla_breached or []),
            ),
            _col("created_at", TIME, "Opened (UTC)."),
            _col("first_responded_at", TIME, "First agent answer (UTC)."),
            _col("resolved_at", TIME, "Resolved (UTC)."),
        ),
        _tickets,
        Ticket.created_at,
        Ticket.id,
    ),
    "vouchers": Dataset(
        "vouchers",
        "promotions:read",
        "One row per voucher code.",
        (
            _col("id", pa.string(), "Voucher id (vch_...)."),
            _col("campaign_id", pa.string(), "Campaign (cmp_...)."),
            _col("code", pa.string(), "The code."),
            _col("active", pa.bool_(), "Enabled."),
            _col("max_redemptions", pa.int64(), "Uses allowed (empty: no limit)."),
            _col("redemptions", pa.int64(), "Uses so far."),
            _col("customer_id", pa.string(), "Published to this customer."),
            _col("published_at", TIME, "When it was published (UTC)."),
            _col("expires_at", TIME, "Usable until (UTC)."),
            _col("created_at", TIME, "Created (UTC)."),
        ),
        _vouchers,
        Voucher.created_at,
        Voucher.id,
    ),
    "redemptions": Dataset(
        "redemptions",
        "promotions:read",
        "One row per discount applied by a redemption (a redemption of two codes: two rows).",
        (
            _col("redemption_id", pa.string(), "Redemption (rdm_...).", lambda r: r[1].id),
            _col("position", pa.int64(), "Order of application.", lambda r: r[0].position),
            _col("status", pa.string(), "succeeded or rolled_back.", lambda r: r[1].status),
            _col("campaign_id", pa.string(), "Campaign.", lambda r: r[0].campaign_id),
            _col("campaign_name", pa.string(), "Its name.", lambda r: r[2]),
            _col("code", pa.string(), "Voucher code (empty: automatic).", lambda r: r[0].code),
            _col("discount", pa.int64(), "Taken off, minor units.", lambda r: r[0].discount),
            _col("currency", pa.string(), "Currency.", lambda r: r[1].currency),
            _col("order_id", pa.string(), "Order.", lambda r: r[1].order_id),
            _col("customer_id", pa.string(), "Customer.", lambda r: r[1].customer_id),
            _col(
                "customer_email_sha256",
                pa.string(),
                "SHA-256 of the e-mail address given.",
                lambda r: email_key(r[1].customer_email),
            ),
            _col("channel_id", pa.string(), "Sales channel.", lambda r: r[1].channel_id),
            _col("created_at", TIME, "Redeemed (UTC).", lambda r: r[1].created_at),
            _col("rolled_back_at", TIME, "Rolled back (UTC).", lambda r: r[1].rolled_back_at),
        ),
        _redemptions,
        Redemption.created_at,
        (Redemption.id, RedemptionItem.position),
    ),
    "loyalty_ledger": Dataset(
        "loyalty_ledger",
        "loyalty:read",
        "One row per movement of loyalty points (the ledger is append-only).",
        (
            _col("id", pa.string(), "Ledger entry (lpt_...).", lambda r: r[0].id),
            _col("program_id", pa.string(), "Program (lyp_...).", lambda r: r[0].program_id),
            _col("member_id", pa.string(), "Member (mbr_...).", lambda r: r[0].member_id),
            _col("customer_id", pa.string(), "Customer (cus_...).", lambda r: r[1]),
            _col(
                "kind", pa.string(), "earn, spend, expire, reverse or adjust.", lambda r: r[0].kind
            ),
            _col("points", pa.int64(), "Signed points.", lambda r: r[0].points),
            _col(
                "source",
                pa.string(),
                "order, event, segment, reward, manual or expiry.",
                lambda r: r[0].source,
            ),
            _col("source_ref", pa.string(), "What moved them.", lambda r: r[0].source_ref),
            _col("lot_id", pa.string(), "The earning taken from.", lambda r: r[0].lot_id),
            _col("available_at", TIME, "Spendable from (UTC).", lambda r: r[0].available_at),
            _col("expires_at", TIME, "Expires (UTC).", lambda r: r[0].expires_at),
            _col("created_at", TIME, "Recorded (UTC).", lambda r: r[0].created_at),
        ),
        _loyalty_ledger,
        LedgerEntry.created_at,
        LedgerEntry.id,
    ),
}


@dataclass(frozen=True)
class ExportRequest:
    dataset: Dataset
    tenant_id: str
    since: datetime | None
    until: datetime | None


def request_for(
    principal: Principal, name: str, since: datetime | None, until: datetime | None
) -> ExportRequest:
    """Check the dataset, the range and the caller's scope, before anything is streamed."""
    dataset = DATASETS.get(name)
    if dataset is None:
        raise InvalidError(
            f"no dataset {name!r}: use one of {', '.join(sorted(DATASETS))}", field="dataset"
        )
    principal.require(dataset.scope)
    if since is not None and until is not None and until <= since:
        raise InvalidError("until must come after since", field="until")
    return ExportRequest(dataset, principal.tenant_id, since, until)


def _statement(request: ExportRequest) -> Select[*tuple[Any, ...]]:
    statement = request.dataset.query(request.tenant_id)
    if request.since is not None:
        statement = statement.where(request.dataset.created >= request.since)
    if request.until is not None:
        statement = statement.where(request.dataset.created < request.until)
    return statement


async def count(session: AsyncSession, request: ExportRequest) -> int:
    total = await session.scalar(select(func.count()).select_from(_statement(request).subquery()))
    return int(total or 0)


async def pages(db: Database, request: ExportRequest) -> AsyncIterator[list[list[Any]]]:
    """The rows' values, ``PAGE`` at a time, in key order; each page read on its own."""
    key = request.dataset.key
    keys = key if isinstance(key, tuple) else (key,)
    after: tuple[Any, ...] | None = None
    while True:
        statement = _statement(request)
        if after is not None:
            statement = statement.where(_after(keys, after))
        statement = statement.order_by(*keys).limit(PAGE)
        async with db.reader() as session:
            result = await session.execute(statement)
            rows = list(result.scalars() if len(result.keys()) == 1 else result)
        if not rows:
            return
        yield [request.dataset.row_values(row) for row in rows]
        last = rows[-1]
        after = tuple(_key_of(last, column) for column in keys)
        if len(rows) < PAGE:
            return


def _after(keys: tuple[Any, ...], after: tuple[Any, ...]) -> Any:
    return tuple_(*keys) > tuple_(*after)


def _key_of(row: Any, column: Any) -> Any:
    """The value of key ``column`` in a row of the dataset (an entity or a tuple of them)."""
    entities = row if isinstance(row, tuple) or hasattr(row, "_fields") else (row,)
    for entity in entities:
        if isinstance(entity, column.class_):
            return getattr(entity, column.key)
    raise LookupError(column)


MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.parquet: "application/vnd.apache.parquet",
}


class CsvEncoder:
    """UTF-8 CSV with a header; empty for null; timestamps in ISO 8601 UTC."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def start(self) -> bytes:
        return self._lines([[column.name for column in self.dataset.columns]])

    def page(self, rows: list[list[Any]]) -> bytes:
        return self._lines([[_csv_value(value) for value in row] for row in rows])

    def finish(self) -> bytes:
        return b""

    @staticmethod
    def _lines(rows: list[list[Any]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue().encode()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    """A cell; text that a spreadsheet would run as a formula (a campaign named
    ``=HYPERLINK(...)``) gets a leading apostrophe, as OWASP advises for CSV exports."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class _Sink(io.RawIOBase):
    """Where pyarrow writes the Parquet file; what it wrote is taken after each page."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.chunks.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        taken, self.chunks = b"".join(self.chunks), []
        return taken


class ParquetEncoder:
    """Parquet (zstd), one row group per page, with the columns' types and descriptions."""

    def __init__(self, dataset: Dataset) -> None:
        self.schema = pa.schema(
            [
                pa.field(column.name, column.type, metadata={"description": column.description})
                for column in dataset.columns
            ],
            metadata={"dataset": dataset.name, "description": dataset.description},
        )
        self.sink = _Sink()
        self.writer = pq.ParquetWriter(self.sink, self.schema, compression="zstd")

    def start(self) -> bytes:
        return self.sink.take()

    def page(self, rows: list[list[Any]]) -> bytes:
        columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in self.schema]
        table = pa.Table.from_arrays(
            [
                pa.array(list(values), type=field.type)
                for values, field in zip(columns, self.schema, strict=True)
            ],
            schema=self.schema,
        )
        self.writer.write_table(table)
        return self.sink.take()

    def finish(self) -> bytes:
        self.writer.close()
        return self.sink.take()


def encoder_for(fmt: ExportFormat, dataset: Dataset) -> CsvEncoder | ParquetEncoder:
    return CsvEncoder(dataset) if fmt is ExportFormat.csv else ParquetEncoder(dataset)


async def stream(
    db: Database, request: ExportRequest, fmt: ExportFormat
) -> AsyncIterator[tuple[bytes, int]]:
    """The export's bytes, with how many rows each piece carried (for a progress bar)."""
    encoder = encoder_for(fmt, request.dataset)
    yield encoder.start(), 0
    async for rows in pages(db, request):
        yield encoder.page(rows), len(rows)
    yield encoder.finish(), 0


def file_name(request: ExportRequest, fmt: ExportFormat) -> str:
    stamp = "-".join(
        moment.strftime("%Y%m%dT%H%M%SZ") for moment in (request.since, request.until) if moment
    )
    return f"{request.dataset.name}{'-' + stamp if stamp else ''}.{fmt.value}"
