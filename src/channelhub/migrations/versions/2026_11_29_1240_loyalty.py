"""loyalty

Loyalty programs (earning rules, pending and expiry periods, tiers as JSON), members, the
append-only points ledger (unique per program, kind and source, so nothing moves points
twice) and the rewards catalogue, whose rewards issue codes of a vouchers campaign.

Revision ID: 0011_loyalty
Revises: 0010_customer_segments
Create Date: 2026-11-29 12:29:48.634654
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_loyalty"
down_revision: str | None = "0010_customer_segments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loyalty_programs",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("auto_enroll", sa.Boolean(), nullable=False),
        sa.Column("sets_customer_tier", sa.Boolean(), nullable=False),
        sa.Column("pending_days", sa.Integer(), nullable=False),
        sa.Column("expiry_days", sa.Integer(), nullable=True),
        sa.Column(
            "earning", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "tiers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_loyalty_programs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_programs")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_loyalty_programs_tenant_id_name")),
    )
    with op.batch_alter_table("loyalty_programs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_loyalty_programs_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "loyalty_members",
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("tier_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_loyalty_members_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["loyalty_programs.id"],
            name=op.f("fk_loyalty_members_program_id_loyalty_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_loyalty_members_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_members")),
        sa.UniqueConstraint(
            "program_id", "customer_id", name=op.f("uq_loyalty_members_program_id_customer_id")
        ),
    )
    with op.batch_alter_table("loyalty_members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_members_customer", ["tenant_id", "customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_loyalty_members_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "loyalty_rewards",
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("cost_points", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.String(length=40), nullable=False),
        sa.Column("min_tier", sa.String(length=32), nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["promotion_campaigns.id"],
            name=op.f("fk_loyalty_rewards_campaign_id_promotion_campaigns"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["loyalty_programs.id"],
            name=op.f("fk_loyalty_rewards_program_id_loyalty_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_loyalty_rewards_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_rewards")),
        sa.UniqueConstraint("program_id", "name", name=op.f("uq_loyalty_rewards_program_id_name")),
    )
    with op.batch_alter_table("loyalty_rewards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_loyalty_rewards_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "loyalty_ledger",
        sa.Column("program_id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lot_id", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["loyalty_members.id"],
            name=op.f("fk_loyalty_ledger_member_id_loyalty_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["loyalty_programs.id"],
            name=op.f("fk_loyalty_ledger_program_id_loyalty_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_loyalty_ledger_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_ledger")),
        sa.UniqueConstraint(
            "program_id",
            "kind",
            "source",
            "source_ref",
            name=op.f("uq_loyalty_ledger_program_id_kind_source_source_ref"),
        ),
    )
    with op.batch_alter_table("loyalty_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_ledger_due", ["expires_at"], unique=False)
        batch_op.create_index("ix_loyalty_ledger_lot", ["lot_id"], unique=False)
        batch_op.create_index("ix_loyalty_ledger_member", ["member_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_loyalty_ledger_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("loyalty_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loyalty_ledger_tenant_id"))
        batch_op.drop_index("ix_loyalty_ledger_member")
        batch_op.drop_index("ix_loyalty_ledger_lot")
        batch_op.drop_index("ix_loyalty_ledger_due")

    op.drop_table("loyalty_ledger")
    with op.batch_alter_table("loyalty_rewards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loyalty_rewards_tenant_id"))

    op.drop_table("loyalty_rewards")
    with op.batch_alter_table("loyalty_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loyalty_members_tenant_id"))
        batch_op.drop_index("ix_loyalty_members_customer")

    op.drop_table("loyalty_members")
    with op.batch_alter_table("loyalty_programs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loyalty_programs_tenant_id"))

    op.drop_table("loyalty_programs")
