"""Signed webhooks: the platform's endpoints, the outbox of events, deliveries and their attempts.

Revision ID: 0018
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("url", sa.String(512), nullable=False),
        sa.Column("kinds", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
        sa.Column("secret_wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("master_key_id", sa.String(32), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="webhook_endpoint_status_valid"),
    )
    op.create_index("ix_webhook_endpoints_tenant_id", "webhook_endpoints", ["tenant_id"])
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("dedupe_key", sa.String(96)),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("tenant_id", "dedupe_key"),
    )
    op.create_index("ix_webhook_events_tenant_id", "webhook_events", ["tenant_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(32), sa.ForeignKey("webhook_events.id"), nullable=False),
        sa.Column("endpoint_id", sa.String(32), sa.ForeignKey("webhook_endpoints.id"), nullable=False),
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("lease_token", sa.String(32)),
        sa.Column("lease_until", TZ),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.String(128)),
        sa.Column("replay_of", sa.String(32)),
        sa.Column("replayed_by", sa.String(160)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivering', 'delivered', 'dead')", name="webhook_delivery_status_valid"
        ),
        sa.CheckConstraint("attempts >= 0", name="webhook_delivery_attempts_not_negative"),
    )
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])
    op.create_index("ix_webhook_deliveries_endpoint_id", "webhook_deliveries", ["endpoint_id"])
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_tenant_created", "webhook_deliveries", ["tenant_id", "created_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("delivery_id", sa.String(32), sa.ForeignKey("webhook_deliveries.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.String(128)),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_endpoints")
