"""Codes in bulk: generated from a pattern, or imported from CSV.

Codes are drawn with ``secrets`` (unguessable), inserted in chunks with ON CONFLICT DO
NOTHING, and the chunk is topped up until it is complete, so a batch is exactly as large
as asked even when a random code collides with an existing one. A pattern too small for
the count asked for is refused up front rather than looping for ever.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import dialect_insert_for, dialect_name
from channelhub.platform.db.database import Database
from channelhub.platform.errors import InvalidError, first_validation_error
from channelhub.platform.events.outbox import record_event
from channelhub.platform.ids import new_id
from channelhub.process.promotions import schemas
from channelhub.process.promotions.campaigns import (
    WRITE,
    ensure_customer,
    owned_campaign,
    voucher_schema,
)
from channelhub.process.promotions.events import VOUCHER_CREATED, VOUCHERS_GENERATED
from channelhub.process.promotions.models import Campaign, Voucher
from channelhub.process.promotions.schemas import CodePattern, normalise_code

CHUNK = 5_000
_MAX_SHARE_OF_SPACE = 0.5
"""A batch may use at most half of the codes a pattern can make (collisions stay rare)."""


def _code_maker(pattern: CodePattern) -> Callable[[], str]:
    charset = pattern.charset.upper()
    randoms = pattern.random_characters
    if pattern.pattern is not None:
        parts = pattern.pattern.upper().split("#")

        def from_pattern() -> str:
            drawn = [secrets.choice(charset) for _ in range(randoms)]
            return "".join(part + (drawn[i] if i < randoms else "") for i, part in enumerate(parts))

        return from_pattern
    prefix, postfix = pattern.prefix.upper(), pattern.postfix.upper()

    def from_length() -> str:
        return prefix + "".join(secrets.choice(charset) for _ in range(randoms)) + postfix

    return from_length


def check_room(pattern: CodePattern, count: int) -> None:
    if count > pattern.space * _MAX_SHARE_OF_SPACE:
        raise InvalidError(
            f"the pattern makes {pattern.space} codes at most; {count} would exhaust it: "
            "use more random characters or a larger charset",
            field="code",
            code="pattern_too_small",
        )


@dataclass
class _Rows:
    tenant_id: str
    campaign: Campaign
    max_redemptions: int | None
    now: datetime

    def row(self, code: str, **extra: object) -> dict[str, object]:
        return {
            "id": new_id("vch"),
            "tenant_id": self.tenant_id,
            "campaign_id": self.campaign.id,
            "code": code,
            "active": True,
            "max_redemptions": self.max_redemptions or self.campaign.voucher_redemptions,
            "redemptions": 0,
            "customer_id": None,
            "published_at": None,
            "expires_at": None,
            "created_at": self.now,
            **extra,
        }


async def _insert_new(session: AsyncSession, rows: list[dict[str, object]]) -> int:
    """Insert the rows whose code is new; how many were."""
    if not rows:
        return 0
    statement = (
        dialect_insert_for(dialect_name(session), Voucher)
        .on_conflict_do_nothing()  # type: ignore[attr-defined]
        .returning(Voucher.id)
    )
    return len((await session.scalars(statement, rows)).all())


async def _voucher_campaign(
    session: AsyncSession, principal: Principal, campaign_id: str
) -> Campaign:
    principal.require(WRITE)
    campaign = await owned_campaign(session, principal.tenant_id, campaign_id)
    if campaign.type != schemas.CampaignType.vouchers.value:
        raise InvalidError("an automatic campaign has no codes", field="campaign_id")
    return campaign


async def generate_chunks(
    db: Database,
    principal: Principal,
    campaign_id: str,
    count: int,
    pattern: CodePattern,
    *,
    max_redemptions: int | None = None,
    clock: Clock = utc_now,
) -> AsyncIterator[int]:
    """Generate ``count`` codes, one transaction per chunk; yields how many codes each
    chunk added, for a progress bar. Codes already committed stay if a later chunk fails."""
    check_room(pattern, count)
    make = _code_maker(pattern)
    created = 0
    while created < count:
        async with db.transaction() as session:
            campaign = await _voucher_campaign(session, principal, campaign_id)
            rows = _Rows(principal.tenant_id, campaign, max_redemptions, clock())
            wanted = min(CHUNK, count - created)
            added = 0
            while added < wanted:
                codes = {make() for _ in range(wanted - added)}
                added += await _insert_new(session, [rows.row(code) for code in codes])
            created += added
            if created == count:
                await _announce(session, principal.tenant_id, campaign.id, count, 0)
        yield added


async def generate(
    session: AsyncSession,
    principal: Principal,
    campaign_id: str,
    batch: schemas.VoucherBatch,
    *,
    clock: Clock = utc_now,
) -> schemas.BatchResult:
    """Generate a batch in the caller's transaction (the API: up to 100,000 codes)."""
    check_room(batch.code, batch.count)
    campaign = await _voucher_campaign(session, principal, campaign_id)
    rows = _Rows(principal.tenant_id, campaign, batch.max_redemptions, clock())
    make = _code_maker(batch.code)
    created = 0
    while created < batch.count:
        wanted = min(CHUNK, batch.count - created)
        codes = {make() for _ in range(wanted)}
        created += await _insert_new(session, [rows.row(code) for code in codes])
    return await _announce(session, principal.tenant_id, campaign.id, created, 0)


async def issue_code(
    session: AsyncSession,
    campaign: Campaign,
    customer_id: str,
    *,
    prefix: str,
    expires_at: datetime | None,
    clock: Clock = utc_now,
) -> schemas.Voucher:
    """A new single-use code of ``campaign``, published to one customer (a loyalty
    reward, a goodwill gesture). Emits ``voucher.created``."""
    make = _code_maker(CodePattern(prefix=prefix, length=10))
    rows = _Rows(campaign.tenant_id, campaign, 1, clock())
    while True:
        row = rows.row(make(), customer_id=customer_id, published_at=rows.now)
        row.update(max_redemptions=1, expires_at=expires_at)
        if await _insert_new(session, [row]):
            break
    voucher = await session.get_one(Voucher, row["id"])
    result = voucher_schema(voucher)
    await record_event(
        session, VOUCHER_CREATED, tenant_id=campaign.tenant_id, subject=voucher.id, data=result
    )
    return result


async def _announce(
    session: AsyncSession, tenant_id: str, campaign_id: str, created: int, skipped: int
) -> schemas.BatchResult:
    result = schemas.BatchResult(campaign_id=campaign_id, created=created, skipped=skipped)
    await record_event(
        session, VOUCHERS_GENERATED, tenant_id=tenant_id, subject=campaign_id, data=result
    )
    return result


IMPORT_COLUMNS = ("code", "max_redemptions", "customer_id", "expires_at")


def parse_csv(text: str) -> list[schemas.VoucherCreate]:
    """Rows of a voucher CSV (header: ``code`` and any of ``max_redemptions``,
    ``customer_id``, ``expires_at``); a bad row is refused with its line number."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if "code" not in header:
        raise InvalidError("the CSV needs a header with a code column", field="file")
    unknown = [name for name in header if name not in IMPORT_COLUMNS]
    if unknown:
        raise InvalidError(
            f"unknown columns {unknown}: use {', '.join(IMPORT_COLUMNS)}", field="file"
        )
    parsed: list[schemas.VoucherCreate] = []
    for row in reader:
        values = {name: value for name, value in row.items() if value not in (None, "")}
        try:
            parsed.append(schemas.VoucherCreate.model_validate(values))
        except ValidationError as exc:
            raise InvalidError(
                f"line {reader.line_num}: {first_validation_error(exc)}", field="file"
            ) from exc
    return parsed


async def import_codes(
    session: AsyncSession,
    principal: Principal,
    campaign_id: str,
    vouchers: Iterable[schemas.VoucherCreate],
    *,
    clock: Clock = utc_now,
) -> schemas.BatchResult:
    """Add imported codes; a code that exists already (in any campaign) is skipped and
    counted, never changed."""
    campaign = await _voucher_campaign(session, principal, campaign_id)
    now = clock()
    rows = _Rows(principal.tenant_id, campaign, None, now)
    created = skipped = 0
    chunk: list[dict[str, object]] = []
    customers: set[str] = set()
    seen: set[str] = set()
    for voucher in vouchers:
        code = normalise_code(voucher.code)
        if code in seen:
            skipped += 1
            continue
        seen.add(code)
        if voucher.customer_id is not None and voucher.customer_id not in customers:
            await ensure_customer(session, principal.tenant_id, voucher.customer_id, "file")
            customers.add(voucher.customer_id)
        chunk.append(
            rows.row(
                code,
                max_redemptions=voucher.max_redemptions or campaign.voucher_redemptions,
                customer_id=voucher.customer_id,
                published_at=now if voucher.customer_id else None,
                expires_at=voucher.expires_at,
            )
        )
        if len(chunk) == CHUNK:
            added = await _insert_new(session, chunk)
            created, skipped = created + added, skipped + len(chunk) - added
            chunk = []
    added = await _insert_new(session, chunk)
    created, skipped = created + added, skipped + len(chunk) - added
    return await _announce(session, principal.tenant_id, campaign.id, created, skipped)
