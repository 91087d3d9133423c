"""`db backup` / `db restore`: a round trip keeps every row (counts and a checksum of the
responses and answers), a non-empty database is only replaced when forced."""
from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from survey import create_app
from survey.db import engine, get_session
from survey.models import Response
from survey.ops.backup import fingerprint


class Site:
    """An app on a database of the test's backend, driven through its CLI."""

    def __init__(self, url: str) -> None:
        self.app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": url})
        self.runner = self.app.test_cli_runner()

    def cli(self, *args: str, ok: bool = True):
        result = self.runner.invoke(args=list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def fingerprint(self):
        with self.app.app_context(), engine().connect() as conn:
            return fingerprint(conn)

    def responses(self) -> int:
        with self.app.app_context():
            return get_session().scalar(select(func.count()).select_from(Response))

    def close(self) -> None:
        with self.app.app_context():
            engine().dispose()


@pytest.fixture
def sites(db_backend, database_url, tmp_path, request):
    """A source site with demo data and an empty, migrated target of the same backend."""
    if db_backend == "sqlite":
        target_url = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    else:
        server = request.getfixturevalue("postgres_server")
        name = server.create("restore")
        request.addfinalizer(lambda: server.drop(name))
        target_url = server.url(name)
    source, target = Site(database_url), Site(target_url)
    source.cli("db", "upgrade")
    source.cli("demo", "load", "--responses", "200", "--seed", "7")
    target.cli("db", "upgrade")
    yield source, target
    source.close()
    target.close()


def test_round_trip_keeps_every_row(sites, tmp_path):
    source, target = sites
    before = source.fingerprint()
    assert before.counts["responses"] == 200 and before.counts["answers"] > 200 * 5
    file = tmp_path / "sipas.backup"
    out = source.cli("db", "backup", str(file)).output
    assert file.stat().st_size > 0 and "responses 200" in out and before.checksum[:16] in out
    assert f"Đã ghi bản sao lưu vào {file} (" in out

    out = target.cli("db", "restore", str(file)).output
    assert target.fingerprint() == before
    assert before.checksum[:16] in out and f"Đã khôi phục {file}: " in out

    # the source is untouched and still serves
    assert source.fingerprint() == before
    assert source.app.test_client().get("/healthz").status_code == 200
    assert target.app.test_client().get("/healthz").status_code == 200


def test_restore_into_non_empty_database_needs_force(sites, tmp_path):
    source, target = sites
    file = tmp_path / "sipas.backup"
    source.cli("db", "backup", str(file))
    before = source.fingerprint()
    target.cli("demo", "load", "--responses", "30", "--seed", "99")
    occupied = target.fingerprint()

    refused = target.cli("db", "restore", str(file), ok=False)
    assert refused.exit_code == 1
    assert "cơ sở dữ liệu không trống (có dữ liệu trong " in refused.output and "--force để thay thế" in refused.output
    assert target.fingerprint() == occupied, "a refused restore changes nothing"

    target.cli("db", "restore", "--force", str(file))
    assert target.fingerprint() == before, "a forced restore gives exactly the backup, nothing of what was there"


def test_backup_does_not_overwrite_a_file_unless_forced(sites, tmp_path):
    source, _ = sites
    file = tmp_path / "existing.backup"
    file.write_bytes(b"keep me")
    refused = source.cli("db", "backup", str(file), ok=False)
    assert refused.exit_code == 1 and "--force" in refused.output
    assert file.read_bytes() == b"keep me"
    source.cli("db", "backup", "--force", str(file))
    assert file.read_bytes() != b"keep me"


def test_restore_refuses_a_file_that_is_not_a_backup(sites, tmp_path):
    _, target = sites
    before = target.fingerprint()
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"this is not a database" * 100)
    result = target.cli("db", "restore", str(junk), ok=False)
    assert result.exit_code == 1 and "Error:" in result.output
    assert "Traceback" not in result.output
    assert target.fingerprint() == before


def test_backup_is_consistent_while_citizens_keep_submitting(sites, tmp_path, db_backend):
    """Online backup: writes go on during the copy; the file holds a consistent state
    (every response with all its answers) between the counts before and after."""
    source, target = sites
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        from survey.ops import demo
        try:
            with source.app.app_context():
                session = get_session()
                for _ in range(200):
                    if stop.is_set():
                        break
                    demo.generate_responses(session, 5, seed=len(errors) + _)
                    session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    before = source.responses()
    writer = threading.Thread(target=write)
    writer.start()
    try:
        file = tmp_path / "online.backup"
        source.cli("db", "backup", str(file))
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not errors, errors
    after = source.responses()
    target.cli("db", "restore", str(file))
    restored = target.fingerprint()
    assert before <= restored.counts["responses"] <= after
    with target.app.app_context():
        session = get_session()
        no_answers = session.scalar(select(func.count()).select_from(Response).where(~Response.answers.any()))
    assert no_answers == 0
    if db_backend == "sqlite":
        with sqlite3.connect(file) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_backup_files_are_readable_by_their_owner_only(sites, tmp_path):
    """A backup holds every response and the registry: 0600 from its first byte, also when
    --force replaces an older, wider file (whatever the umask)."""
    source, _target = sites
    old = os.umask(0o022)
    try:
        file = tmp_path / "private.backup"
        source.cli("db", "backup", str(file))
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        wide = tmp_path / "wide.backup"
        wide.write_bytes(b"an older backup")
        wide.chmod(0o644)
        source.cli("db", "backup", "--force", str(wide))
        assert stat.S_IMODE(wide.stat().st_mode) == 0o600 and wide.stat().st_size > 1000
    finally:
        os.umask(old)
    assert not list(tmp_path.glob("*.part"))
