"""a user token carries the device the platform vouched for when minting it

Revision ID: 0014
Revises: 0013_identity
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013_identity'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('credentials') as batch_op:
        batch_op.add_column(sa.Column('device_id', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('credentials') as batch_op:
        batch_op.drop_column('device_id')
