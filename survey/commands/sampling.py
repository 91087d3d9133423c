"""Command groups for sampling: `frame import|list` and `sample design|draw|verify|export`, and the
printed fieldwork material `sample letters|paper-forms`.

Every import, draw and export is audited as the CLI user (actor "cli:<login>"); the sample
export holds personal data and is written readable by its owner only (0600).
"""
from __future__ import annotations

import getpass
import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import db
from ..i18n import format_date, format_pct, outside_request
from ..models import Field, FrameDossier, SampleDesign, SampleDraw, Unit
from ..qr import codes
from ..sampling import design as designs
from ..sampling import draws, fieldwork, frames, letters, paper_forms, retention
from ..staff import audit
from .messages import SpeakingGroup, no_base_url, say

frame_cli = SpeakingGroup("frame", help=say("Khung mẫu: hồ sơ đã giải quyết, nhập từ tệp xuất của phần mềm một cửa; "
                                            "xoá dữ liệu cá nhân hết hạn lưu giữ.",
                                            "Sampling frames: completed dossiers imported from one-stop software exports; "
                                            "purge of personal data past retention."))
sample_cli = AppGroup("sample", help=say("Thiết kế mẫu, rút mẫu tái lập được, kiểm chứng và danh sách điều tra.",
                                              "Sample designs, reproducible draws, their verification and the fieldwork list."))
FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"[:64]


def _unit(session: Session, code: str) -> Unit:
    unit = session.scalar(select(Unit).filter_by(code=code))
    if unit is None:
        raise click.ClickException(say(f"không có đơn vị mã '{code}'", f"no unit with code '{code}'"))
    return unit


def _date(text: str) -> date:
    try:
        return frames.to_date(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@frame_cli.command("import")
@click.argument("path", type=FILE)
@click.option("--unit", "unit_code", required=True, help="The unit whose subtree the file lists (rows of other units are rejected).")
@click.option("--source", required=True, help="Name of the exporting software; its column mapping is saved under it.")
@click.option("--map", "pairs", multiple=True, metavar="TARGET=HEADER",
              help=f"Column mapping, e.g. --map 'dossier_code=Mã hồ sơ'. Targets: {', '.join(frames.TARGETS)}.")
def frame_import(path: Path, unit_code: str, source: str, pairs: tuple[str, ...]) -> None:
    """Import a frame (.csv UTF-8 or .xlsx); lists every rejected row, exits 1 if any."""
    session = db.get_session()
    root = _unit(session, unit_code)
    mapping = None
    if pairs:
        mapping = dict(p.split("=", 1) for p in pairs if "=" in p)
        if len(mapping) != len(pairs):
            raise click.BadParameter(say("viết CỘT=TIÊU_ĐỀ, ví dụ --map 'dossier_code=Mã hồ sơ'",
                                         "use TARGET=HEADER, e.g. --map 'dossier_code=Mã hồ sơ'"), param_hint="--map")
    lines = frames.line_count(path)
    try:
        if lines is None:  # a workbook: no cheap row count, no bar
            report = frames.import_frame(session, root, path, source=source, mapping=mapping, actor_login=_actor())
        else:
            with click.progressbar(length=lines, label=say("Đang nhập khung mẫu", "Importing the frame"),
                                   file=sys.stderr) as bar:
                report = frames.import_frame(session, root, path, source=source, mapping=mapping, actor_login=_actor(),
                                             progress=bar.update)
    except frames.FrameError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(session, "frame_imported", actor_login=_actor(), unit=root, target=path.name[:200],
                 created=report.created, unchanged=report.unchanged, rejected=len(report.rejected))
    session.commit()
    for line, note in report.notes:
        click.echo(say(f"dòng {line}: {note}", f"line {line}: {note}"))
    for line, reason, fix in report.rejected:
        click.secho(say(f"dòng {line}: {reason} — cách sửa: {fix}", f"line {line}: {reason} — fix: {fix}"), fg="red", err=True)
    click.echo(report.summary())
    if report.rejected:
        click.get_current_context().exit(1)


@frame_cli.command("list")
@click.option("--unit", "unit_code", required=True)
def frame_list(unit_code: str) -> None:
    """Dossiers in the frame per unit and field, with their completion dates (no personal data)."""
    session = db.get_session()
    root = _unit(session, unit_code)
    rows = session.execute(
        select(Unit.code, Field.code, func.count(), func.min(FrameDossier.completed_on), func.max(FrameDossier.completed_on))
        .select_from(FrameDossier).join(Unit, Unit.id == FrameDossier.unit_id).join(Field, Field.id == FrameDossier.field_id)
        .where(Unit.path.startswith(root.path)).group_by(Unit.code, Field.code).order_by(Unit.code, Field.code)).all()
    for unit, field, n, first, last in rows:
        click.echo(f"{unit}\t{field}\t{n}\t{first:%d/%m/%Y}–{last:%d/%m/%Y}")
    click.echo(say(f"{sum(r[2] for r in rows)} hồ sơ", f"{sum(r[2] for r in rows)} dossiers"))


def _retention_days() -> int:
    try:
        return retention.days_from(current_app.config)
    except ValueError as exc:
        value = exc.args[0]
        raise click.ClickException(say(
            f"SURVEY_FRAME_RETENTION_DAYS phải là số ngày nguyên từ 0 trở lên (đang là {value!r}); sửa biến môi trường rồi chạy lại",
            f"SURVEY_FRAME_RETENTION_DAYS must be a whole number of days, 0 or more (it is {value!r}); fix it and run again")) from None


@frame_cli.command("retention")
@click.option("--unit", "unit_code", default=None, help="Only the imports of this unit and the units below it.")
def frame_retention(unit_code: str | None) -> None:
    """Each frame import with the last day its personal data is kept (no personal data shown)."""
    session = db.get_session()
    days = _retention_days()
    rows = retention.by_import(session, days, _unit(session, unit_code) if unit_code else None)
    click.echo(say("lần nhập\tđơn vị\ttệp\tngày nhập\tgiữ đến hết\tcòn dữ liệu cá nhân",
                   "import\tunit\tfile\timported\tkept until\tholding personal data"))
    for r in rows:
        click.echo(f"{r.id}\t{r.unit_code}\t{r.filename}\t{format_date(r.imported_at)}\t{format_date(r.kept_until)}\t{r.holding}")
    click.echo(say(f"{len(rows)} lần nhập; dữ liệu cá nhân được giữ {days} ngày sau ngày hoàn thành hồ sơ hoặc ngày kết thúc "
                   "kỳ của thiết kế mẫu muộn nhất chứa hồ sơ (SURVEY_FRAME_RETENTION_DAYS); xoá bằng: frame purge",
                   f"{len(rows)} import(s); personal data is kept {days} days after the dossier's completion or the end of "
                   "the latest design period covering it (SURVEY_FRAME_RETENTION_DAYS); purge with: frame purge"))


@frame_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Say what would be purged; change nothing.")
@click.option("--unit", "unit_code", default=None, help="Only the frames of this unit and the units below it.")
def frame_purge(dry_run: bool, unit_code: str | None) -> None:
    """Blank name, address and phone of frame dossiers past retention; audited with counts.

    Dossier code, unit, field and completion date stay, so `sample verify` still matches."""
    session = db.get_session()
    days = _retention_days()
    root = _unit(session, unit_code) if unit_code else None
    done = retention.purge(session, days, root=root, dry_run=dry_run)
    cutoff = format_date(done.on - timedelta(days=days))
    for import_id, (code, filename, n) in done.per_import.items():
        click.echo(say(f"  lần nhập {import_id} ({code}, {filename}): {n} hồ sơ",
                       f"  import {import_id} ({code}, {filename}): {n} dossier(s)"))
    if not dry_run and (done.dossiers or done.keyings):
        audit.record(session, "frame_purged", actor_login=_actor(), unit=root, target=f"{done.dossiers} dossiers",
                     dossiers=done.dossiers, keyings=done.keyings, retention_days=days, on=done.on.isoformat(),
                     imports={str(k): v[2] for k, v in done.per_import.items()})
    session.commit()
    if not done.dossiers and not done.keyings:
        click.echo(say(f"Không có hồ sơ nào quá hạn lưu ({days} ngày; hoàn thành trước {cutoff} và không còn thuộc "
                       "kỳ thiết kế mẫu nào chưa hết hạn). Không xoá gì.",
                       f"No dossier is past retention ({days} days; completed before {cutoff} and in no design period "
                       "still kept). Nothing was purged."))
        return
    facts = (done.dossiers, len(done.per_import), done.keyings)
    if dry_run:
        click.echo(say("Chạy thử, không xoá gì: sẽ xoá họ tên, địa chỉ, số điện thoại của {} hồ sơ trong {} lần nhập "
                       "và {} lần nhập phiếu giấy.".format(*facts),
                       "Dry run, nothing changed: would blank name, address and phone of {} dossier(s) in {} import(s) "
                       "and delete {} paper keying(s).".format(*facts)))
        return
    click.echo(say("Đã xoá họ tên, địa chỉ, số điện thoại của {} hồ sơ trong {} lần nhập và {} lần nhập phiếu giấy "
                   "(ghi nhật ký). Mã hồ sơ, đơn vị, lĩnh vực, ngày hoàn thành được giữ: sample verify vẫn kiểm chứng "
                   "được các lần rút mẫu.".format(*facts),
                   "Blanked name, address and phone of {} dossier(s) in {} import(s) and deleted {} paper keying(s) "
                   "(audited). Dossier code, unit, field and completion date stay: sample verify still checks the "
                   "draws.".format(*facts)))


@sample_cli.command("design")
@click.option("--unit", "unit_code", required=True)
@click.option("--from", "start", required=True, help="First completion date (20/11/2026 or 2026-11-20).")
@click.option("--to", "end", required=True)
@click.option("--strata", type=click.Choice(list(designs.STRATA)), default="unit_field", show_default=True)
@click.option("--formula", type=click.Choice(list(designs.FORMULAS)), default="cochran", show_default=True)
@click.option("--confidence", type=float, default=0.95, show_default=True)
@click.option("--margin", type=float, default=0.05, show_default=True, help="Margin of error as a fraction (0.05 = ±5 points).")
@click.option("--proportion", type=float, default=0.5, show_default=True)
@click.option("--response-rate", type=float, default=1.0, show_default=True)
@click.option("--deff", type=float, default=1.0, show_default=True, help="Design effect.")
@click.option("--allocation", type=click.Choice(list(designs.ALLOCATIONS)), default="proportional", show_default=True)
@click.option("--minimum", type=int, default=0, show_default=True, help="At least this many per stratum.")
@click.option("--quota", type=int, default=None, help="Forms per unit with --allocation quota (e.g. 90 per commune).")
@click.option("--total", type=int, default=None, help="A total set by hand instead of the formula.")
@click.option("--save", is_flag=True, help="Keep the design (prints its id for `sample draw`).")
def sample_design(unit_code: str, start: str, end: str, save: bool, deff: float, response_rate: float, **kw) -> None:
    """Preview a design per stratum (N_h, n_h, expected margin); --save keeps it."""
    session = db.get_session()
    p = designs.Params(_unit(session, unit_code), _date(start), _date(end), design_effect=deff,
                       response_rate=response_rate, **kw)
    try:
        pre = designs.preview(session, p)
    except designs.DesignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(say("đơn vị\tlĩnh vực\tN_h\tn_h\tsai số", "unit\tfield\tN_h\tn_h\tmargin"))
    for r in pre.strata.itertuples():
        neyman = f"\tS_h: {designs.basis_note(r)}" if "p_prev" in pre.strata.columns else ""
        click.echo(f"{r.unit}\t{r.field}\t{r.N}\t{r.n}\t{'±' + format_pct(r.margin * 100) if r.margin is not None else '—'}{neyman}")
    click.echo(say(f"Tổng thể {pre.population}; cỡ mẫu tính được {pre.size}; phân bổ {pre.total}",
                   f"Population {pre.population}; computed size {pre.size}; allocated {pre.total}"))
    if save:
        saved = designs.save(session, p, _actor())
        session.commit()
        click.echo(say(f"Đã lưu thiết kế {saved.id}", f"Design {saved.id} saved"))


@sample_cli.command("draw")
@click.argument("design_id", type=int)
@click.option("--seed", default=None, help="Published seed (default: a random one, printed).")
def sample_draw(design_id: int, seed: str | None) -> None:
    """Draw a saved design (a new draw each time; earlier draws are kept)."""
    session = db.get_session()
    design = session.get(SampleDesign, design_id)
    if design is None:
        raise click.ClickException(say(f"không có thiết kế {design_id}", f"no design {design_id}"))
    try:
        row = draws.draw(session, design, seed, _actor())
    except draws.DrawError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(session, "sample_drawn", actor_login=_actor(), unit=design.unit, target=f"draw {row.id}",
                 seed=row.seed, design=design.id, frame_sha256=row.frame_sha256, selected=row.selected)
    session.commit()
    click.echo(json.dumps({"draw": row.id, "seed": row.seed, "algorithm": row.algorithm, "frame_sha256": row.frame_sha256,
                           "frame_size": row.frame_size, "selected": row.selected}, ensure_ascii=False))


def _draw(session: Session, draw_id: int) -> SampleDraw:
    row = session.get(SampleDraw, draw_id)
    if row is None:
        raise click.ClickException(say(f"không có lần rút mẫu {draw_id}", f"no draw {draw_id}"))
    return row


@sample_cli.command("verify")
@click.argument("draw_id", type=int)
def sample_verify(draw_id: int) -> None:
    """Re-derive a draw from the frame and say whether it matches (exit 1 if not)."""
    session = db.get_session()
    result = draws.verify(session, _draw(session, draw_id))
    click.echo(result.message)
    if not result.matches:
        click.get_current_context().exit(1)


@sample_cli.command("export")
@click.argument("draw_id", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help=".csv or .xlsx")
@click.option("--base", default=None, help="Public address citizens use (default: SURVEY_PUBLIC_BASE_URL).")
def sample_export(draw_id: int, out: Path, base: str | None) -> None:
    """The fieldwork list with personal data and single-use links; written 0600, audited."""
    session = db.get_session()
    row = _draw(session, draw_id)
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise click.BadParameter(say("tên tệp phải kết thúc bằng .csv hoặc .xlsx", "the file name must end in .csv or .xlsx"),
                                 param_hint="--out")
    try:
        base = codes.base_url(base)
    except codes.NoBaseUrl:
        raise click.ClickException(no_base_url()) from None
    data = list(fieldwork.rows(session, row, base=base))
    (fieldwork.to_csv_file if out.suffix.lower() == ".csv" else fieldwork.to_xlsx_file)(out, data)
    audit.record(session, "export", actor_login=_actor(), unit=row.design.unit, target=f"sample draw {row.id}",
                 what="sample_fieldwork_list", rows=len(data), file=str(out))
    session.commit()
    click.echo(say(f"{len(data)} dòng → {out} (chỉ chủ tệp đọc được)", f"{len(data)} rows → {out} (owner-only)"))


def _pdf_name(out: Path) -> None:
    if out.suffix.lower() != ".pdf":
        raise click.BadParameter(say("tên tệp phải kết thúc bằng .pdf", "the file name must end in .pdf"), param_hint="--out")


def _private_pdf(out: Path):
    """A PDF file readable by its owner only (letters carry names and addresses)."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(out, 0o600)
    return os.fdopen(fd, "wb")


@sample_cli.command("letters")
@click.argument("draw_id", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="file.pdf")
@click.option("--size", type=click.Choice(sorted(letters.SIZES), case_sensitive=False), default="A4", show_default=True)
@click.option("--base", default=None, help="Public address citizens use (default: SURVEY_PUBLIC_BASE_URL).")
def sample_letters(draw_id: int, out: Path, size: str, base: str | None) -> None:
    """Invitation letters, one page per person in the field, each with a personal single-use QR code and
    short link; written 0600, audited. Lists the people whose letter asks for the paper form instead."""
    _pdf_name(out)
    session = db.get_session()
    row = _draw(session, draw_id)
    try:
        base = codes.base_url(base)
    except codes.NoBaseUrl:
        raise click.ClickException(no_base_url()) from None
    try:
        wanted = paper_forms.codes(session, row)
    except paper_forms.PaperFormError:
        raise click.ClickException(say(f"lần rút {row.id} chưa có ai trong danh sách khảo sát",
                                       f"draw {row.id} has nobody in the field")) from None
    with outside_request("vi"):
        made = letters.batch(session, row, base=base, codes=set(wanted))
    session.commit()  # the links exist from now on, whether or not the PDF is printed
    with click.progressbar(length=len(made.letters), label=say("Đang in thư mời", "Printing letters")) as bar, \
            _private_pdf(out) as fh:
        pages = letters.write_pdf(made, size.upper(), fh, progress=bar.update)
    audit.record(session, "export", actor_login=_actor(), unit=row.design.unit, target=f"sample draw {row.id}",
                 what="sample_letters", rows=pages, size=size.upper(), without_link=len(made.problems), file=str(out))
    session.commit()
    for code, why in made.problems:
        click.echo(say(f"{code}: không có mã QR ({why}); thư mời đề nghị trả lời bằng phiếu giấy",
                       f"{code}: no QR code ({why}); the letter asks for the paper form"), err=True)
    click.echo(say(f"{pages} thư mời → {out} (chỉ chủ tệp đọc được)", f"{pages} letters → {out} (owner-only)"))


@sample_cli.command("paper-forms")
@click.argument("draw_id", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="file.pdf")
@click.option("--code", default=None, help="One respondent code (default: everyone in the field).")
def sample_paper_forms(draw_id: int, out: Path, code: str | None) -> None:
    """The paper questionnaire with the respondent code and its QR code on every page; audited."""
    _pdf_name(out)
    session = db.get_session()
    row = _draw(session, draw_id)
    try:
        with outside_request("vi"):
            q = paper_forms.questionnaire(session)
            wanted = paper_forms.codes(session, row, code)
    except paper_forms.PaperFormError as exc:
        raise click.ClickException(str(exc)) from None
    with click.progressbar(length=len(wanted), label=say("Đang in phiếu giấy", "Printing paper forms")) as bar, \
            _private_pdf(out) as fh:
        pages = paper_forms.write_pdf(q, row.design.unit.name, wanted, fh)
        bar.update(len(wanted))
    audit.record(session, "export", actor_login=_actor(), unit=row.design.unit, target=f"sample draw {row.id}",
                 what="sample_paper_forms", rows=len(wanted), file=str(out))
    session.commit()
    click.echo(say(f"{len(wanted)} phiếu, {pages} trang → {out}", f"{len(wanted)} forms, {pages} pages → {out}"))


@sample_cli.command("recheck")
@click.argument("draw_id", type=int)
@click.option("--size", required=True, help="How many returned paper forms to re-check: a number (5) or a share (10%).")
@click.option("--seed", default=None, help="Published seed (default: a random one, printed).")
def sample_recheck(draw_id: int, size: str, seed: str | None) -> None:
    """Phúc tra: a reproducible subsample of the draw's returned paper forms, by sha256(seed ":" code)."""
    from ..sampling import recheck

    session = db.get_session()
    row = _draw(session, draw_id)
    try:
        picked = recheck.draw(session, row.id, size, seed, _actor())
    except recheck.RecheckError as exc:
        raise click.ClickException(str(exc)) from None
    codes = recheck.picked(picked)
    audit.record(session, "recheck_drawn", actor_login=_actor(), unit=row.design.unit, target=f"draw {row.id}",
                 seed=picked.seed, size=picked.size, returned=picked.returned, picked=len(codes))
    session.commit()
    click.echo(json.dumps({"draw": row.id, "seed": picked.seed, "size": picked.size, "returned": picked.returned,
                           "codes": codes}, ensure_ascii=False))


def init_app(app: Flask) -> None:
    app.cli.add_command(frame_cli)
    app.cli.add_command(sample_cli)
