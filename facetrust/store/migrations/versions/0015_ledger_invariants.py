"""Invariants the database keeps too, whatever code writes the rows: no balance below zero on an
account not made to go there, no zero posting, positive amounts, refunds within the payment, a fee
in 0..100 %, a plan's outstanding principal within its principal, valid account and plan states.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CHECKS = {
    "ledger_accounts": [("ledger_balance_not_negative", "may_go_negative OR balance_fen >= 0")],
    "ledger_postings": [("posting_not_zero", "amount_fen <> 0")],
    "payment_intents": [("intent_amount_positive", "amount_fen > 0"),
                        ("intent_refunds_within_amount", "refunded_fen >= 0 AND refunded_fen <= amount_fen"),
                        ("intent_fee_not_negative", "fee_fen >= 0")],
    "refunds": [("refund_amount_positive", "amount_fen > 0")],
    "merchants": [("merchant_fee_bps_range", "fee_bps >= 0 AND fee_bps <= 10000")],
    "accounts": [("account_status_valid", "status IN ('active', 'frozen', 'closed')")],
    "credit_plans": [("plan_principal_within_bounds",
                      "principal_fen > 0 AND outstanding_principal_fen >= 0 AND outstanding_principal_fen <= principal_fen"),
                     ("plan_status_valid", "status IN ('active', 'paid_off')")],
}


def upgrade() -> None:
    # Batch mode: SQLite cannot add a constraint to a table, so the table is copied with it.
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for name, condition in checks:
                batch.create_check_constraint(name, condition)


def downgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for name, _ in checks:
                batch.drop_constraint(name, type_="check")
