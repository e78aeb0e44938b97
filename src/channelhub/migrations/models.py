"""Every mapped table, imported so that ``Base.metadata`` is complete for Alembic."""

from channelhub.platform import idempotency, signing
from channelhub.platform.auth import models as auth_models
from channelhub.platform.db.base import Base
from channelhub.platform.events import models as event_models
from channelhub.platform.inbox import models as inbox_models
from channelhub.platform.webhooks import models as webhook_models
from channelhub.process.catalog import models as catalog_models
from channelhub.process.channels import models as channel_models
from channelhub.process.connections import models as connection_models
from channelhub.process.customers import models as customer_models
from channelhub.process.helpdesk import models as helpdesk_models
from channelhub.process.inventory import models as inventory_models
from channelhub.process.loyalty import models as loyalty_models
from channelhub.process.notifications import models as notification_models
from channelhub.process.orders import models as order_models
from channelhub.process.promotions import models as promotion_models
from channelhub.process.stores import models as store_models

__all__ = [
    "Base",
    "auth_models",
    "catalog_models",
    "channel_models",
    "connection_models",
    "customer_models",
    "event_models",
    "helpdesk_models",
    "idempotency",
    "inbox_models",
    "inventory_models",
    "loyalty_models",
    "notification_models",
    "order_models",
    "promotion_models",
    "signing",
    "store_models",
    "webhook_models",
]
