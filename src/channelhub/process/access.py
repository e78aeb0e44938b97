"""The resources API-key scopes can name (``<resource>:read`` / ``<resource>:write``)."""

from __future__ import annotations

RESOURCES: dict[str, str] = {
    "catalog": "Products and their variants.",
    "channels": "Brands and sales channels.",
    "events": "The event log (read) and consumer failures.",
    "stores": "Locations: warehouses and retail stores.",
    "inventory": "Stock levels, reservations and availability.",
    "orders": "Orders, shipments, returns, refunds and the order policy.",
    "connections": "Connections to systems of record and their inbox.",
    "customers": "Customers and their ids in other systems.",
    "notifications": "Customer messages: settings, templates, consents and what was sent.",
    "webhooks": "Webhook endpoints, their deliveries and the tenant's webhook policy.",
    "promotions": "Campaigns, vouchers, validations, redemptions and their rollbacks.",
    "loyalty": "Loyalty programs, members and their points ledger, rewards and custom "
    "earning events.",
    "privacy": "GDPR requests: a customer's data exported for them, or erased (write only).",
    "helpdesk": "Tickets, their messages, merges and ratings; queues, agents, routing rules, "
    "templates, mailboxes and helpdesk metrics.",
}
