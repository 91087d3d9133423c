"""Shared fixtures: an app on a fresh database with the bundled questionnaires published.

Every test that touches the database (through `database_url`, so `app`, `client`, …) runs
twice: on SQLite and on PostgreSQL. PostgreSQL comes from SURVEY_TEST_POSTGRES_URL (a role
allowed to CREATE DATABASE; CI sets it) or, failing that, a throwaway cluster started from
the installed server binaries. Each test gets its own empty database either way.
`pytest --db sqlite` (or SURVEY_TEST_DB=sqlite) runs one backend only; a test marked
`@pytest.mark.db("sqlite")` is limited to the backends named.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bench.pgcluster import PostgresCluster
from questionnaires.loader import Questionnaire, bundled_paths, load_file
from survey import catalog, create_app
from survey.db import Base, engine, get_session, normalize_url

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = {"sqlite": "sqlite", "postgresql": "pg"}  # backend → test id suffix


def required(flag: str) -> bool:
    """CI sets SURVEY_REQUIRE_BROWSER / SURVEY_REQUIRE_POSTGRES: a missing dependency then fails."""
    return os.environ.get(flag, "") not in ("", "0")


def skip_or_fail(flag: str, reason: str) -> None:
    if required(flag):
        pytest.fail(f"{reason} (and {flag} is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db", choices=("both", *BACKENDS), default=os.environ.get("SURVEY_TEST_DB", "both"),
        help="database backend(s) for tests that use one (default: both; env SURVEY_TEST_DB)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db(*backends): run only on these backends (sqlite, postgresql)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" not in metafunc.fixturenames:
        return
    chosen = metafunc.config.getoption("--db")
    backends = list(BACKENDS) if chosen == "both" else [chosen]
    marker = metafunc.definition.get_closest_marker("db")
    if marker is not None:
        backends = [b for b in backends if b in marker.args]
    metafunc.parametrize("db_backend", [
        pytest.param(b, id=BACKENDS[b], marks=[pytest.mark.postgres] if b == "postgresql" else [])
        for b in backends
    ], indirect=True)


class PostgresServer:
    """Creates and drops one database per test on a server where we may CREATE DATABASE."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalize_url(admin_url)
        self.conn = psycopg.connect(_conninfo(self.admin_url), autocommit=True, connect_timeout=5)

    def url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, prefix: str = "t", template: str = "template0") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        self.conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" ENCODING \'UTF8\'')
        return name

    def drop(self, name: str) -> None:
        """Drop a test database. FORCE ends our own leftover sessions, but an autovacuum worker
        (a superuser process) may not be ended by a CREATEDB role: it finishes in moments, so
        wait and retry rather than fail the test's teardown."""
        for attempt in range(50):
            try:
                self.conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                if attempt == 49:
                    raise
                time.sleep(0.2)

    def close(self) -> None:
        self.conn.close()


def _conninfo(url) -> str:
    u = make_url(url)
    return psycopg.conninfo.make_conninfo(
        host=u.host or "", port=str(u.port or ""), user=u.username or "", password=u.password or "", dbname=u.database or "postgres",
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server for this run (see the module docstring); skips or fails without one."""
    url = os.environ.get("SURVEY_TEST_POSTGRES_URL")
    cluster = None
    if not url:
        try:
            cluster = PostgresCluster.find(fast=True)
            if cluster is not None:
                cluster.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            if cluster is not None:
                cluster.stop()
            skip_or_fail("SURVEY_REQUIRE_POSTGRES", f"PostgreSQL not available: a throwaway cluster did not start: {exc}")
        if cluster is None:
            skip_or_fail("SURVEY_REQUIRE_POSTGRES",
                         "PostgreSQL not available: no server binaries (apt-get install postgresql) and SURVEY_TEST_POSTGRES_URL unset")
        url = cluster.url()
    try:
        server = PostgresServer(url)
    except psycopg.Error as exc:
        if cluster:
            cluster.stop()
        skip_or_fail("SURVEY_REQUIRE_POSTGRES", f"PostgreSQL not available at {make_url(url).render_as_string()}: {exc}")
    yield server
    server.close()
    if cluster:
        cluster.stop()


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """Parametrized by pytest_generate_tests; 'sqlite' or 'postgresql'."""
    return request.param


@pytest.fixture
def database_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of the test's backend, removed afterwards: empty, or, when the test uses the
    `app` fixture, a copy of a template made once per run with the schema and the bundled
    questionnaires published (on PostgreSQL, CREATE DATABASE … TEMPLATE; on SQLite, a file copy).
    Building the schema for every test was most of a PostgreSQL test's time."""
    prepared = "app" in request.fixturenames
    if db_backend == "sqlite":
        path = tmp_path / "test.sqlite3"
        if prepared:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create(template=request.getfixturevalue("postgres_template") if prepared else "template0")
    try:
        yield server.url(name)
    finally:
        server.drop(name)


def _prepared(database_url: str) -> None:
    """Give an empty database the schema and the bundled questionnaires, as every `app` starts."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": database_url})
    with app.app_context():
        Base.metadata.create_all(engine())
        session = get_session()
        for questionnaire in bundled_questionnaires():
            catalog.publish(session, questionnaire)
        session.commit()
        engine().dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _prepared(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create(prefix="template")
    _prepared(postgres_server.url(name))
    yield name
    postgres_server.drop(name)


@cache
def bundled_questionnaires() -> tuple[Questionnaire, ...]:
    """Parsed once per run: the definitions are frozen, and parsing YAML is most of an app's setup time.
    Besides the bundled files, `sipas-local` (tests/fixtures): a local SIPAS variant with a no-opinion
    answer and a filter, which the official forms no longer have but the report and import paths handle."""
    return tuple(load_file(path) for path in [*bundled_paths(), ROOT / "tests" / "fixtures" / "sipas-local.yaml"])


@pytest.fixture
def app(tmp_path: Path, database_url: str):
    """An app on a database that already holds the schema and the published questionnaires
    (`database_url` copies them from the run's template)."""
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "QUESTIONNAIRE_DIR": str(ROOT / "questionnaires"),
    })
    app.instance_path = str(tmp_path)
    yield app
    with app.app_context():
        engine().dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class FormPage:
    """A rendered form's hidden fields, so tests can post like a browser does."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.hidden = dict(re.findall(r'<input[^>]*?name="(csrf_token|submission_id|started|lang|v)"[^>]*?value="([^"]*)"', html))
        # attribute order differs between fields: also accept value-before-name
        for value, name in re.findall(r'<input[^>]*?value="([^"]*)"[^>]*?name="(csrf_token|submission_id|started|lang|v)"', html):
            self.hidden.setdefault(name, value)


@pytest.fixture
def get_form(client):
    def fetch(url: str) -> FormPage:
        resp = client.get(url)
        assert resp.status_code == 200, resp.status_code
        return FormPage(resp.get_data(as_text=True))
    return fetch
