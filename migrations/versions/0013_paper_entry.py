"""paper entry: double-entry option, keyings, re-check subsamples, who keyed or interviewed (issue #15)

`paper_keyings` holds the keyings of a paper form beside its sample member (personal data, never
in the responses table; deleted with the member). `staff_entries` records the staff login that
keyed or interviewed a stored response, never the respondent.

Revision ID: 0013_paper_entry
Revises: 0012_published_reports
Create Date: 2026-12-01 03:05:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = "0013_paper_entry"
down_revision = "0012_published_reports"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table("draw_entry_options",
    sa.Column("draw_id", sa.Integer(), nullable=False),
    sa.Column("double_entry", sa.Boolean(), nullable=False),
    sa.Column("actor_login", sa.String(length=64), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["draw_id"], ["sample_draws.id"], name=op.f("fk_draw_entry_options_draw_id_sample_draws"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("draw_id", name=op.f("pk_draw_entry_options")),
    )
    op.create_table("paper_keyings",
    sa.Column("id", BigId, autoincrement=True, nullable=False),
    sa.Column("member_id", BigId, nullable=False),
    sa.Column("round", sa.String(length=8), nullable=False),
    sa.Column("version_id", sa.Integer(), nullable=False),
    sa.Column("keyer_login", sa.String(length=64), nullable=False),
    sa.Column("answers", sa.Text(), nullable=False),
    sa.Column("keyed_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["member_id"], ["sample_members.id"], name=op.f("fk_paper_keyings_member_id_sample_members"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["version_id"], ["questionnaire_versions.id"], name=op.f("fk_paper_keyings_version_id_questionnaire_versions")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_keyings")),
    sa.UniqueConstraint("member_id", "round", name=op.f("uq_paper_keyings_member_id_round")),
    )
    op.create_index(op.f("ix_paper_keyings_member_id"), "paper_keyings", ["member_id"], unique=False)
    op.create_table("paper_rechecks",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("draw_id", sa.Integer(), nullable=False),
    sa.Column("seed", sa.String(length=64), nullable=False),
    sa.Column("size", sa.String(length=12), nullable=False),
    sa.Column("returned", sa.Integer(), nullable=False),
    sa.Column("codes", sa.Text(), nullable=False),
    sa.Column("actor_login", sa.String(length=64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["draw_id"], ["sample_draws.id"], name=op.f("fk_paper_rechecks_draw_id_sample_draws"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_rechecks")),
    )
    op.create_index(op.f("ix_paper_rechecks_draw_id"), "paper_rechecks", ["draw_id"], unique=False)
    op.create_table("staff_entries",
    sa.Column("response_id", BigId, nullable=False),
    sa.Column("channel", sa.String(length=16), nullable=False),
    sa.Column("staff_login", sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(["response_id"], ["responses.id"], name=op.f("fk_staff_entries_response_id_responses"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("response_id", name=op.f("pk_staff_entries")),
    )


def downgrade() -> None:
    op.drop_table("staff_entries")
    op.drop_index(op.f("ix_paper_rechecks_draw_id"), table_name="paper_rechecks")
    op.drop_table("paper_rechecks")
    op.drop_index(op.f("ix_paper_keyings_member_id"), table_name="paper_keyings")
    op.drop_table("paper_keyings")
    op.drop_table("draw_entry_options")
