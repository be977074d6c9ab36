"""indexes for the operator console: today's figures and lookup by mobile

Revision ID: 0011
Revises: 0010
"""

from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# (table, column): the dashboard counts each by day and hour; operators look accounts up by mobile.
INDEXED = [('payment_intents', 'decided_at'), ('liveness_sessions', 'decided_at'), ('credit_plans', 'created_at'),
           ('real_name_authentications', 'created_at'), ('accounts', 'mobile')]


def upgrade() -> None:
    for table, column in INDEXED:
        op.create_index(op.f(f'ix_{table}_{column}'), table, [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXED):
        op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
