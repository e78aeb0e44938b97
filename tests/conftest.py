"""Test fixtures.

Database-backed tests run on SQLite and PostgreSQL (the ``database_url`` fixture is
parametrised). Each test run gets its own PostgreSQL database and NATS stream, migrated
once, and each test its own tenant.

Why tenants and not a rolled-back transaction per test (STYLE.md's default): the outbox
relay, the consumers and the HTTP unit of work must see *committed* data on their own
connections, which a wrapping transaction would hide. Tenant scoping isolates tests just as
well, and every test exercises it.
"""

import os

# pytest-xdist's workers start with COLUMNS=80 (and LINES) in their environment; the CLI's
# rich consoles, created when channelhub.cli is imported, would keep that width for good
# and wrap the ids the CLI tests read. Without it they follow each run's COLUMNS.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.outside",
    "tests.fixtures.hub",
    "tests.fixtures.events",
    "tests.fixtures.inventory",
    "tests.fixtures.orders",
    "tests.fixtures.notifications",
    "tests.fixtures.inbox",
    "tests.fixtures.webhooks",
    "tests.fixtures.helpdesk",
    "tests.fixtures.event_examples",
]
