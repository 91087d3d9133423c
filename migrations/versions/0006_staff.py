"""staff side: accounts, roles on units, append-only audit trail

Revision ID: 0006_staff
Revises: 0005_demo_counts
Create Date: 2026-11-30 23:45:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_staff"
down_revision = "0005_demo_counts"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table("staff_users",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("login", sa.String(length=64), nullable=False),
    sa.Column("full_name", sa.String(length=200), nullable=False),
    sa.Column("password_hash", sa.String(length=256), nullable=False),
    sa.Column("must_change_password", sa.Boolean(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("session_version", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
    sa.UniqueConstraint("login", name=op.f("uq_staff_users_login")),
    )
    op.create_table("staff_roles",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("role", sa.String(length=20), nullable=False),
    sa.Column("unit_id", sa.Integer(), nullable=True),
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("granted_by_id", sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(["granted_by_id"], ["staff_users.id"], name=op.f("fk_staff_roles_granted_by_id_staff_users")),
    sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_staff_roles_unit_id_units")),
    sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"], name=op.f("fk_staff_roles_user_id_staff_users")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_roles")),
    sa.UniqueConstraint("user_id", "role", "unit_id", name=op.f("uq_staff_roles_user_id_role_unit_id")),
    )
    op.create_index(op.f("ix_staff_roles_unit_id"), "staff_roles", ["unit_id"], unique=False)
    op.create_index(op.f("ix_staff_roles_user_id"), "staff_roles", ["user_id"], unique=False)
    op.create_table("audit_events",
    sa.Column("id", BigId, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor_id", sa.Integer(), nullable=True),
    sa.Column("actor_login", sa.String(length=64), nullable=True),
    sa.Column("action", sa.String(length=40), nullable=False),
    sa.Column("unit_id", sa.Integer(), nullable=True),
    sa.Column("target", sa.String(length=200), nullable=True),
    sa.Column("detail", sa.Text(), nullable=True),
    sa.Column("remote_addr", sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(["actor_id"], ["staff_users.id"], name=op.f("fk_audit_events_actor_id_staff_users")),
    sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_audit_events_unit_id_units")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "at"], unique=False)
    op.create_index(op.f("ix_audit_events_actor_id"), "audit_events", ["actor_id"], unique=False)
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("staff_roles")
    op.drop_table("staff_users")
