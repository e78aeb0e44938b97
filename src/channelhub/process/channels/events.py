from __future__ import annotations

from channelhub.platform.events.catalog import declare
from channelhub.process.channels.schemas import Brand, SalesChannel

BRAND_CREATED = declare(
    "brand.created", context="channels", description="A brand was created.", data_model=Brand
)
SALES_CHANNEL_CREATED = declare(
    "sales_channel.created",
    context="channels",
    description="A sales channel (web shop, app, marketplace, POS...) was created.",
    data_model=SalesChannel,
)
