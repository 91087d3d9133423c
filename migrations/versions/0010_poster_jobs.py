"""poster jobs: staff poster PDFs laid out in the background, with progress (issue #13)

Revision ID: 0010_poster_jobs
Revises: 0009_comment_reviews
Create Date: 2026-12-01 02:55:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = "0010_poster_jobs"
down_revision = "0009_comment_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("poster_jobs",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(length=10), nullable=False),
    sa.Column("done", sa.Integer(), nullable=False),
    sa.Column("total", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=True),
    sa.Column("unit_id", sa.Integer(), nullable=False),
    sa.Column("options", sa.Text(), nullable=True),
    sa.Column("result_path", sa.String(length=400), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_poster_jobs_unit_id_units")),
    sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"], name=op.f("fk_poster_jobs_user_id_staff_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_poster_jobs")),
    )
    op.create_index(op.f("ix_poster_jobs_state"), "poster_jobs", ["state"], unique=False)
    op.create_index(op.f("ix_poster_jobs_unit_id"), "poster_jobs", ["unit_id"], unique=False)
    op.create_index(op.f("ix_poster_jobs_user_id"), "poster_jobs", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_poster_jobs_user_id"), table_name="poster_jobs")
    op.drop_index(op.f("ix_poster_jobs_unit_id"), table_name="poster_jobs")
    op.drop_index(op.f("ix_poster_jobs_state"), table_name="poster_jobs")
    op.drop_table("poster_jobs")
