"""unit HMAC secrets stored wrapped under the link key (issue #9)

The column is renamed so that no code (or person reading a dump) takes its content for a usable
secret. Values are not converted here: a migration does not hold the link key (it lives in the
app's configuration, not in the database). Rows from before this revision keep their clear
secret, still verify, and are wrapped by `flask --app wsgi units rewrap-secrets`.

Revision ID: 0007_wrapped_secrets
Revises: 0006_staff
Create Date: 2026-12-01 00:30:00.000000
"""
import click
from alembic import op
import sqlalchemy as sa

revision = "0007_wrapped_secrets"
down_revision = "0006_staff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unit_credentials") as batch:
        batch.alter_column("hmac_secret", new_column_name="hmac_secret_wrapped",
                           existing_type=sa.String(length=128), type_=sa.String(length=160), existing_nullable=False)


def downgrade() -> None:
    wrapped = op.get_bind().execute(
        sa.text("SELECT count(*) FROM unit_credentials WHERE hmac_secret_wrapped LIKE 'v1.%'")
    ).scalar()
    if wrapped:
        raise click.ClickException(  # one line under `flask db downgrade`, not a trace
            f"{wrapped} unit HMAC secret(s) are stored wrapped, which the code before this revision cannot read: "
            "run `flask --app wsgi units rewrap-secrets --clear` first, then downgrade"
        )
    with op.batch_alter_table("unit_credentials") as batch:
        batch.alter_column("hmac_secret_wrapped", new_column_name="hmac_secret",
                           existing_type=sa.String(length=160), type_=sa.String(length=128), existing_nullable=False)
