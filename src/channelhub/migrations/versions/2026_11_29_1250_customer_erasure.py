"""customer erasure

``customers.erased_at``: when a customer's personal data was erased (GDPR); the row stays
with pseudonyms in place of the data.

Revision ID: 0012_customer_erasure
Revises: 0011_loyalty
Create Date: 2026-11-29 12:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_customer_erasure"
down_revision: str | None = "0011_loyalty"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
