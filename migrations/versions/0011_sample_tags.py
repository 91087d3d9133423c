"""sampled responses carry their draw and stratum; Neyman designs keep the S_h they used (issue #15)

`responses.sample_draw_id` and `responses.stratum` tag a sampled response anonymously (never the
member or respondent code), so weighted estimates group by stratum. `sample_designs.neyman_basis`
is JSON {stratum: [p, answers, fallback]} frozen at save time so `sample verify` re-derives the
same allocation even after last period's responses change.

Revision ID: 0011_sample_tags
Revises: 0010_poster_jobs
Create Date: 2026-12-01 02:50:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = "0011_sample_tags"
down_revision = "0010_poster_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sample_draw_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("stratum", sa.String(length=120), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_responses_sample_draw_id_sample_draws"), "sample_draws",
                                    ["sample_draw_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_responses_sample_draw_id"), ["sample_draw_id"], unique=False)
    with op.batch_alter_table("sample_designs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("neyman_basis", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sample_designs", schema=None) as batch_op:
        batch_op.drop_column("neyman_basis")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_responses_sample_draw_id"))
        batch_op.drop_constraint(batch_op.f("fk_responses_sample_draw_id_sample_draws"), type_="foreignkey")
        batch_op.drop_column("stratum")
        batch_op.drop_column("sample_draw_id")
