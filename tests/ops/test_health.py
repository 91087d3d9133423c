"""/healthz and a database that is down at start or goes away: 503s, never a crash or a trace."""
from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import make_url

from bench import loadgen
from bench.pgcluster import free_port
from survey import create_app
from survey.db import engine


@pytest.fixture
def make_app():
    """An app on any URL, with no tables created; its engine is disposed afterwards."""
    apps = []

    def make(database_url: str):
        apps.append(create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": database_url}))
        return apps[-1]
    yield make
    for a in apps:
        with a.app_context():
            engine().dispose()


def test_health_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok"}
    assert resp.headers["Cache-Control"] == "no-store"


def test_database_without_schema_is_unhealthy(database_url, make_app):
    """Reachable but not migrated: the load balancer must not send citizens here."""
    client = make_app(database_url).test_client()
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["database"] == "unavailable"


@pytest.mark.parametrize("url", [
    "sqlite:///{tmp}/no/such/dir/survey.sqlite3",
    "postgresql://sipas@127.0.0.1:{port}/sipas",
], ids=["sqlite-missing", "pg-refused"])
def test_database_down_at_start(url, tmp_path, make_app):
    """The app starts anyway and answers 503: a page for people, JSON for the health check."""
    app = make_app(url.format(tmp=tmp_path, port=free_port()))
    client = app.test_client()
    t0 = time.monotonic()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json() == {"status": "unavailable", "database": "unavailable"}
    page = client.get("/q/sipas-2017")
    assert page.status_code == 503
    html = page.get_data(as_text=True)
    assert "Hệ thống tạm thời gián đoạn" in html and "Traceback" not in html
    assert time.monotonic() - t0 < 15, "a refused connection must fail fast"


@pytest.mark.db("sqlite")
def test_sqlite_file_removed_while_running(app, client, tmp_path):
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        engine().dispose()
    for f in tmp_path.glob("test.sqlite3*"):
        f.unlink()
    assert client.get("/healthz").status_code == 503
    assert client.get("/").status_code == 503


@pytest.mark.db("postgresql")
def test_postgres_connections_killed_are_replaced(app, client, postgres_server):
    """A database restart or failover breaks every pooled connection; pre-ping replaces them."""
    assert client.get("/q/sipas-2017").status_code == 200
    name = make_url(app.config["DATABASE_URL"]).database
    killed = postgres_server.conn.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (name,)
    ).fetchone()[0]
    assert killed >= 1
    assert client.get("/q/sipas-2017").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_gunicorn_with_database_down_waits_instead_of_crash_looping(db_backend, tmp_path, request):
    """Workers start, answer 503 and stay alive; once the database is there, the same
    workers answer 200 with no restart."""
    if db_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'later' / 'survey.sqlite3'}"
        create = lambda: (tmp_path / "later").mkdir()  # noqa: E731
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"later_{free_port()}"
        url = server.url(name)
        create = lambda: server.conn.execute(f'CREATE DATABASE "{name}"')  # noqa: E731
        request.addfinalizer(lambda: server.drop(name))
    instance = tmp_path / "instance"
    instance.mkdir()
    srv = loadgen.Server(url, instance, workers=2, threads=2)
    try:
        srv.start(expect_healthy=False)
        assert loadgen.health(srv.port) == 503
        workers = srv.worker_pids()
        assert len(workers) == 2
        time.sleep(2)
        assert loadgen.health(srv.port) == 503
        assert srv.worker_pids() == workers, "workers were restarted: a crash loop"
        create()
        loadgen.prepare_database(url, instance)
        deadline = time.monotonic() + 20
        while loadgen.health(srv.port) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert loadgen.health(srv.port) == 200
        assert srv.worker_pids() == workers
    finally:
        srv.kill()
