"""Backup and restore: `flask --app wsgi db backup FILE` / `db restore FILE [--force]`.

SQLite uses the online backup API, so app servers keep answering (and writing) while a
consistent copy is taken. PostgreSQL uses pg_dump's custom format and pg_restore in one
transaction; the exact commands are printed (the password travels in PGPASSWORD, never on
the command line). A restore refuses a database that already holds rows unless forced:
restoring last week's file over this week's answers must be a decision, not a typo.
Both commands print row counts and a checksum of responses and answers to compare.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from .. import db
from ..i18n import _
from ..models import Answer, Response


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Fingerprint:
    """What a round trip must preserve: row counts and a checksum of the answers."""

    counts: dict[str, int]
    checksum: str

    def describe(self) -> str:
        shown = ", ".join(f"{name} {n:,}" for name, n in self.counts.items() if n)
        return f"{shown or 'no rows'}; responses+answers sha256 {self.checksum[:16]}"


def fingerprint(conn: Connection) -> Fingerprint:
    """Counts per app table and a sha256 over every response and answer, in id order.

    Values go through the model types (aware UTC datetimes), so the checksum means the same
    on SQLite and PostgreSQL.
    """
    present = set(inspect(conn).get_table_names())
    counts = {
        name: conn.scalar(select(func.count()).select_from(table)) or 0
        for name, table in sorted(db.Base.metadata.tables.items()) if name in present
    }
    digest = hashlib.sha256()
    for model in (Response, Answer):
        if model.__tablename__ not in present:
            continue
        columns = list(model.__table__.columns)
        rows = conn.execution_options(yield_per=5000).execute(select(*columns).order_by(model.__table__.c.id))
        for row in rows:
            digest.update(repr(tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in row)).encode())
    return Fingerprint(counts, digest.hexdigest())


# The national reference lists `db upgrade` seeds: a freshly migrated database holds them, and a
# restore replaces them with the backup's, so they do not make a database "not empty".
SEEDED_TABLES = frozenset({"fields", "procedures"})


def tables_with_rows(conn: Connection) -> list[str]:
    present = set(inspect(conn).get_table_names())
    return [
        name for name, table in sorted(db.Base.metadata.tables.items())
        if name in present and name not in SEEDED_TABLES
        and conn.execute(select(text("1")).select_from(table).limit(1)).first()
    ]


# SQLite ------------------------------------------------------------------------------


def private_part(dest: Path) -> Path:
    """A new, empty file beside dest, created 0600 (a backup holds every response and the
    registry: readable by its owner only, from the first byte); renamed over dest when complete."""
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return part


def backup_sqlite(engine: Engine, dest: Path) -> None:
    """Copy the live database page by page into dest (written aside, then renamed)."""
    part = private_part(dest)  # SQLite writes into the empty file and keeps its mode
    try:
        raw = engine.raw_connection()
        try:
            target = sqlite3.connect(part)
            try:
                raw.driver_connection.backup(target)  # one step: a consistent snapshot; WAL lets writers go on
            finally:
                target.close()
        finally:
            raw.close()
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)


def check_sqlite_file(path: Path) -> str:
    """The migration revision of a backup file; refuses anything that is not an intact SIPAS database."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SIPAS SQLite backup: {exc}") from None
    if ok != "ok":
        raise BackupError(f"{path} is damaged: {ok}")
    if revision is None:
        raise BackupError(f"{path} has no migration revision; it was not made by `db backup`")
    return revision[0]


def restore_sqlite(engine: Engine, src: Path) -> None:
    """Replace the database's content with src's, through the backup API (safe while open)."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    raw = engine.raw_connection()
    try:
        source.backup(raw.driver_connection)
    finally:
        raw.close()
        source.close()
    engine.dispose()  # pooled connections must not keep cached pages of the old content


# PostgreSQL --------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """pg_dump/pg_restore: SURVEY_PG_BINDIR, else PATH, else Debian's newest versioned directory."""
    bindir = current_app.config.get("PG_BINDIR")
    if bindir:
        return str(Path(bindir) / name)
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return str(versions[-1])
    raise BackupError(f"{name} not found: install the PostgreSQL client (apt-get install postgresql-client) or set SURVEY_PG_BINDIR")


def pg_env(url: str) -> dict[str, str]:
    """libpq environment for the app's database, so commands carry no password."""
    u = db.normalize_url(url)
    env = dict(os.environ)
    for key, value in (("PGHOST", u.host), ("PGPORT", u.port), ("PGUSER", u.username),
                       ("PGPASSWORD", u.password), ("PGDATABASE", u.database)):
        if value is not None:
            env[key] = str(value)
    return env


def pg_dump_command(dest: Path) -> list[str]:
    return [pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={dest}"]


def pg_restore_command(src: Path, dbname: str) -> list[str]:
    # --clean --if-exists: a migrated but empty database already has the tables.
    return [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--clean", "--if-exists",
            "--single-transaction", "--exit-on-error", f"--dbname={dbname}", str(src)]


def run_pg(command: list[str], url: str) -> None:
    env = pg_env(url)
    click.echo("$ " + shlex.join(command), err=True)
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()}")


# Commands ----------------------------------------------------------------------------


def _fingerprint(engine: Engine) -> Fingerprint:
    with engine.connect() as conn:
        return fingerprint(conn)


@click.command("backup")
@with_appcontext
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def backup_command(file: Path, force: bool) -> None:
    """Write a consistent copy of the database to FILE while the app keeps running."""
    url = current_app.config["DATABASE_URL"]
    engine = db.engine()
    if file.exists() and not force:
        raise click.ClickException(_("{file} đã có; thêm --force để ghi đè", file=file))
    try:
        if make_url(url).get_backend_name() == "sqlite":
            backup_sqlite(engine, file)
        else:
            part = private_part(file)  # pg_dump truncates and fills it, keeping 0600
            try:
                run_pg(pg_dump_command(part), url)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
            os.replace(part, file)
        summary = _fingerprint(engine)
    except (BackupError, OperationalError, sqlite3.Error) as exc:
        raise click.ClickException(str(getattr(exc, "orig", None) or exc)) from None
    click.echo(_("Đã ghi bản sao lưu vào {file} ({size} byte): {summary}", file=file, size=f"{file.stat().st_size:,}",
                 summary=summary.describe()))


@click.command("restore")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
def restore_command(file: Path, force: bool) -> None:
    """Replace the database's content with a backup FILE (refused on a non-empty database)."""
    url = current_app.config["DATABASE_URL"]
    engine = db.engine()
    try:
        with engine.connect() as conn:
            occupied = tables_with_rows(conn)
        if occupied and not force:
            raise click.ClickException(_(
                "cơ sở dữ liệu không trống (có dữ liệu trong {tables}); hãy sao lưu nó trước, rồi chạy lại với "
                "--force để thay thế", tables=", ".join(occupied[:4]) + (", …" if len(occupied) > 4 else "")))
        if make_url(url).get_backend_name() == "sqlite":
            revision = check_sqlite_file(file)
            click.echo(_("Đang khôi phục {file} (phiên bản {revision}) vào {url}", file=file, revision=revision,
                         url=db.safe_url(url)), err=True)
            restore_sqlite(engine, file)
        else:
            run_pg(pg_restore_command(file, db.normalize_url(url).database or ""), url)
            engine.dispose()
        summary = _fingerprint(engine)
    except (BackupError, OperationalError, sqlite3.Error) as exc:
        raise click.ClickException(str(getattr(exc, "orig", None) or exc)) from None
    click.echo(_("Đã khôi phục {file}: {summary}. Chạy `flask --app wsgi db upgrade` nếu bản sao lưu cũ hơn phiên bản này.",
                 file=file, summary=summary.describe()))
