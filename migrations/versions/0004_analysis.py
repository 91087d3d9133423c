"""analysis: plan targets, count watermark row counts

plan_targets holds the targets loaded by `flask --app wsgi targets load`. The count watermark
also keeps row counts (late commits and deletions trigger a full rebuild) and the flag id.
answer_counts months become Vietnam-time months, so the stored counts are cleared in both
directions: the next refresh (any report, or `flask --app wsgi report refresh`) rebuilds them.

Revision ID: 0004_analysis
Revises: 0003_counts
Create Date: 2026-11-21 06:14:22.734034
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_analysis'
down_revision = '0003_counts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plan_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('source_file', sa.String(length=200), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_targets')),
    sa.UniqueConstraint('target_id', name=op.f('uq_plan_targets_target_id'))
    )
    with op.batch_alter_table('count_watermarks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('responses_seen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_flag_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('flags_seen', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), server_default='0', nullable=False))
    op.execute("DELETE FROM answer_counts")
    op.execute("DELETE FROM count_watermarks")


def downgrade() -> None:
    op.execute("DELETE FROM answer_counts")
    op.execute("DELETE FROM count_watermarks")
    with op.batch_alter_table('count_watermarks', schema=None) as batch_op:
        batch_op.drop_column('flags_seen')
        batch_op.drop_column('last_flag_id')
        batch_op.drop_column('responses_seen')

    op.drop_table('plan_targets')
