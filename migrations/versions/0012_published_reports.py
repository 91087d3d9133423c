"""published reports frozen: PDF and XLSX bytes, figures, filters, method, cut-off, publisher (issue #14)

Rows are only inserted; a correction is a new version linking the one it corrects.

Revision ID: 0012_published_reports
Revises: 0011_sample_tags
Create Date: 2026-12-01 02:48:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = "0012_published_reports"
down_revision = "0011_sample_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("published_reports",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("unit_id", sa.Integer(), nullable=False),
    sa.Column("report_key", sa.String(length=300), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("corrects_id", sa.Integer(), nullable=True),
    sa.Column("number", sa.String(length=80), nullable=True),
    sa.Column("title", sa.String(length=400), nullable=False),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("filters", sa.Text(), nullable=False),
    sa.Column("method", sa.Text(), nullable=False),
    sa.Column("figures", sa.Text(), nullable=False),
    sa.Column("data_cutoff", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_by_id", sa.Integer(), nullable=True),
    sa.Column("published_by_login", sa.String(length=64), nullable=True),
    sa.Column("pdf", sa.LargeBinary(), nullable=False),
    sa.Column("xlsx", sa.LargeBinary(), nullable=False),
    sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
    sa.Column("xlsx_sha256", sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(["corrects_id"], ["published_reports.id"], name=op.f("fk_published_reports_corrects_id_published_reports")),
    sa.ForeignKeyConstraint(["published_by_id"], ["staff_users.id"], name=op.f("fk_published_reports_published_by_id_staff_users")),
    sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_published_reports_unit_id_units")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_published_reports")),
    sa.UniqueConstraint("report_key", "version", name=op.f("uq_published_reports_report_key_version")),
    )
    with op.batch_alter_table("published_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_published_reports_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("published_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_published_reports_unit_id"))
    op.drop_table("published_reports")
