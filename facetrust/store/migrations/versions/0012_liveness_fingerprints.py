"""content fingerprints of passed liveness captures, for the replay defence

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'liveness_fingerprints',
        sa.Column('session_id', sa.String(length=32), sa.ForeignKey('liveness_sessions.id'), primary_key=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sealed', sa.LargeBinary(), nullable=False),
        sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
        sa.Column('master_key_id', sa.String(length=32), nullable=False),
    )
    op.create_index(op.f('ix_liveness_fingerprints_created_at'), 'liveness_fingerprints', ['created_at'])
    op.create_table(
        'liveness_fingerprint_bands',
        sa.Column('band', sa.Integer(), primary_key=True),
        sa.Column('session_id', sa.String(length=32),
                  sa.ForeignKey('liveness_fingerprints.session_id', ondelete='CASCADE'), primary_key=True),
    )
    op.create_index(op.f('ix_liveness_fingerprint_bands_session_id'), 'liveness_fingerprint_bands', ['session_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_liveness_fingerprint_bands_session_id'), table_name='liveness_fingerprint_bands')
    op.drop_table('liveness_fingerprint_bands')
    op.drop_index(op.f('ix_liveness_fingerprints_created_at'), table_name='liveness_fingerprints')
    op.drop_table('liveness_fingerprints')
