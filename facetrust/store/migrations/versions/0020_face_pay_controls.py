"""The person's own face-pay controls (their limits and a pause) and their disputes of face
payments they do not recognise (issue 24).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_pay_controls",
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("transaction_limit_fen", sa.BigInteger, nullable=True),
        sa.Column("daily_limit_fen", sa.BigInteger, nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("transaction_limit_fen IS NULL OR transaction_limit_fen > 0", name="own_transaction_limit"),
        sa.CheckConstraint("daily_limit_fen IS NULL OR daily_limit_fen > 0", name="own_daily_limit"),
    )
    op.create_index("ix_face_pay_controls_paused_at", "face_pay_controls", ["paused_at"])
    op.create_table(
        "face_pay_disputes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("intent_id", sa.String(32), sa.ForeignKey("payment_intents.id"), nullable=False, unique=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_face_pay_disputes_account_id", "face_pay_disputes", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_face_pay_disputes_account_id", table_name="face_pay_disputes")
    op.drop_table("face_pay_disputes")
    op.drop_index("ix_face_pay_controls_paused_at", table_name="face_pay_controls")
    op.drop_table("face_pay_controls")
