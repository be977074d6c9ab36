"""An index for browsing the audit log from the console: pages newest first, ordered by time and
then sequence number (GET /v1/operator/audit), read from the index rather than by sorting the log.

Revision ID: 0022
Revises: 0021
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_at_seq", "audit_log", ["at", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at_seq", table_name="audit_log")
