"""inbox bodies compressed with lz4 on PostgreSQL

Webhook bodies (a Shopify order is ~9 KB of JSON) are stored out of line and compressed.
PostgreSQL's default compression (pglz) costs the database more CPU per stored webhook
than everything else the insert does; lz4 halves it (bench/ingest: 1,875 -> 2,395
acknowledged webhooks/s on the standard machine). Servers without lz4 support (built
without it, or before PostgreSQL 14) keep pglz. SQLite stores bodies uncompressed.

Revision ID: 0005_inbox_body_lz4
Revises: 0004_connections
Create Date: 2026-11-28 23:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_inbox_body_lz4"
down_revision: str | None = "0004_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _set_compression(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        DO $$ BEGIN
            EXECUTE 'ALTER TABLE inbox ALTER COLUMN body SET COMPRESSION {method}';
        EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
            RAISE NOTICE 'inbox.body keeps the default compression: %', SQLERRM;
        END $$
        """
    )


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("pglz")
