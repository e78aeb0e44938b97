"""What the connections API takes and returns. Secrets go in; they never come out."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SystemType(StrEnum):
    shopify = "shopify"
    bigcommerce = "bigcommerce"
    woocommerce = "woocommerce"
    easypost = "easypost"
    aftership = "aftership"
    ups = "ups"
    erp = "erp"
    email = "email"
    marketplace = "marketplace"


STOREFRONTS = frozenset({SystemType.shopify, SystemType.bigcommerce, SystemType.woocommerce})

CREDENTIALS: dict[SystemType, frozenset[str]] = {
    SystemType.shopify: frozenset({"access_token"}),
    SystemType.bigcommerce: frozenset({"access_token"}),
    SystemType.woocommerce: frozenset({"consumer_key", "consumer_secret"}),
    SystemType.easypost: frozenset(),
    SystemType.aftership: frozenset(),
    SystemType.ups: frozenset(),
    SystemType.erp: frozenset(),
    SystemType.email: frozenset(),
    SystemType.marketplace: frozenset(),
}
"""Credentials each system needs to be called back (the hub's pushes and fetches)."""

OPTIONAL_CREDENTIALS: dict[SystemType, frozenset[str]] = {
    SystemType.email: frozenset({"imap_url"}),
}
"""Credentials a system may have: an e-mail connection's IMAP mailbox to poll
(imaps://user:password@host:993/INBOX), when mail does not arrive by SMTP."""

SecretText = Annotated[str, Field(min_length=1, max_length=4096)]


class LocationLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(
        min_length=1, max_length=100, description="The system's id for the location."
    )
    location: str = Field(max_length=64, description="Our location (id or code).")
    owns_stock: bool = Field(
        False,
        description="This system owns on-hand stock at this location: its stock updates "
        "are applied; any other system's are recorded and ignored.",
    )


class LocationLinkView(BaseModel):
    external_id: str = Field(description="The system's id for the location.")
    location_id: str = Field(description="Our location (loc_...).")
    owns_stock: bool = Field(description="Whether this system owns on-hand stock there.")


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: SystemType = Field(description="What is connected.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    base_url: str = Field(
        "",
        max_length=500,
        pattern=r"^(https?://[^\s]+)?$",
        description="The system's API base: https://{shop}.myshopify.com, "
        "https://api.bigcommerce.com/stores/{store_hash}, https://shop.example.com (WooCommerce).",
    )
    sales_channel_id: str | None = Field(
        None, description="The channel its orders belong to (storefronts)."
    )
    order_number_prefix: str = Field(
        "",
        max_length=16,
        description="Put before the system's order numbers, to keep two shops' #1001 apart.",
    )
    credentials: dict[str, SecretText] = Field(
        default_factory=dict,
        description="API credentials (shopify, bigcommerce: access_token; woocommerce: "
        "consumer_key and consumer_secret). Stored encrypted, never returned.",
    )
    webhook_secret: SecretText = Field(
        description="What its deliveries are signed with (Shopify app secret, WooCommerce "
        "webhook secret, the BigCommerce header value, EasyPost/AfterShip webhook secret, "
        "UPS credential, or a Standard Webhooks whsec_ secret for ERP feeds). Stored "
        "encrypted, never returned."
    )
    locations: list[LocationLink] = Field(
        default_factory=list, max_length=500, description="Its locations mapped to ours."
    )
    push_stock: bool = Field(
        True, description="Push available-to-promise changes to it (storefronts)."
    )

    @model_validator(mode="after")
    def _complete(self) -> ConnectionCreate:
        missing = sorted(CREDENTIALS[self.system] - set(self.credentials))
        if missing:
            raise ValueError(f"{self.system.value} needs credentials: {', '.join(missing)}")
        allowed = CREDENTIALS[self.system] | OPTIONAL_CREDENTIALS.get(self.system, frozenset())
        unknown = sorted(set(self.credentials) - allowed)
        if unknown:
            raise ValueError(f"unknown credentials for {self.system.value}: {', '.join(unknown)}")
        if self.system in STOREFRONTS:
            if self.sales_channel_id is None:
                raise ValueError("a storefront needs the sales_channel_id its orders belong to")
            if not self.base_url:
                raise ValueError("a storefront needs its base_url")
        externals = [link.external_id for link in self.locations]
        if len(set(externals)) != len(externals):
            raise ValueError("a location external_id is listed twice")
        return self


class ConnectionUpdate(BaseModel):
    """Only the fields present change; ``credentials`` and ``locations`` replace."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, description="Display name.")
    base_url: str | None = Field(
        None, max_length=500, pattern=r"^(https?://[^\s]+)?$", description="API base."
    )
    credentials: dict[str, SecretText] | None = Field(None, description="New credentials.")
    webhook_secret: SecretText | None = Field(None, description="New delivery secret.")
    locations: list[LocationLink] | None = Field(None, max_length=500, description="Mapping.")
    push_stock: bool | None = Field(None, description="Push stock to it.")
    enabled: bool | None = Field(None, description="A disabled connection's deliveries get 404.")


class Connection(BaseModel):
    id: str = Field(description="Connection id (con_...).")
    system: SystemType = Field(description="What is connected.")
    name: str = Field(description="Display name.")
    base_url: str = Field(description="The system's API base.")
    sales_channel_id: str | None = Field(description="The channel its orders belong to.")
    order_number_prefix: str = Field(description="Put before the system's order numbers.")
    hook_url: str = Field(description="Where it sends its deliveries (path on this hub).")
    secrets_set: list[str] = Field(
        description="Which secrets are stored (names only; values are never returned)."
    )
    locations: list[LocationLinkView] = Field(description="Its locations mapped to ours.")
    push_stock: bool = Field(description="Whether stock changes are pushed to it.")
    enabled: bool = Field(description="Whether its deliveries are accepted.")
    created_at: datetime = Field(description="When it was created (UTC).")
    updated_at: datetime = Field(description="When it last changed (UTC).")


class Health(BaseModel):
    connection_id: str = Field(description="The connection.")
    enabled: bool = Field(description="Whether its deliveries are accepted.")
    last_received_at: datetime | None = Field(description="Its last delivery (UTC).")
    last_pushed_at: datetime | None = Field(description="The last stock push to it (UTC).")
    last_push_error: str | None = Field(description="Why the last push failed, if it did.")
    pending: int = Field(description="Deliveries waiting to be processed.")
    parked: int = Field(description="Deliveries that could not be applied (see the inbox).")
    lag_s: float | None = Field(description="Age of the oldest waiting delivery, seconds.")
    processed_last_hour: int = Field(description="Deliveries applied in the last hour.")
    error_rate_last_hour: float = Field(
        description="Share of the last hour's deliveries that were parked (0-1)."
    )
    rejected_deliveries: int = Field(description="Deliveries refused for a bad signature.")
    skus_waiting_push: int = Field(description="SKUs whose new figure is still to be pushed.")
