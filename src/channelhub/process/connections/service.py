"""Connections: create, change, read, and what the hooks and connectors need of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.core import dialect_insert
from channelhub.platform.db.pagination import Page, PageRequest
from channelhub.platform.db.repository import TenantRepository
from channelhub.platform.errors import InvalidError, NotFoundError
from channelhub.platform.ids import new_id
from channelhub.platform.inbox import store as inbox
from channelhub.process.channels.repository import SalesChannelRepository
from channelhub.process.connections import schemas
from channelhub.process.connections.models import Connection, ConnectionSku
from channelhub.process.inventory.service import locations_by_ref

READ = "connections:read"
WRITE = "connections:write"


class ConnectionNotFound(NotFoundError):
    code = "connection_not_found"


class ConnectionRepository(TenantRepository[Connection]):
    model = Connection


@dataclass(frozen=True)
class LocationMap:
    external_id: str
    location_id: str
    owns_stock: bool


@dataclass(frozen=True)
class ConnectionContext:
    """A connection as a connector works with it: secrets opened, mappings at hand."""

    id: str
    tenant_id: str
    system: schemas.SystemType
    name: str
    base_url: str
    sales_channel_id: str | None
    order_number_prefix: str
    credentials: dict[str, str]
    locations: tuple[LocationMap, ...]
    push_stock: bool

    @property
    def principal(self) -> Principal:
        """Who acts when this connection's deliveries change things (in every ledger and
        timeline)."""
        return Principal.system(self.tenant_id, name=f"{self.system.value}:{self.id}")

    def location_for(self, external_id: str) -> LocationMap | None:
        return next((m for m in self.locations if m.external_id == str(external_id)), None)

    def external_for(self, location_id: str) -> LocationMap | None:
        return next((m for m in self.locations if m.location_id == location_id), None)


@dataclass(frozen=True)
class DeliveryTarget:
    """What the hook needs to accept a delivery: whose it is and how it is signed."""

    id: str
    tenant_id: str
    system: schemas.SystemType
    webhook_secret: str


def to_schema(row: Connection) -> schemas.Connection:
    return schemas.Connection(
        id=row.id,
        system=schemas.SystemType(row.system),
        name=row.name,
        base_url=row.base_url,
        sales_channel_id=row.sales_channel_id,
        order_number_prefix=row.order_number_prefix,
        hook_url=f"/hooks/{row.id}",
        secrets_set=sorted(row.secret_names),
        locations=[schemas.LocationLinkView(**link) for link in row.locations],
        push_stock=row.push_stock,
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _links(
    session: AsyncSession, tenant_id: str, links: Sequence[schemas.LocationLink]
) -> list[dict[str, Any]]:
    found = await locations_by_ref(
        session, tenant_id, [link.location for link in links], field="locations.{i}.location"
    )
    return [
        {
            "external_id": link.external_id,
            "location_id": found[link.location].id,
            "owns_stock": link.owns_stock,
        }
        for link in links
    ]


def _seal(box: SecretBox, credentials: dict[str, str], webhook_secret: str) -> bytes:
    return box.seal({"credentials": credentials, "webhook_secret": webhook_secret})


async def create_connection(
    session: AsyncSession,
    principal: Principal,
    data: schemas.ConnectionCreate,
    box: SecretBox,
    *,
    clock: Clock = utc_now,
) -> schemas.Connection:
    principal.require(WRITE)
    if data.sales_channel_id is not None and (
        await SalesChannelRepository(session, principal.tenant_id).get(data.sales_channel_id)
        is None
    ):
        raise InvalidError(f"no sales channel {data.sales_channel_id!r}", field="sales_channel_id")
    now = clock()
    row = Connection(
        id=new_id("con"),
        tenant_id=principal.tenant_id,
        system=data.system.value,
        name=data.name,
        base_url=data.base_url.rstrip("/"),
        sales_channel_id=data.sales_channel_id,
        order_number_prefix=data.order_number_prefix,
        sealed_secrets=_seal(box, dict(data.credentials), data.webhook_secret),
        secret_names=[*sorted(data.credentials), "webhook_secret"],
        locations=await _links(session, principal.tenant_id, data.locations),
        push_stock=data.push_stock and data.system in schemas.STOREFRONTS,
        enabled=True,
        rejected_deliveries=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return to_schema(row)


async def _row(
    session: AsyncSession, principal: Principal, connection_id: str, *, lock: bool = False
) -> Connection:
    row = await ConnectionRepository(session, principal.tenant_id).get(
        connection_id, for_update=lock
    )
    if row is None:
        raise ConnectionNotFound(f"no connection {connection_id!r}")
    return row


async def update_connection(
    session: AsyncSession,
    principal: Principal,
    connection_id: str,
    data: schemas.ConnectionUpdate,
    box: SecretBox,
    *,
    clock: Clock = utc_now,
) -> schemas.Connection:
    principal.require(WRITE)
    row = await _row(session, principal, connection_id, lock=True)
    system = schemas.SystemType(row.system)
    given = data.model_fields_set
    for field in ("name", "push_stock", "enabled", "credentials", "webhook_secret", "base_url"):
        if field in given and getattr(data, field) is None:
            raise InvalidError(f"{field} may not be null", field=field)
    if data.name is not None:
        row.name = data.name
    if data.base_url is not None:
        row.base_url = data.base_url.rstrip("/")
    if data.push_stock is not None:
        row.push_stock = data.push_stock and system in schemas.STOREFRONTS
    if data.enabled is not None:
        row.enabled = data.enabled
    if data.locations is not None:
        row.locations = await _links(session, principal.tenant_id, data.locations)
    if data.credentials is not None or data.webhook_secret is not None:
        current = box.open(row.sealed_secrets)
        credentials = current["credentials"] if data.credentials is None else data.credentials
        missing = sorted(schemas.CREDENTIALS[system] - set(credentials))
        if missing:
            raise InvalidError(
                f"{system.value} needs credentials: {', '.join(missing)}", field="credentials"
            )
        secret = data.webhook_secret or current["webhook_secret"]
        row.sealed_secrets = _seal(box, dict(credentials), secret)
        row.secret_names = [*sorted(credentials), "webhook_secret"]
    row.updated_at = clock()
    await session.flush()
    return to_schema(row)


async def get_connection(
    session: AsyncSession, principal: Principal, connection_id: str
) -> schemas.Connection:
    principal.require(READ)
    return to_schema(await _row(session, principal, connection_id))


async def list_connections(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> Page[schemas.Connection]:
    principal.require(READ)
    repository = ConnectionRepository(session, principal.tenant_id)
    found = await repository.paginate(repository.scoped(), page)
    return Page([to_schema(row) for row in found.items], found.next_cursor)


async def delivery_target(
    session: AsyncSession, connection_id: str, box: SecretBox
) -> DeliveryTarget | None:
    """The enabled connection a delivery is addressed to, or None (unknown or disabled)."""
    row = await session.get(Connection, connection_id)
    if row is None or not row.enabled:
        return None
    secrets = box.open(row.sealed_secrets)
    return DeliveryTarget(
        row.id, row.tenant_id, schemas.SystemType(row.system), secrets["webhook_secret"]
    )


async def reseal_all(session: AsyncSession, box: SecretBox) -> int:
    """Encrypt every connection's secrets again under the newest key (after a rotation);
    returns how many connections were re-sealed."""
    rows = (await session.scalars(select(Connection).with_for_update())).all()
    for row in rows:
        row.sealed_secrets = box.reseal(row.sealed_secrets)
    await session.flush()
    return len(rows)


async def count_rejected(session: AsyncSession, connection_id: str) -> None:
    await session.execute(
        update(Connection)
        .where(Connection.id == connection_id)
        .values(rejected_deliveries=Connection.rejected_deliveries + 1)
        .execution_options(synchronize_session=False)
    )


async def context(session: AsyncSession, connection_id: str, box: SecretBox) -> ConnectionContext:
    row = await session.get(Connection, connection_id)
    if row is None:
        raise ConnectionNotFound(f"no connection {connection_id!r}")
    secrets = box.open(row.sealed_secrets)
    return ConnectionContext(
        id=row.id,
        tenant_id=row.tenant_id,
        system=schemas.SystemType(row.system),
        name=row.name,
        base_url=row.base_url,
        sales_channel_id=row.sales_channel_id,
        order_number_prefix=row.order_number_prefix,
        credentials=dict(secrets["credentials"]),
        locations=tuple(LocationMap(**link) for link in row.locations),
        push_stock=row.push_stock,
    )


async def remember_skus(
    session: AsyncSession,
    connection_id: str,
    refs: dict[str, dict[str, Any]],
    now: datetime,
    *,
    merge: bool = False,
) -> None:
    """Record how the connected system names these SKUs (with ``merge``, over what is
    known of them: a product carries the inventory item id, an order only the variant).
    Ids are kept as text, so that they can be looked up the same way on every database.
    Rows that would not change are not written: every order repeats its SKUs' ids, and
    rewriting them would lock rows the stock pusher works on."""
    if not refs:
        return
    known = await sku_refs(session, connection_id, list(refs))
    wanted = {
        sku: {
            **(known.get(sku, {}) if merge else {}),
            **{key: str(value) for key, value in ids.items() if value not in (None, "")},
        }
        for sku, ids in refs.items()
    }
    changed = sorted((sku, ids) for sku, ids in wanted.items() if known.get(sku) != ids)
    if not changed:
        return
    insert = dialect_insert(session, ConnectionSku)
    await session.execute(
        insert.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["connection_id", "sku"],
            set_={"refs": insert.excluded.refs, "updated_at": insert.excluded.updated_at},  # type: ignore[attr-defined]
        ),
        [
            {
                "connection_id": connection_id,
                "sku": sku,
                "refs": ids,
                "pushed": {},
                "push_attempts": 0,
                "updated_at": now,
            }
            for sku, ids in changed
        ],
    )


async def sku_refs(
    session: AsyncSession, connection_id: str, skus: Sequence[str]
) -> dict[str, dict[str, Any]]:
    rows = await session.execute(
        select(ConnectionSku.sku, ConnectionSku.refs).where(
            ConnectionSku.connection_id == connection_id, ConnectionSku.sku.in_(list(skus))
        )
    )
    return {sku: dict(refs) for sku, refs in rows}


async def sku_by_ref(session: AsyncSession, connection_id: str, key: str, value: str) -> str | None:
    """The SKU the connected system names ``value`` (its ``key``, e.g. inventory_item_id)."""
    found: str | None = await session.scalar(
        select(ConnectionSku.sku)
        .where(
            ConnectionSku.connection_id == connection_id,
            ConnectionSku.refs[key].as_string() == value,
        )
        .limit(1)
    )
    return found


async def record_pushed(
    session: AsyncSession, connection_id: str, figures: dict[str, dict[str, int]], now: datetime
) -> None:
    """Remember the figures a connection was just given."""
    for sku, pushed in figures.items():
        await session.execute(
            update(ConnectionSku)
            .where(ConnectionSku.connection_id == connection_id, ConnectionSku.sku == sku)
            .values(pushed=pushed, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(Connection)
        .where(Connection.id == connection_id)
        .values(last_pushed_at=now, last_push_error=None)
        .execution_options(synchronize_session=False)
    )


async def mark_skus_dirty(
    session: AsyncSession, connection_id: str, now: datetime, skus: Sequence[str] | None = None
) -> int:
    """Have the pusher send these SKUs' figures (all known SKUs by default) on its next
    round; returns how many were marked."""
    statement = update(ConnectionSku).where(ConnectionSku.connection_id == connection_id)
    if skus is not None:
        statement = statement.where(ConnectionSku.sku.in_(list(skus)))
    result = await session.execute(
        statement.values(dirty_since=now, next_push_at=None, push_attempts=0).execution_options(
            synchronize_session=False
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def health(
    session: AsyncSession, principal: Principal, connection_id: str, *, clock: Clock = utc_now
) -> schemas.Health:
    principal.require(READ)
    row = await _row(session, principal, connection_id)
    now = clock()
    stats = await inbox.stats(session, row.id, now - timedelta(hours=1))
    waiting = await session.scalar(
        select(func.count()).where(
            ConnectionSku.connection_id == row.id, ConnectionSku.dirty_since.is_not(None)
        )
    )
    decided = stats.processed_last_hour + stats.parked_last_hour
    return schemas.Health(
        connection_id=row.id,
        enabled=row.enabled,
        last_received_at=stats.last_received_at,
        last_pushed_at=row.last_pushed_at,
        last_push_error=row.last_push_error,
        pending=stats.pending,
        parked=stats.parked,
        lag_s=(now - stats.oldest_pending_at).total_seconds() if stats.oldest_pending_at else None,
        processed_last_hour=stats.processed_last_hour,
        error_rate_last_hour=round(stats.parked_last_hour / decided, 4) if decided else 0.0,
        rejected_deliveries=row.rejected_deliveries,
        skus_waiting_push=int(waiting or 0),
    )
