"""Command groups for the registry and QR codes: `units`, `counters`, `qr`.

Row-by-row imports commit the good rows once at the end, print every bad row with its line
and reason, and exit with status 1 when any row failed.
"""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import db
from ..models import Counter, Unit
from ..qr import codes, credentials, dossiers, posters
from ..registry import imports, units
from ..sheets import Report, SheetError, read_rows, write_csv
from .messages import SpeakingGroup, no_base_url, say, speaking, vietnam_time

units_cli = SpeakingGroup("units", help=say("Cây đơn vị: nhập từ tệp, mã chính thức, khoá API.",
                                            "The unit tree: import, official codes, API credentials."))
counters_cli = SpeakingGroup("counters", help=say("Quầy tiếp nhận: nhập từ tệp và liệt kê cùng địa chỉ QR.",
                                                  "Counters (service points): import and list with their QR URLs."))
# a plain group: the posters it prints speak Vietnamese whatever the shell's language
qr_cli = AppGroup("qr", help=say("Mã QR: áp phích tại quầy, ảnh mã, đường dẫn theo hồ sơ hàng loạt.",
                                      "QR codes: counter posters, code images, per-dossier links in batch."))
NOUNS = {"units": ("đơn vị", "units"), "counters": ("quầy", "counters"), "dossiers": ("hồ sơ", "dossiers")}

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
BASE = click.option("--base", default=None, help="Public address citizens use (default: SURVEY_PUBLIC_BASE_URL).")


def _unit(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).filter_by(code=code))
    if unit is None:
        raise click.ClickException(say(f"không có đơn vị mã '{code}' (xem: flask --app wsgi counters list)",
                                       f"no unit with code '{code}' (see: flask --app wsgi counters list)"))
    return unit


def _base(base: str | None) -> str:
    try:
        return codes.base_url(base)
    except codes.NoBaseUrl:
        raise click.ClickException(no_base_url()) from None


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        return list(read_rows(path, columns))
    except SheetError as exc:
        raise click.ClickException(str(exc)) from None


def _finish(session: Session, report: Report, noun: str) -> None:
    """Commit the good rows, list the bad ones, exit 1 if there were any."""
    session.commit()
    for line, reason in report.errors:
        click.secho(say(f"dòng {line}: {reason}", f"line {line}: {reason}"), fg="red", err=True)
    vi, en = NOUNS[noun]
    r, failed = report, len(report.errors)
    click.echo(say(f"Đã xử lý {r.processed} {vi} ({r.created} mới, {r.updated} cập nhật, {r.unchanged} không đổi); "
                   f"{failed} dòng lỗi" + (": sửa các dòng trên rồi nhập lại tệp." if failed else "."),
                   f"{r.processed} {en} processed ({r.created} new, {r.updated} updated, {r.unchanged} unchanged); "
                   f"{failed} rows failed" + (": fix the lines above and import the file again." if failed else ".")))
    if report.errors:
        click.get_current_context().exit(1)


def _reference_lists(session: Session) -> None:
    """The shipped fields and procedures, so a fresh installation can import counters at once."""
    units.load_fields(session)
    units.load_procedures(session)


@units_cli.command("import")
@click.argument("path", type=FILE)
def units_import(path: Path) -> None:
    """Import units from FILE (.csv or .xlsx): code, name, kind, parent_code."""
    session = db.get_session()
    _finish(session, imports.import_units(session, _rows(path, imports.UNIT_COLUMNS)), "units")


@units_cli.command("import-official")
@click.option("--province", "province", type=int, required=True, help="Official province code, e.g. 33 (Hưng Yên).")
@click.option("--communes/--no-communes", default=True, show_default=True, help="Also import its communes and wards.")
def units_import_official(province: int, communes: bool) -> None:
    """Import a province and its communes/wards with their official codes (vietnam-provinces)."""
    session = db.get_session()
    try:
        report = imports.import_official(session, province, communes)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    _finish(session, report, "units")


@units_cli.command("credentials")
@click.argument("code")
@click.option("--list", "listing", is_flag=True, help="List the unit's keys (id, created, revoked); issue nothing.")
@click.option("--revoke", "revoke_key", metavar="KEY_ID", help="Revoke this one key; issue nothing.")
@click.option("--revoke-others", is_flag=True, help="Revoke the unit's older keys (their links stop working).")
def units_credentials(code: str, listing: bool, revoke_key: str | None, revoke_others: bool) -> None:
    """Issue an API key and HMAC secret for unit CODE (shown once: only a hash of the key is kept),
    or list its keys (--list), or revoke one (--revoke KEY_ID)."""
    session = db.get_session()
    unit = _unit(session, code)
    if listing and revoke_key:
        raise click.ClickException(say("dùng --list hoặc --revoke, không dùng cả hai", "use --list or --revoke, not both"))
    if listing:
        rows = credentials.of_unit(session, unit)
        header = say(("Mã khoá", "Tạo lúc", "Thu hồi lúc"), ("Key id", "Created", "Revoked"))
        click.echo(f"{header[0]:<10} {header[1]:<26} {header[2]}")
        for c in rows:
            click.echo(f"{c.key_id:<10} {vietnam_time(c.created_at):<26} "
                       f"{vietnam_time(c.revoked_at) if c.revoked_at else say('còn hiệu lực', 'active')}")
        active = sum(c.revoked_at is None for c in rows)
        click.echo(say(f"Đơn vị {code}: {len(rows)} khoá, {active} còn hiệu lực.",
                       f"Unit {code}: {len(rows)} key(s), {active} active."))
        return
    if revoke_key:
        try:
            credentials.revoke(session, unit, revoke_key)
        except credentials.CredentialError as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from None
        session.commit()
        active = credentials.active_count(session, unit)
        click.echo(say(f"Đã thu hồi khoá {revoke_key} của đơn vị {code}: khoá API và đường dẫn ký bằng nó ngừng hoạt động. "
                       f"Còn {active} khoá hiệu lực.",
                       f"Key {revoke_key} of unit {code} revoked: its API key and the links signed with it stop working. "
                       f"{active} key(s) remain active."))
        return
    credential, api_key = credentials.issue(session, unit, revoke_others)
    session.commit()
    active = credentials.active_count(session, unit)
    click.echo(say(f"đơn vị:      {code}\nmã khoá:     {credential.key_id}\nkhoá API:    {api_key}\n"
                   f"bí mật HMAC: {credential.hmac_secret}",
                   f"unit:        {code}\nkey id:      {credential.key_id}\nAPI key:     {api_key}\n"
                   f"HMAC secret: {credential.hmac_secret}"))
    click.echo(say("Lưu cả hai ngay: khoá API không thể hiển thị lại. "
                   f"Đơn vị {code} hiện có {active} khoá còn hiệu lực"
                   + ("." if active == 1 else " (thu hồi khoá cũ: --revoke KEY_ID, xem danh sách: --list)."),
                   "Store both now: the API key cannot be shown again. "
                   f"Unit {code} now has {active} active key(s)"
                   + ("." if active == 1 else " (revoke an old one: --revoke KEY_ID; see them: --list).")))


@units_cli.command("rewrap-secrets")
@click.option("--old-key-file", type=FILE, default=None,
              help="File holding the previous link key (SURVEY_LINK_KEY, or SECRET_KEY when no link key was set).")
@click.option("--clear", is_flag=True, help="Store the secrets in clear again: only before `db downgrade` below 0007.")
def units_rewrap_secrets(old_key_file: Path | None, clear: bool) -> None:
    """Store every unit's HMAC secret wrapped under the current link key.

    Wraps secrets that an older version stored in clear, and re-wraps those wrapped under the
    previous key after SURVEY_LINK_KEY (or SECRET_KEY) changed. Safe to repeat."""
    session = db.get_session()
    old = old_key_file.read_text(encoding="utf-8").strip() if old_key_file else None
    result = credentials.rewrap(session, credentials.link_key_material(), old or None, clear)
    session.commit()
    for key_id in result.unreadable:
        click.secho(say(f"mã khoá {key_id}: không mở được bằng khoá liên kết hiện tại"
                        f"{' lẫn khoá trong ' + str(old_key_file) if old_key_file else ''}; đưa khoá đã dùng để bọc nó "
                        "vào --old-key-file, hoặc cấp khoá mới cho đơn vị (`units credentials CODE --revoke-others`)",
                        f"key id {key_id}: cannot be unwrapped with the current link key"
                        f"{' nor the one in ' + str(old_key_file) if old_key_file else ''}; pass the key it was wrapped "
                        "with as --old-key-file, or issue the unit new credentials (`units credentials CODE --revoke-others`)"),
                    fg="red", err=True)
    changed, same, bad = result.changed, result.unchanged, len(result.unreadable)
    if clear:
        click.echo(say(f"{changed} bí mật đã lưu dạng rõ, {same} vốn đã như vậy, {bad} không đọc được.",
                       f"{changed} secret(s) stored in clear, {same} already so, {bad} unreadable."))
    else:
        click.echo(say(f"{changed} bí mật đã bọc bằng khoá liên kết hiện tại, {same} vốn đã như vậy, {bad} không đọc được.",
                       f"{changed} secret(s) wrapped under the current link key, {same} already so, {bad} unreadable."))
    if result.unreadable:
        click.get_current_context().exit(1)


@counters_cli.command("import")
@click.argument("path", type=FILE)
def counters_import(path: Path) -> None:
    """Import counters from FILE: unit_code, code, name, questionnaire, fields (codes separated by ';')."""
    session = db.get_session()
    _reference_lists(session)
    rows = _rows(path, imports.COUNTER_COLUMNS)
    _finish(session, imports.import_counters(session, rows), "counters")


@counters_cli.command("list")
@click.option("--unit", "unit_code", default=None, help="Only this unit and the units below it.")
@click.option("--base", default=None, help="Default: SURVEY_PUBLIC_BASE_URL, else http://127.0.0.1:5000.")
def counters_list(unit_code: str | None, base: str | None) -> None:
    """Counters with their short QR URLs."""
    session = db.get_session()
    base = base or current_app.config.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000"
    if unit_code:
        rows = posters.counters_under(session, _unit(session, unit_code))
    else:
        rows = list(session.scalars(select(Counter).join(Unit).order_by(Unit.path, Counter.code)))
    header = say(("Đơn vị", "Quầy", "Địa chỉ QR", "Tên"), ("Unit", "Counter", "QR address", "Name"))
    click.echo(f"{header[0]:<14} {header[1]:<8} {header[2]:<40} {header[3]}")
    for c in rows:
        click.echo(f"{c.unit.code:<14} {c.code:<8} {codes.counter_url(c.public_code, base):<40} {c.unit.name} – {c.name}")
    click.echo(say(f"{len(rows)} quầy.", f"{len(rows)} counter(s)."))


@qr_cli.command("posters")
@click.option("--unit", "unit_code", required=True, help="Print every counter of this unit and the units below it.")
@click.option("--size", type=click.Choice(sorted(posters.SIZES)), default="a6", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PDF file to write.")
@BASE
def qr_posters(unit_code: str, size: str, out: Path, base: str | None) -> None:
    """Printable posters (one counter per page) for a unit subtree, as one PDF."""
    session = db.get_session()
    base = _base(base)
    items = [posters.poster_for(c, base) for c in posters.counters_under(session, _unit(session, unit_code))]
    if not items:
        raise click.ClickException(say(
            f"đơn vị '{unit_code}' và các đơn vị trực thuộc không có quầy nào đang hoạt động (thêm quầy: counters import)",
            f"unit '{unit_code}' and the units below it have no active counters (add some: counters import)"))
    label = say(f"Đang dàn trang {len(items)} áp phích {size.upper()}", f"Laying out {len(items)} {size.upper()} posters")
    with click.progressbar(length=len(items), label=label) as bar:
        pages = posters.write_pdf(items, size, out, progress=bar.update)
    click.echo(say(f"Đã ghi {pages} trang vào {out}", f"Wrote {pages} pages to {out}"))


@qr_cli.command("code")
@click.option("--unit", "unit_code", required=True)
@click.option("--counter", "counter_code", required=True)
@click.option("--format", "fmt", type=click.Choice(["svg", "png"]), default="svg", show_default=True)
@click.option("--size-mm", type=click.IntRange(20, 300), default=40, show_default=True,
              help="Printed width and height of the SVG, quiet zone included.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@BASE
def qr_code(unit_code: str, counter_code: str, fmt: str, size_mm: int, out: Path, base: str | None) -> None:
    """The QR code of one counter alone, as SVG (print shops; printed SIZE_MM wide) or PNG."""
    session = db.get_session()
    unit = _unit(session, unit_code)
    counter = session.scalar(select(Counter).filter_by(unit_id=unit.id, code=counter_code))
    if counter is None:
        raise click.ClickException(say(f"đơn vị '{unit_code}' không có quầy '{counter_code}' (xem: counters list --unit {unit_code})",
                                       f"unit '{unit_code}' has no counter '{counter_code}' (see: counters list --unit {unit_code})"))
    url = codes.counter_url(counter.public_code, _base(base))
    if fmt == "svg":
        out.write_text(codes.qr_svg(url, f"{size_mm}mm"), encoding="utf-8")
    else:
        out.write_bytes(codes.qr_png(url))
    click.echo(f"{url} → {out}")


@qr_cli.command("dossiers")
@click.argument("path", type=FILE)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV of links to write.")
@BASE
def qr_dossiers(path: Path, out: Path, base: str | None) -> None:
    """Mint per-dossier links from FILE: dossier_code, unit_code, field, procedure, completed_on."""
    session = db.get_session()
    base = _base(base)
    _reference_lists(session)
    with speaking():  # the file's refusals and each row's reason in the shell's language (qr_cli is plain: posters)
        rows = _rows(path, dossiers.BATCH_COLUMNS)
        links, report = dossiers.mint_batch(session, rows, current_app.config["DOSSIER_LINK_DAYS"])
    # live links: anyone who reads the file can answer for those dossiers, so it is created 0600
    write_csv(out, ["line", "dossier_code", "unit_code", "url", "expires_at", "status"],
              ([link["line"], link["dossier_code"], link["unit_code"], codes.dossier_url(link["token"], base),
                vietnam_time(link["expires_at"]), link["status"]] for link in links), private=True)
    click.echo(say(f"Đã ghi {len(links)} đường dẫn vào {out}", f"Wrote {len(links)} links to {out}"))
    _finish(session, report, "dossiers")


def init_app(app: Flask) -> None:
    for group in (units_cli, counters_cli, qr_cli):
        app.cli.add_command(group)
