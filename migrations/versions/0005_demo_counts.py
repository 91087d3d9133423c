"""breakdowns by a demographic (or any) item from maintained per-response signatures

response_signatures holds one row per response with its tags, first flag reason and coded
answers packed into four integers; the count refresh keeps it with answer_counts, and
ad-hoc breakdowns read it instead of the answers. (Counts by demographic item at the grain
of answer_counts were measured first: more rows than the answers table itself.) The count
watermark is cleared, so the next refresh (any report, or `flask --app wsgi report refresh`)
fills the new table and rebuilds answer_counts; downgrading leaves answer_counts valid.

Revision ID: 0005_demo_counts
Revises: 0004_analysis
Create Date: 2026-11-21 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_demo_counts'
down_revision = '0004_analysis'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('response_signatures',
    sa.Column('response_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('field_id', sa.Integer(), nullable=True),
    sa.Column('counter_id', sa.Integer(), nullable=True),
    sa.Column('procedure_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('flag_reason', sa.String(length=32), nullable=True),
    sa.Column('answers', sa.Integer(), nullable=False),
    sa.Column('p0', sa.BigInteger(), nullable=False),
    sa.Column('p1', sa.BigInteger(), nullable=False),
    sa.Column('p2', sa.BigInteger(), nullable=False),
    sa.Column('p3', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('response_id', name=op.f('pk_response_signatures'))
    )
    with op.batch_alter_table('response_signatures', schema=None) as batch_op:
        batch_op.create_index('ix_response_signatures_version_month', ['version_id', 'month'], unique=False)
    op.execute("DELETE FROM count_watermarks")


def downgrade() -> None:
    with op.batch_alter_table('response_signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_response_signatures_version_month')

    op.drop_table('response_signatures')
