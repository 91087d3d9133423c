"""citizens' comments marked as reviewed (issue #14)

Revision ID: 0009_comment_reviews
Revises: 0008_sampling
Create Date: 2026-12-01 00:40:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = "0009_comment_reviews"
down_revision = "0008_sampling"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table("comment_reviews",
    sa.Column("answer_id", BigId, nullable=False),
    sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], name=op.f("fk_comment_reviews_answer_id_answers"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["reviewed_by_id"], ["staff_users.id"], name=op.f("fk_comment_reviews_reviewed_by_id_staff_users")),
    sa.PrimaryKeyConstraint("answer_id", name=op.f("pk_comment_reviews")),
    )


def downgrade() -> None:
    op.drop_table("comment_reviews")
