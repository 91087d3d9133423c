"""survey/db.py: engine settings, aware UTC timestamps on both databases, migration transactions."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, select, text

from survey import create_app
from survey.db import (
    Base,
    UTCDateTime,
    engine,
    get_report_session,
    get_session,
    make_engine,
    migration_connection,
    normalize_url,
)
from survey.models import DossierToken, Unit

VN = timezone(timedelta(hours=7))


def test_postgres_urls_mean_psycopg3():
    assert normalize_url("postgresql://u:p@db/sipas").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@db/sipas").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.sqlite3").drivername == "sqlite"


def test_every_timestamp_column_is_utc_aware():
    """A plain DateTime column would come back naive from SQLite and aware from PostgreSQL."""
    plain = [f"{t.name}.{c.name}" for t in Base.metadata.tables.values() for c in t.columns
             if isinstance(c.type, DateTime) and not isinstance(c.type, UTCDateTime)]
    assert plain == []


def test_timestamps_round_trip_as_aware_utc(app):
    """08:00 in Hà Nội is stored as 01:00 UTC and read back aware on both databases, so
    comparing with datetime.now(UTC) works everywhere and SQL comparisons agree."""
    local = datetime(2026, 11, 21, 8, 0, tzinfo=VN)
    with app.app_context():
        session = get_session()
        unit = Unit(code="u1", name="Xã A", kind="commune", path="/")
        session.add(unit)
        session.flush()
        session.add(DossierToken(unit_id=unit.id, dossier_code="H1", expires_at=local))
        session.commit()
        session.expunge_all()
        token = session.scalar(select(DossierToken))
        assert token.expires_at.tzinfo is not None
        assert token.expires_at.utcoffset() == timedelta(0)
        assert token.expires_at == local
        assert token.expires_at.hour == 1
        assert token.expires_at < datetime.now(UTC)
        assert token.issued_at.tzinfo is not None and token.issued_at > token.expires_at
        # the database compares instants too, whatever zone the parameter is written in
        assert session.scalar(select(DossierToken.id).where(DossierToken.expires_at > datetime(2026, 11, 21, 7, 59, tzinfo=VN)))
        assert session.scalar(select(DossierToken.id).where(DossierToken.expires_at > datetime(2026, 11, 21, 1, 1, tzinfo=UTC))) is None


def test_naive_timestamps_are_refused(app):
    with app.app_context():
        session = get_session()
        unit = Unit(code="u2", name="Xã B", kind="commune", path="/")
        session.add(unit)
        session.flush()
        session.add(DossierToken(unit_id=unit.id, dossier_code="H2", expires_at=datetime(2026, 1, 1)))
        with pytest.raises(Exception, match="naive datetime"):
            session.flush()
        session.rollback()


def test_sqlite_is_durable_and_concurrent(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    eng.dispose()


def test_postgres_engine_is_psycopg3_and_checks_connections_before_use():
    eng = make_engine("postgresql://sipas@127.0.0.1:1/sipas")
    assert eng.dialect.driver == "psycopg"
    assert eng.pool._pre_ping is True


def test_migration_connection_is_all_or_nothing(app):
    """DDL and data in one migration commit together or not at all, on both databases."""
    with app.app_context():
        eng = engine()
        with pytest.raises(RuntimeError, match="boom"):
            with migration_connection(eng) as conn:
                conn.exec_driver_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
                conn.exec_driver_sql("INSERT INTO probe (id) VALUES (1)")
                raise RuntimeError("boom")
        with eng.connect() as conn:
            assert "probe" not in conn.dialect.get_table_names(conn)
        with migration_connection(eng) as conn:
            conn.exec_driver_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
        with eng.connect() as conn:
            assert "probe" in conn.dialect.get_table_names(conn)
            if conn.dialect.name == "sqlite":  # the connection went back to the pool with its checks on
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_migration_refuses_broken_foreign_keys(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'fk.sqlite3'}")
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))")
    with pytest.raises(RuntimeError, match="broken foreign keys"):
        with migration_connection(eng) as conn:
            conn.exec_driver_sql("INSERT INTO child (id, parent_id) VALUES (1, 42)")
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM child")).scalar() == 0
    eng.dispose()


def test_reports_read_from_the_replica_when_one_is_configured(tmp_path):
    primary, replica = tmp_path / "primary.sqlite3", tmp_path / "replica.sqlite3"
    for path, name in ((primary, "primary"), (replica, "replica")):
        eng = make_engine(f"sqlite:///{path}")
        with eng.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE whoami (name TEXT)")
            conn.exec_driver_sql(f"INSERT INTO whoami VALUES ('{name}')")
        eng.dispose()
    for replica_url, expected in ((f"sqlite:///{replica}", "replica"), (None, "primary")):
        config = {"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": f"sqlite:///{primary}"}
        if replica_url:
            config["REPORTS_DATABASE_URL"] = replica_url
        app = create_app(config)
        with app.app_context():
            assert get_session().scalar(text("SELECT name FROM whoami")) == "primary"
            assert get_report_session().scalar(text("SELECT name FROM whoami")) == expected
        with app.app_context():
            engine().dispose()
            app.extensions["survey_db"]["report_sessionmaker"].kw["bind"].dispose()


def test_sqlite_file_is_created_private_and_an_older_wide_one_is_tightened(tmp_path):
    """The database holds every response: 0600 from creation (its -wal/-shm files follow its
    mode), and a file an older version left 0644 is tightened on the next connection."""
    import os
    import sqlite3
    import stat

    old = os.umask(0o022)
    try:
        fresh = make_engine(f"sqlite:///{tmp_path / 'new.sqlite3'}")
        with fresh.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        fresh.dispose()
        assert modes == {"new.sqlite3": 0o600, "new.sqlite3-wal": 0o600, "new.sqlite3-shm": 0o600}
        wide = tmp_path / "old.sqlite3"
        sqlite3.connect(wide).close()
        wide.chmod(0o644)
        older = make_engine(f"sqlite:///{wide}")
        with older.connect() as conn:
            conn.execute(text("SELECT 1"))
        older.dispose()
        assert stat.S_IMODE(wide.stat().st_mode) == 0o600
    finally:
        os.umask(old)
