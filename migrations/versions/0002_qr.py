"""counters and QR: index responses by device hash for repeat checks

Revision ID: 0002_qr
Revises: 0001_initial
"""
from alembic import op

revision = "0002_qr"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every counter/dossier submit asks "did this device answer here in the last minutes?".
    op.create_index(op.f("ix_responses_device_hash"), "responses", ["device_hash"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_responses_device_hash"), table_name="responses")
