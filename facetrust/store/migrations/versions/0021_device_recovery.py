"""devices bound to accounts, their re-bindings, device reviews and notifications

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_bindings",
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "device_rebinds",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("previous_device_id", sa.String(128), nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("proof", sa.String(80), nullable=False, unique=True),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_device_rebinds_account_id", "device_rebinds", ["account_id"])
    op.create_table(
        "device_reviews",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("case_id", sa.String(32), sa.ForeignKey("risk_cases.id"), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(160), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'denied')", name="device_review_status"),
    )
    op.create_index("ix_device_reviews_account_id", "device_reviews", ["account_id"])
    op.create_index("ix_device_reviews_status", "device_reviews", ["status"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("device_id", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notifications_account_created", "notifications", ["account_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_account_created", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_device_reviews_status", table_name="device_reviews")
    op.drop_index("ix_device_reviews_account_id", table_name="device_reviews")
    op.drop_table("device_reviews")
    op.drop_index("ix_device_rebinds_account_id", table_name="device_rebinds")
    op.drop_table("device_rebinds")
    op.drop_table("device_bindings")
