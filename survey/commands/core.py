"""Command groups wiring the CLI to domain functions. Each command commits once at its end."""
from __future__ import annotations

from pathlib import Path

import click
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from questionnaires.loader import QuestionnaireError, bundled_paths, load_file

from .. import catalog, db
from ..models import Counter, QuestionnaireVersion, Response, Unit
from ..ops import backup
from ..registry import units
from ..reporting import counts
from .messages import SpeakingGroup, cli_language, say, speaking

ROOT = Path(__file__).resolve().parents[2]

db_cli = SpeakingGroup("db", help=say("Lược đồ cơ sở dữ liệu (Alembic), sao lưu và khôi phục.",
                                      "Database schema (Alembic migrations), backup and restore."))
questionnaire_cli = SpeakingGroup("questionnaire", help=say("Kiểm tra, liệt kê và công bố phiếu khảo sát.",
                                                            "Check, list and publish questionnaire definitions."))
demo_cli = SpeakingGroup("demo", help=say("Dữ liệu minh hoạ (giả lập).", "Synthetic demo data."))


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"].replace("%", "%%"))
    return cfg


def run_alembic(action: str, *args: str) -> None:
    """Run an Alembic command on the app's engine, all of it in one transaction (see
    db.migration_connection); database errors become a one-line message, not a trace."""
    cfg = alembic_config()
    try:
        with db.migration_connection(db.engine()) as connection:
            tables = db.unversioned_tables(connection) if action == "upgrade" else []
            if tables:
                listed = ", ".join(tables[:3])
                raise click.ClickException(say(
                    f"cơ sở dữ liệu đã có bảng ({listed}, …) nhưng không có lịch sử migration. "
                    "Nếu các bảng do phiên bản này tạo, ghi nhận bằng `flask --app wsgi db stamp head`; "
                    "nếu không, dùng một cơ sở dữ liệu trống hoặc khôi phục bản sao lưu.",
                    f"the database already has tables ({listed}, …) but no migration history. "
                    "If they were made by this version, record that with `flask --app wsgi db stamp head`; "
                    "otherwise use an empty database or restore a backup."))
            cfg.attributes["connection"] = connection
            getattr(alembic_command, action)(cfg, *args)
    except OperationalError as exc:
        where, why = db.safe_url(current_app.config["DATABASE_URL"]), str(exc.orig or exc).strip()
        raise click.ClickException(say(f"lỗi cơ sở dữ liệu tại {where}: {why}", f"database error at {where}: {why}")) from None


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the schema up to REVISION (default: the newest), then add the national reference
    lists (fields, procedures) that are missing, so imports work on a fresh database. Safe to run twice."""
    run_alembic("upgrade", revision)
    message = say(f"Cơ sở dữ liệu ở phiên bản {revision}.", f"Database at revision {revision}.")
    if revision == "head":
        session = db.get_session()
        fields, procedures = units.load_reference_data(session)
        session.commit()
        if fields or procedures:
            message += say(f" Đã thêm {fields} lĩnh vực và {procedures} thủ tục (danh mục quốc gia).",
                           f" Added {fields} field(s) and {procedures} procedure(s) (national reference lists).")
    click.echo(message)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    run_alembic("downgrade", revision)
    click.echo(say(f"Đã hạ cơ sở dữ liệu về phiên bản {revision}.", f"Database downgraded to {revision}."))


@db_cli.command("current")
def db_current() -> None:
    run_alembic("current")


@db_cli.command("stamp")
@click.argument("revision")
def db_stamp(revision: str) -> None:
    """Record REVISION as applied without running it (a schema made outside migrations)."""
    run_alembic("stamp", revision)
    click.echo(say(f"Đã ghi nhận cơ sở dữ liệu ở phiên bản {revision}.", f"Database stamped at {revision}."))


def _paths(paths: tuple[str, ...]) -> list[Path]:
    return [Path(p) for p in paths] if paths else bundled_paths(Path(current_app.config["QUESTIONNAIRE_DIR"]))


@questionnaire_cli.command("check")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
def questionnaire_check(paths: tuple[str, ...]) -> None:
    """Validate definition files (default: the bundled ones) without publishing."""
    failed = 0
    for path in _paths(paths):
        try:
            q = load_file(path)
        except QuestionnaireError as exc:
            failed += 1
            click.secho(f"✗ {exc.in_language(cli_language())}", fg="red", err=True)
            continue
        items, criteria = sum(1 for _ in q.items), len(q.criteria)
        click.echo(say(f"✓ {path.name}: {q.key} v{q.version}, {items} câu hỏi, {criteria} tiêu chí",
                       f"✓ {path.name}: {q.key} v{q.version}, {items} items, {criteria} criteria"))
    if failed:
        raise click.ClickException(say(f"{failed} tệp không hợp lệ: sửa theo từng dòng ✗ ở trên rồi kiểm tra lại",
                                       f"{failed} invalid file(s): fix each ✗ line above and check again"))


@questionnaire_cli.command("publish")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
def questionnaire_publish(paths: tuple[str, ...]) -> None:
    """Publish definitions as new immutable versions (unchanged files are skipped)."""
    session = db.get_session()
    try:
        results = [catalog.publish(session, load_file(p)) for p in _paths(paths)]
    except QuestionnaireError as exc:
        session.rollback()
        raise click.ClickException(exc.in_language(cli_language())) from None
    except catalog.PublishError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    for row, status in results:
        click.echo(f"{row.key} v{row.version}: " + (say("đã công bố", "published") if status == "new" else
                                                     say("đã công bố trước đây, không đổi", "already published, unchanged")))


@questionnaire_cli.command("list")
def questionnaire_list() -> None:
    """Published versions with their response counts."""
    session = db.get_session()
    counts = dict(session.execute(select(Response.version_id, func.count()).group_by(Response.version_id)).all())
    rows = session.scalars(select(QuestionnaireVersion).order_by(QuestionnaireVersion.key, QuestionnaireVersion.version))
    for row in rows:
        q = catalog.definition(row)
        n = counts.get(row.id, 0)
        click.echo(f"{row.key:<20} v{row.version:<3} {row.published_at:%d/%m/%Y}  "
                   + say(f"{n:>9} phiếu", f"{n:>9} responses") + f"  {q.title.vi}")


@demo_cli.command("load")
@click.option("--responses", "total", default=3000, show_default=True, help="Synthetic responses to add.")
@click.option("--seed", default=2026, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when responses already exist (used by `make run`).")
@click.option("--yes", is_flag=True, help="Add synthetic responses even though real (non-demo) ones are stored.")
def demo_load(total: int, seed: int, if_empty: bool, yes: bool) -> None:
    """Load a synthetic province (units, counters, fields) and responses tagged as demo data.

    Refuses when the database already holds real responses (they would be pooled in every
    report) unless --yes; `demo clear` deletes the synthetic responses again.
    """
    from ..ops import demo

    session = db.get_session()
    synthetic, real = demo.response_counts(session)
    if if_empty and synthetic + real:
        click.echo(say("Đã có dữ liệu; không làm gì thêm.", "Demo data already present; nothing to do."))
        return
    if real and not yes:
        raise click.ClickException(say(
            f"cơ sở dữ liệu đang có {real:,} phiếu thật (không phải dữ liệu minh hoạ): phiếu giả lập sẽ bị cộng vào mọi "
            "báo cáo. Không thêm gì. Dùng một cơ sở dữ liệu trống, hoặc thêm --yes nếu thật sự muốn trộn.",
            f"the database holds {real:,} real (non-demo) responses: synthetic ones would be pooled into every "
            "report. Nothing was added. Use an empty database, or add --yes if you really mean to mix them."))
    for path in bundled_paths(Path(current_app.config["QUESTIONNAIRE_DIR"])):
        catalog.publish(session, load_file(path))
    counters = demo.build_registry(session)
    try:
        with click.progressbar(length=total, label=say(f"Đang tạo {total:,} phiếu", f"Generating {total:,} responses")) as bar:
            demo.generate_responses(session, total, seed=seed, progress=bar.update)
    except RuntimeError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    months = counts.stale_months(session, 0)
    with click.progressbar(length=len(months), label=say("Đang cập nhật số liệu báo cáo", "Refreshing report counts")) as bar:
        counts.refresh(session, progress=bar.update)
    session.commit()
    click.echo(say(f"Đã nạp dữ liệu minh hoạ: tạo {counters} quầy, thêm {total:,} phiếu (xoá bằng: demo clear).",
                   f"Demo loaded: {counters} counters created, {total:,} responses added (remove them: demo clear)."))


@demo_cli.command("clear")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def demo_clear(yes: bool) -> None:
    """Delete the synthetic (demo) responses; real responses, units and counters stay."""
    from ..ops import demo

    session = db.get_session()
    synthetic, real = demo.response_counts(session)
    if not synthetic:
        click.echo(say("Không có phiếu minh hoạ nào để xoá.", "No demo responses to delete."))
        return
    if not yes:
        click.confirm(say(f"Xoá {synthetic:,} phiếu minh hoạ (giữ {real:,} phiếu thật)?",
                          f"Delete {synthetic:,} demo responses (keeping {real:,} real ones)?"), abort=True)
    deleted = demo.clear_responses(session)
    counts.refresh(session, full=True)
    session.commit()
    click.echo(say(f"Đã xoá {deleted:,} phiếu minh hoạ; còn {real:,} phiếu thật.",
                   f"Deleted {deleted:,} demo responses; {real:,} real responses remain."))


@click.command("urls")
@with_appcontext
@click.option("--base", default="http://127.0.0.1:5000", show_default=True, help="Where the server will listen.")
def urls(base: str) -> None:
    """Print the citizen URLs (and demo logins, when staff accounts exist) for the quick start."""
    with speaking():
        _urls(base.rstrip("/"))


def _urls(base: str) -> None:
    session = db.get_session()
    click.echo(say(f"\nTrang khảo sát cho người dân: {base}/", f"\nCitizen pages: {base}/"))
    rows = catalog.list_latest(session)
    width = max((len(f"{base}/q/{row.key}") for row in rows), default=0)
    for row in rows:  # the address first, then the whole title: a cut title can name the wrong form
        click.echo(f"  {base + '/q/' + row.key:<{width}}  {catalog.definition(row).title.vi}")
    counters = session.scalars(
        select(Counter).join(Unit).where(Counter.active.is_(True)).order_by(Unit.path, Counter.code)
    ).all()
    if counters:
        click.echo(say("\nMã QR tại quầy:", "\nCounter QR codes:"))
        for c in counters:
            click.echo(f"  {base}/c/{c.public_code}  {c.unit.name} – {c.name}")


def init_app(app: Flask) -> None:
    db_cli.add_command(backup.backup_command)
    db_cli.add_command(backup.restore_command)
    for group in (db_cli, questionnaire_cli, demo_cli):
        app.cli.add_command(group)
    app.cli.add_command(urls)
