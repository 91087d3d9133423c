"""answer counts

Revision ID: 0003_counts
Revises: 0002_qr
Create Date: 2026-11-21 05:58:03.127114
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_counts'
down_revision = '0002_qr'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('count_watermarks',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('last_response_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_count_watermarks'))
    )
    op.create_table('answer_counts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('field_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('flag_reason', sa.String(length=32), nullable=True),
    sa.Column('item_key', sa.String(length=64), nullable=False),
    sa.Column('code', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['field_id'], ['fields.id'], name=op.f('fk_answer_counts_field_id_fields')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_answer_counts_unit_id_units')),
    sa.ForeignKeyConstraint(['version_id'], ['questionnaire_versions.id'], name=op.f('fk_answer_counts_version_id_questionnaire_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answer_counts'))
    )
    with op.batch_alter_table('answer_counts', schema=None) as batch_op:
        batch_op.create_index('ix_answer_counts_version_month', ['version_id', 'month'], unique=False)

    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_submitted_at', ['submitted_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_submitted_at')

    with op.batch_alter_table('answer_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_answer_counts_version_month')

    op.drop_table('answer_counts')
    op.drop_table('count_watermarks')
