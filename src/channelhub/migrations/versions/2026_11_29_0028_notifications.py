"""notifications

Per-tenant notification settings (sender, SMS and push providers with sealed secrets, consent
defaults, SMS quiet hours), template overrides, customer consents, one delivery row per
(notice, channel), the dispatcher's lease, due time and attempt count on order notices, and each
delivery's own sending lease.

Revision ID: 0007_notifications
Revises: 0006_webhooks
Create Date: 2026-11-29 00:28:15.859942
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_notifications"
down_revision: str | None = "0006_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_consents",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.String(length=254), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_notification_consents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_consents")),
        sa.UniqueConstraint(
            "tenant_id",
            "channel",
            "contact",
            name=op.f("uq_notification_consents_tenant_id_channel_contact"),
        ),
    )
    with op.batch_alter_table("notification_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_consents_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "notification_settings",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("email_from", sa.String(length=254), nullable=False),
        sa.Column("email_from_name", sa.String(length=200), nullable=False),
        sa.Column("reply_to", sa.String(length=254), nullable=False),
        sa.Column("order_page_url", sa.String(length=1000), nullable=False),
        sa.Column("sms_url", sa.String(length=2048), nullable=False),
        sa.Column("sms_secret", sa.LargeBinary(), nullable=True),
        sa.Column("push_url", sa.String(length=2048), nullable=False),
        sa.Column("push_secret", sa.LargeBinary(), nullable=True),
        sa.Column("sms_requires_opt_in", sa.Boolean(), nullable=False),
        sa.Column("push_requires_opt_in", sa.Boolean(), nullable=False),
        sa.Column("quiet_hours_start", sa.Time(), nullable=True),
        sa.Column("quiet_hours_end", sa.Time(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_notification_settings_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "notification_templates",
        sa.Column("brand_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_notification_templates_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_templates")),
        sa.UniqueConstraint(
            "tenant_id",
            "brand_id",
            "kind",
            "channel",
            "language",
            name="uq_notification_templates_key",
        ),
    )
    with op.batch_alter_table("notification_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_templates_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("notice_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sending_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["order_notices.id"],
            name=op.f("fk_notification_deliveries_notice_id_order_notices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_notification_deliveries_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "notice_id", "channel", name=op.f("uq_notification_deliveries_notice_id_channel")
        ),
    )
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_deliveries_order", ["order_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notification_deliveries_tenant_id"), ["tenant_id"], unique=False
        )

    with op.batch_alter_table("order_notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("order_notices", schema=None) as batch_op:
        batch_op.drop_column("attempts")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("due_at")

    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_deliveries_tenant_id"))
        batch_op.drop_index("ix_notification_deliveries_order")

    op.drop_table("notification_deliveries")
    with op.batch_alter_table("notification_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_templates_tenant_id"))

    op.drop_table("notification_templates")
    op.drop_table("notification_settings")
    with op.batch_alter_table("notification_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_consents_tenant_id"))

    op.drop_table("notification_consents")
