"""Every connector, by system type, and the one inbox handler that dispatches to them."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.database import Database
from channelhub.platform.events.consumers import ConsumerRegistry
from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.processor import Park
from channelhub.platform.inbox.store import Receiver
from channelhub.process.connections import service as connections
from channelhub.process.helpdesk.inbound import Receiving
from channelhub.process.inventory.events import LEVEL_CHANGED
from channelhub.systems.bigcommerce import BigCommerce
from channelhub.systems.carriers import AfterShip, EasyPost, Ups
from channelhub.systems.common import Api, Connector
from channelhub.systems.email.connector import Email
from channelhub.systems.erp import Erp
from channelhub.systems.marketplace import Marketplace
from channelhub.systems.shopify import Shopify
from channelhub.systems.stock import StockPusher, mark_dirty
from channelhub.systems.woocommerce import WooCommerce

STOCK_PUSH = "stock-push"

CONNECTORS: dict[str, Connector] = {
    "erp": Erp(),
    "easypost": EasyPost(),
    "aftership": AfterShip(),
    "ups": Ups(),
    "woocommerce": WooCommerce(),
    "bigcommerce": BigCommerce(),
    "shopify": Shopify(),
}


class Systems:
    """The systems layer as the hub runs it: receivers for the hooks, the inbox handler,
    the stock pusher, and the API client connectors call out with."""

    def __init__(
        self,
        db: Database,
        box: SecretBox,
        client: httpx.AsyncClient,
        *,
        push_interval_s: float,
        retry_base_s: float,
        helpdesk: Receiving,
        max_attachment_bytes: int,
    ) -> None:
        self.box = box
        self.api = Api(client, retry_base_s=retry_base_s)
        self.connectors: dict[str, Connector] = {
            **CONNECTORS,
            "email": Email(helpdesk, max_attachment_bytes=max_attachment_bytes),
            "marketplace": Marketplace(helpdesk),
        }
        self.receivers: dict[str, Receiver] = {
            name: connector.receiver for name, connector in self.connectors.items()
        }
        self.pusher = StockPusher(db, box, self.api, CONNECTORS, interval_s=push_interval_s)

    def register_consumers(self, registry: ConsumerRegistry) -> None:
        """Mark SKUs to push when their stock changes."""
        if registry.get(STOCK_PUSH) is None:
            registry.register(STOCK_PUSH, mark_dirty, types=[LEVEL_CHANGED.name])

    async def handle(self, session: AsyncSession, record: InboxRecord) -> str:
        connector = self.connectors.get(record.system)
        if connector is None:
            raise Park(f"no connector for system {record.system!r}")
        ctx = await connections.context(session, record.connection_id, self.box)
        return await connector.handle(session, ctx, record, self.api)
