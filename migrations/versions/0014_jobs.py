"""jobs: the poster jobs' table becomes the staff side's one table of background jobs, with a
`kind` (posters, frame_import) and a JSON `result` (issue #15: frame imports run as jobs)

Created anew and filled from poster_jobs (ids kept), so its names follow the naming convention.

Revision ID: 0014_jobs
Revises: 0013_paper_entry
Create Date: 2026-12-01 06:20:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = "0014_jobs"
down_revision = "0013_paper_entry"
branch_labels = None
depends_on = None

COMMON = ("id", "state", "done", "total", "user_id", "unit_id", "options", "result_path", "error", "created_at",
          "started_at", "heartbeat_at", "finished_at")


def _table(name: str, extra: list) -> None:
    op.create_table(name,
    sa.Column("id", sa.Integer(), nullable=False),
    *extra,
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
    sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f(f"fk_{name}_unit_id_units")),
    sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"], name=op.f(f"fk_{name}_user_id_staff_users")),
    sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )
    for column in ("state", "unit_id", "user_id"):
        op.create_index(op.f(f"ix_{name}_{column}"), name, [column], unique=False)


def _drop(name: str, columns: tuple[str, ...]) -> None:
    for column in columns:
        op.drop_index(op.f(f"ix_{name}_{column}"), table_name=name)
    op.drop_table(name)


def _restart_ids(name: str) -> None:
    """PostgreSQL: rows were copied with their ids, so the serial must continue after the largest."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)")


def upgrade() -> None:
    _table("jobs", [sa.Column("kind", sa.String(length=20), server_default="posters", nullable=False),
                    sa.Column("result", sa.Text(), nullable=True)])
    op.create_index(op.f("ix_jobs_kind"), "jobs", ["kind"], unique=False)
    columns = ", ".join(COMMON)
    op.execute(f"INSERT INTO jobs ({columns}, kind) SELECT {columns}, 'posters' FROM poster_jobs")
    _restart_ids("jobs")
    _drop("poster_jobs", ("user_id", "unit_id", "state"))


def downgrade() -> None:
    """Poster jobs go back to their table; other kinds (frame imports, finished by now) are dropped."""
    _table("poster_jobs", [])
    columns = ", ".join(COMMON)
    op.execute(f"INSERT INTO poster_jobs ({columns}) SELECT {columns} FROM jobs WHERE kind = 'posters'")
    _restart_ids("poster_jobs")
    _drop("jobs", ("user_id", "unit_id", "state", "kind"))
