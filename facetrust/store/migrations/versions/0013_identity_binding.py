"""issue 19 (identity): one identity per account, bank-card one-time codes, guardians' birth dates,
the KYC template kept for the AML period

Revision ID: 0013_identity
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = '0013_identity'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('real_name_id_hash', sa.String(length=64), nullable=True))
    # An account already authenticated is bound to the identity its first pass proved.
    op.execute(
        "UPDATE accounts SET real_name_id_hash = (SELECT r.id_number_hash FROM real_name_authentications r "
        "WHERE r.account_id = accounts.id AND r.outcome = 'passed' ORDER BY r.created_at LIMIT 1)")
    op.create_table(
        'bank_card_challenges',
        sa.Column('id', sa.String(length=32), primary_key=True),
        sa.Column('account_id', sa.String(length=32), sa.ForeignKey('accounts.id'), nullable=False),
        sa.Column('id_number_hash', sa.String(length=64), nullable=False),
        sa.Column('card_hash', sa.String(length=64), nullable=False),
        sa.Column('identity_sealed', sa.LargeBinary(), nullable=True),
        sa.Column('identity_wrapped_key', sa.LargeBinary(), nullable=True),
        sa.Column('master_key_id', sa.String(length=32), nullable=True),
        sa.Column('bank_reference', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=128), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('attempts >= 0 AND attempts <= 5', name='bank_code_attempts'),
        sa.CheckConstraint("status IN ('pending', 'passed', 'failed')", name='bank_challenge_status'),
    )
    op.create_index(op.f('ix_bank_card_challenges_account_id'), 'bank_card_challenges', ['account_id'])
    op.create_index(op.f('ix_bank_card_challenges_card_hash'), 'bank_card_challenges', ['card_hash'])
    # A guardian's age is checked whenever a child's consent is relied on; grants made before this
    # column have none, so they no longer count for a child (the guardian consents again).
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guardian_birth_date', sa.Date(), nullable=True))
    with op.batch_alter_table('face_templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retain_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('face_templates', schema=None) as batch_op:
        batch_op.drop_column('retain_until')
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_column('guardian_birth_date')
    op.drop_index(op.f('ix_bank_card_challenges_card_hash'), table_name='bank_card_challenges')
    op.drop_index(op.f('ix_bank_card_challenges_account_id'), table_name='bank_card_challenges')
    op.drop_table('bank_card_challenges')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('real_name_id_hash')
