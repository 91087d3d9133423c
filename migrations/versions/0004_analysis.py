"""analysis: plan targets, covering indexes for reports, count watermark row counts

plan_targets holds the targets loaded by `flask --app wsgi targets load`. The answers index
gains `code` and answer_counts gets an index in the order reports read it, so reports and the
count refresh read both without touching the tables or sorting. The count watermark also
keeps row counts (a late commit or a deletion below it triggers a full rebuild) and the last
flag id. answer_counts months become Vietnam-time months, so the stored counts are cleared in
both directions: the next refresh (any report, or `flask --app wsgi report refresh`) rebuilds them.

Revision ID: 0004_analysis
Revises: 0003_counts
Create Date: 2026-11-21 07:02:34.490594
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_analysis'
down_revision = '0003_counts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM answer_counts")
    op.execute("DELETE FROM count_watermarks")
    op.create_table('plan_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('source_file', sa.String(length=200), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_targets')),
    sa.UniqueConstraint('target_id', name=op.f('uq_plan_targets_target_id'))
    )
    with op.batch_alter_table('answer_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_counts_version_month'))
        batch_op.create_index('ix_answer_counts_report', ['version_id', 'month', 'unit_id', 'field_id', 'source', 'item_key', 'flag_reason', 'code', 'n'], unique=False)

    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answers_response_item'))
        batch_op.create_index('ix_answers_response_item_code', ['response_id', 'item_key', 'code'], unique=False)

    with op.batch_alter_table('count_watermarks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('responses_seen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_flag_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('flags_seen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), server_default='0', nullable=False))


def downgrade() -> None:
    op.execute("DELETE FROM answer_counts")
    op.execute("DELETE FROM count_watermarks")
    with op.batch_alter_table('count_watermarks', schema=None) as batch_op:
        batch_op.drop_column('flags_seen')
        batch_op.drop_column('last_flag_id')
        batch_op.drop_column('responses_seen')

    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index('ix_answers_response_item_code')
        batch_op.create_index(batch_op.f('ix_answers_response_item'), ['response_id', 'item_key'], unique=False)

    with op.batch_alter_table('answer_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_answer_counts_report')
        batch_op.create_index(batch_op.f('ix_answer_counts_version_month'), ['version_id', 'month'], unique=False)

    op.drop_table('plan_targets')
