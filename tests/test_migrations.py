"""Alembic migrations: the migrated schema is the models' schema on both databases, every
revision downgrades, a second run changes nothing, and a failed run leaves nothing behind."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import survey.models  # noqa: F401
from bench.pgcluster import free_port
from survey import create_app
from survey.commands.core import alembic_config
from survey.db import Base, engine, migration_connection

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bare_app(database_url: str):
    """An app on an empty database: no create_all, migrations do the work."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": database_url})
    yield app
    with app.app_context():
        engine().dispose()


def db(app, *args: str):
    result = app.test_cli_runner().invoke(args=["db", *args])
    return result


def current(app) -> str | None:
    with app.app_context(), engine().connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_diff(app) -> list:
    with app.app_context(), engine().connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": conn.dialect.name == "sqlite"})
        return compare_metadata(ctx, Base.metadata)


def app_tables(app) -> set[str]:
    with app.app_context(), engine().connect() as conn:
        return set(inspect(conn).get_table_names()) & set(Base.metadata.tables)


def revisions() -> list[str]:
    """Every revision, oldest first (a single line of history)."""
    with create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": "sqlite://"}).app_context():
        script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_history_is_one_line():
    with create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": "sqlite://"}).app_context():
        script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "two heads: merge them (alembic merge)"
    assert revisions()[0] == "0001_initial"


def test_migrated_schema_equals_models(bare_app):
    result = db(bare_app, "upgrade")
    assert result.exit_code == 0, result.output
    assert current(bare_app) == revisions()[-1]
    assert schema_diff(bare_app) == []


def test_upgrade_twice_changes_nothing(bare_app):
    assert db(bare_app, "upgrade").exit_code == 0
    again = db(bare_app, "upgrade")
    assert again.exit_code == 0, again.output
    assert current(bare_app) == revisions()[-1]
    assert schema_diff(bare_app) == []


def test_every_revision_downgrades_and_upgrades_again(bare_app):
    history = revisions()
    assert db(bare_app, "upgrade").exit_code == 0
    for expected in reversed([None, *history[:-1]]):
        result = db(bare_app, "downgrade", expected or "base")
        assert result.exit_code == 0, result.output
        assert current(bare_app) == expected
    assert app_tables(bare_app) == set()
    for rev in history:  # and up again one step at a time
        result = db(bare_app, "upgrade", "+1")
        assert result.exit_code == 0, result.output
        assert current(bare_app) == rev
    assert schema_diff(bare_app) == []


def test_failed_migration_leaves_nothing_behind(bare_app, tmp_path):
    """A revision that fails half-way is rolled back whole (SQLite included), and the
    database stays at the previous revision."""
    assert db(bare_app, "upgrade").exit_code == 0
    head = revisions()[-1]
    scripts = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_broken.py").write_text(f'''
from alembic import op
import sqlalchemy as sa
revision = "9999_broken"
down_revision = "{head}"
def upgrade():
    op.create_table("probe", sa.Column("id", sa.Integer, primary_key=True))
    op.add_column("units", sa.Column("probe", sa.Integer))
    op.execute("INSERT INTO no_such_table VALUES (1)")
def downgrade():
    pass
''')
    with bare_app.app_context():
        cfg = alembic_config()
        cfg.set_main_option("script_location", str(scripts))
        with pytest.raises(Exception, match="no_such_table"):
            with migration_connection(engine()) as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
    assert current(bare_app) == head
    with bare_app.app_context(), engine().connect() as conn:
        assert "probe" not in inspect(conn).get_table_names()
    assert schema_diff(bare_app) == []  # units.probe is gone too


def test_schema_made_without_migrations_is_explained(bare_app):
    """Tables but no history (made by create_all or by hand): say what to do, change nothing."""
    with bare_app.app_context():
        Base.metadata.create_all(engine())
    result = db(bare_app, "upgrade")
    assert result.exit_code == 1
    assert "không có lịch sử migration" in result.output and "db stamp head" in result.output
    assert "Traceback" not in result.output
    assert current(bare_app) is None
    assert db(bare_app, "stamp", "head").exit_code == 0
    assert db(bare_app, "upgrade").exit_code == 0
    assert current(bare_app) == revisions()[-1]


@pytest.mark.parametrize("url", [
    "sqlite:///{tmp}/no/such/dir/survey.sqlite3",
    "postgresql://sipas:secret@127.0.0.1:{port}/sipas",
], ids=["sqlite-missing", "pg-refused"])
def test_upgrade_against_a_database_that_is_down_is_one_clear_line(url, tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": url.format(tmp=tmp_path, port=free_port())})
    result = db(app, "upgrade")
    with app.app_context():
        engine().dispose()
    assert result.exit_code == 1
    assert result.output.startswith("Error: lỗi cơ sở dữ liệu tại ")
    assert "secret" not in result.output, "the password is never printed"
    assert "Traceback" not in result.output
