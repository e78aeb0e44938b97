"""Every connector, by system type, and the one inbox handler that dispatches to them."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.crypto import SecretBox
from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.processor import Park
from channelhub.platform.inbox.store import Receiver
from channelhub.process.connections import service as connections
from channelhub.systems.carriers import AfterShip, EasyPost, Ups
from channelhub.systems.common import Api, Connector
from channelhub.systems.erp import Erp

CONNECTORS: dict[str, Connector] = {
    "erp": Erp(),
    "easypost": EasyPost(),
    "aftership": AfterShip(),
    "ups": Ups(),
}


class Systems:
    """The systems layer as the hub runs it: receivers for the hooks, the inbox handler,
    and the API client connectors call out with."""

    def __init__(self, box: SecretBox, client: httpx.AsyncClient, **api_options: float) -> None:
        self.box = box
        self.api = Api(client, **api_options)  # type: ignore[arg-type]
        self.receivers: dict[str, Receiver] = {
            name: connector.receiver for name, connector in CONNECTORS.items()
        }

    async def handle(self, session: AsyncSession, record: InboxRecord) -> str:
        connector = CONNECTORS.get(record.system)
        if connector is None:
            raise Park(f"no connector for system {record.system!r}")
        ctx = await connections.context(session, record.connection_id, self.box)
        return await connector.handle(session, ctx, record, self.api)
