"""answer_counts: a second covering index, with the unit last, for reads summed over units

The dashboard's field table and trend (and any report not grouped by unit) sum answer_counts
over the units of a subtree by version × month × field × source × item × flag × code. In the
order of ix_answer_counts_report (unit third) the database sorts every cell of the window to
group them; in this order it streams the groups and only filters the unit (issue #14: about
0.6 → 0.3 s CPU of SQLite at 1,000,000 responses).

Revision ID: 0015_answer_counts_grouped
Revises: 0014_jobs
Create Date: 2026-12-01 06:30:00.000000
"""
from alembic import op


revision = '0015_answer_counts_grouped'
down_revision = '0014_jobs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('answer_counts', schema=None) as batch_op:
        batch_op.create_index('ix_answer_counts_grouped', ['version_id', 'month', 'field_id', 'source', 'item_key',
                                                          'flag_reason', 'code', 'unit_id', 'n'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('answer_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_answer_counts_grouped')
