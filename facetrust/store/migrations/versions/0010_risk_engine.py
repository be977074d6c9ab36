"""risk engine

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The first layer's info-only risk events are replaced by the typed event store (nothing
    # decided on them; they are not carried over).
    op.drop_table('risk_events')
    op.create_table('risk_events',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=True),
    sa.Column('device_id', sa.String(length=128), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('merchant_id', sa.String(length=32), nullable=True),
    sa.Column('address_hash', sa.String(length=64), nullable=True),
    sa.Column('face_key', sa.String(length=32), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('periods', sa.Integer(), nullable=True),
    sa.Column('ref', sa.String(length=64), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    for name, columns in (('account', 'account_id'), ('device', 'device_id'), ('ip', 'ip'), ('merchant', 'merchant_id'),
                          ('address', 'address_hash'), ('face', 'face_key'), ('kind', 'kind')):
        op.create_index(f'ix_risk_events_{name}_at', 'risk_events', [columns, 'at'], unique=False)
    op.create_index('ix_risk_events_ref', 'risk_events', ['ref'], unique=False)
    op.create_table('risk_rule_sets',
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    op.create_table('risk_decisions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('event_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('rules', sa.Text(), nullable=False),
    sa.Column('typologies', sa.Text(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('features', sa.Text(), nullable=False),
    sa.Column('rule_set_version', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_seq'], ['risk_events.seq'], ),
    sa.ForeignKeyConstraint(['rule_set_version'], ['risk_rule_sets.version'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_seq')
    )
    with op.batch_alter_table('risk_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_decisions_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_decisions_at'), ['at'], unique=False)

    op.create_table('risk_cases',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=True),
    sa.Column('merchant_id', sa.String(length=32), nullable=True),
    sa.Column('decision_id', sa.String(length=32), nullable=True),
    sa.Column('typologies', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('assignee', sa.String(length=160), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['risk_decisions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('risk_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_cases_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_cases_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_cases_status'), ['status'], unique=False)

    op.create_table('risk_case_notes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('author', sa.String(length=160), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['risk_cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('risk_case_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_case_notes_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('credit_checkouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipping_address_hash', sa.String(length=64), nullable=True))

    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.Float(), nullable=True))

    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_event_seq', sa.BigInteger(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('payment_intents', schema=None) as batch_op:
        batch_op.drop_column('risk_event_seq')

    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('longitude')
        batch_op.drop_column('latitude')

    with op.batch_alter_table('credit_checkouts', schema=None) as batch_op:
        batch_op.drop_column('shipping_address_hash')

    with op.batch_alter_table('risk_case_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_case_notes_case_id'))

    op.drop_table('risk_case_notes')
    with op.batch_alter_table('risk_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_cases_status'))
        batch_op.drop_index(batch_op.f('ix_risk_cases_merchant_id'))
        batch_op.drop_index(batch_op.f('ix_risk_cases_account_id'))

    op.drop_table('risk_cases')
    with op.batch_alter_table('risk_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_decisions_at'))
        batch_op.drop_index(batch_op.f('ix_risk_decisions_account_id'))

    op.drop_table('risk_decisions')
    op.drop_table('risk_rule_sets')
    op.drop_table('risk_events')
    op.create_table('risk_events',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('rule_version', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
