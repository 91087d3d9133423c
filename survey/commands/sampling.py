"""Command groups for sampling: `frame import|list` and `sample design|draw|verify|export`.

Every import, draw and export is audited as the CLI user (actor "cli:<login>"); the sample
export holds personal data and is written readable by its owner only (0600).
"""
from __future__ import annotations

import getpass
import json
from datetime import date
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import db
from ..i18n import format_pct
from ..models import Field, FrameDossier, SampleDesign, SampleDraw, Unit
from ..qr import codes
from ..sampling import design as designs
from ..sampling import draws, fieldwork, frames
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
    try:
        report = frames.import_frame(session, root, path, source=source, mapping=mapping, actor_login=_actor())
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


def init_app(app: Flask) -> None:
    app.cli.add_command(frame_cli)
    app.cli.add_command(sample_cli)
