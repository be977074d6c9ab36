"""Returns of goods bought on installments: each return and how it unwound its plan, the goods'
value a plan has had returned, a plan wholly returned (status ``returned``).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('active', 'paid_off')"
NEW_STATUSES = "status IN ('active', 'paid_off', 'returned')"


def upgrade() -> None:
    op.create_table(
        "credit_returns",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("plan_id", sa.String(32), nullable=False),
        sa.Column("merchant_id", sa.String(32), nullable=False),
        sa.Column("terminal_id", sa.String(32), nullable=False),
        sa.Column("merchant_return_id", sa.String(64), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("principal_cancelled_fen", sa.BigInteger(), nullable=False),
        sa.Column("principal_refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_cancelled_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_cancelled_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("wallet_fen", sa.BigInteger(), nullable=False),
        sa.Column("merchant_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "amount_fen > 0 AND amount_fen = principal_cancelled_fen + principal_refunded_fen "
            "AND wallet_fen = principal_refunded_fen + fee_refunded_fen + interest_refunded_fen",
            name="credit_return_amounts_add_up",
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["credit_plans.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "merchant_return_id"),
    )
    op.create_index("ix_credit_returns_plan_id", "credit_returns", ["plan_id"])
    op.create_index("ix_credit_returns_merchant_id", "credit_returns", ["merchant_id"])
    # Batch mode: SQLite cannot change a table's constraints in place, so the table is copied.
    with op.batch_alter_table("credit_plans") as batch:
        batch.add_column(sa.Column("returned_fen", sa.BigInteger(), nullable=False, server_default="0"))
        batch.drop_constraint("plan_status_valid", type_="check")
        batch.create_check_constraint("plan_status_valid", NEW_STATUSES)
        batch.create_check_constraint(
            "plan_returned_within_principal", "returned_fen >= 0 AND returned_fen <= principal_fen"
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_plans") as batch:
        batch.drop_constraint("plan_returned_within_principal", type_="check")
        batch.drop_constraint("plan_status_valid", type_="check")
        batch.create_check_constraint("plan_status_valid", OLD_STATUSES)
        batch.drop_column("returned_fen")
    op.drop_index("ix_credit_returns_merchant_id", table_name="credit_returns")
    op.drop_index("ix_credit_returns_plan_id", table_name="credit_returns")
    op.drop_table("credit_returns")
