"""Operators scoped to tenants: an ``operators`` table naming each managed operator's tenant (NULL:
the platform, across tenants), role and status.

Existing operators (tokens issued by ``facetrust operators token`` before this migration) get no
row: an operator without a row is a platform operator with their token's role, exactly what they
were before, so nobody loses or gains access by upgrading.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("tenant_id", sa.String(32), sa.ForeignKey("tenants.id"), nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="operator_status_valid"),
        sa.CheckConstraint("role IN ('risk_analyst', 'compliance_officer', 'admin')", name="operator_role_valid"),
    )
    op.create_index("ix_operators_tenant_id", "operators", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_operators_tenant_id", table_name="operators")
    op.drop_table("operators")
