"""The coordinators' pages (`/staff/sampling`): import a frame (upload → column mapping → a
background job with its progress → validation report; frame_jobs.py), see the frame (personal
data audited), design a sample with a preview per stratum, draw it, and download the fieldwork
list (audited). Every route is scoped with
`scope.require("manage_samples" | "personal_data", unit=...)`. Views are thin: parse, call the
domain module, commit once.
"""
from __future__ import annotations

import io
import re
import secrets
import time
from datetime import date
from pathlib import Path

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import get_session
from ..errors import abort_with
from ..i18n import N_, _, get_locale
from ..models import Field, FrameDossier, FrameImport, Job, SampleDesign, SampleDraw, Unit
from ..qr import codes
from ..sheets import SheetError
from ..staff import audit, jobs, scope
from ..staff.scope import require
from . import design as designs
from . import draws, estimates, fieldwork, frame_jobs, frames, letters, paper_forms, retention, tracking
from .forms import DesignForm, MappingForm, StatusForm, UploadForm

bp = Blueprint("staff_sampling", __name__, url_prefix="/staff/sampling")
UPLOAD_TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
UPLOAD_SUFFIXES = (".csv", ".xlsx")
UPLOAD_HOURS = 24  # a mapping step left open longer is started again
PEOPLE_PAGE = 500


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.url_value_preprocessor
def larger_body_for_frame_files(endpoint: str | None, _values: dict | None) -> None:
    """A frame file may be 200 MB (frames.MAX_BYTES), the app's body limit is 64 KB: raise it for the upload alone,
    before anything reads the body (URL value preprocessors run before every before_request hook)."""
    if endpoint == "staff_sampling.frame_upload":
        request.max_content_length = frames.MAX_BYTES + 64 * 1024


def me():
    return current_user._get_current_object()


def unit_by_code(session: Session, code: str, **_: object) -> Unit | None:
    return session.scalar(select(Unit).where(Unit.code == code))


def unit_of_draw(session: Session, draw_id: int, **_: object) -> Unit | None:
    row = session.get(SampleDraw, draw_id)
    return row.design.unit if row is not None else None


def _upload_dir() -> Path:
    folder = Path(current_app.instance_path) / "frame-uploads"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _stale_uploads_removed(folder: Path) -> None:
    cutoff = time.time() - UPLOAD_HOURS * 3600
    for old in folder.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


@bp.get("/")
@require("manage_samples")
def index():
    db = get_session()
    roots = [g.unit for g in me().roles if g.role in scope.PERMISSIONS["manage_samples"] and g.unit is not None]
    visible = scope.visible_units(me(), "manage_samples").with_only_columns(Unit.id)
    recent = db.execute(select(SampleDraw, SampleDesign, Unit).join(SampleDesign, SampleDesign.id == SampleDraw.design_id)
                        .join(Unit, Unit.id == SampleDesign.unit_id).where(Unit.id.in_(visible))
                        .order_by(SampleDraw.id.desc()).limit(20)).all()
    return render_template("staff/sampling/index.html", roots=roots, recent=recent)


# --- the frame ---------------------------------------------------------------------------

def _frames_page(unit: Unit, form: UploadForm, errors: list[str], status: int = 200):
    db = get_session()
    imports = db.scalars(select(FrameImport).where(FrameImport.unit_id == unit.id).order_by(FrameImport.id.desc()).limit(20)).all()
    strata = db.execute(
        select(Unit.code, Unit.name, Field.name_vi, Field.name_en, func.count(), func.min(FrameDossier.completed_on),
               func.max(FrameDossier.completed_on)).select_from(FrameDossier)
        .join(Unit, Unit.id == FrameDossier.unit_id).join(Field, Field.id == FrameDossier.field_id)
        .where(Unit.path.startswith(unit.path)).group_by(Unit.code, Unit.name, Field.name_vi, Field.name_en)
        .order_by(Unit.code, Field.name_vi)).all()
    try:  # each import's last day of personal data (README § Retention); none shown if misconfigured
        days = retention.days_from(current_app.config)
        kept = {r.id: r for r in retention.by_import(db, days, unit)}
    except ValueError:
        days, kept = None, {}
    return render_template("staff/sampling/frames.html", unit=unit, form=form, errors=errors, imports=imports,
                           import_jobs=jobs.recent(db, unit, frame_jobs.KIND), job_states=jobs.STATES,
                           kept=kept, retention_days=days, strata=strata, sources=frames.sources(db, unit), lang=get_locale(),
                           max_mb=frames.MAX_BYTES // 1024 // 1024), status


@bp.get("/<code>/frames")
@require("manage_samples", unit=unit_by_code)
def frames_page(code: str):
    return _frames_page(unit_by_code(get_session(), code), UploadForm(formdata=None), [])


@bp.post("/<code>/frames/upload")
@require("manage_samples", unit=unit_by_code)
def frame_upload(code: str):
    """Step 1: keep the file aside (0600, for a day at most) and show the column mapping."""
    db = get_session()
    unit = unit_by_code(db, code)
    form = UploadForm()
    source = (form.source.data or "").strip()[:80]
    upload = request.files.get("file")
    errors = []
    if not source:
        errors.append(_("Vui lòng ghi tên phần mềm nguồn (ví dụ “Một cửa điện tử”), để lần sau dùng lại cách ghép cột."))
    suffix = Path(upload.filename or "").suffix.lower() if upload else ""
    if upload is None or not upload.filename:
        errors.append(_("Vui lòng chọn tệp danh sách hồ sơ (.csv hoặc .xlsx)."))
    elif suffix not in UPLOAD_SUFFIXES:
        errors.append(_("Chỉ nhận tệp .csv (UTF-8) hoặc .xlsx; trong Excel chọn “Lưu thành” để đổi định dạng."))
    if errors:
        return _frames_page(unit, form, errors, 422)
    folder = _upload_dir()
    _stale_uploads_removed(folder)
    token = secrets.token_urlsafe(16)
    path = folder / f"{token}{suffix}"
    with open(path, "xb") as fh:
        path.chmod(0o600)
        upload.save(fh)
    try:
        table = frames.read_table(path)
    except (SheetError, frames.FrameError) as exc:
        path.unlink(missing_ok=True)
        return _frames_page(unit, form, [_("Không đọc được tệp: {why}", why=str(exc))], 422)
    (folder / f"{token}.name").write_text(Path(upload.filename).name[:200], encoding="utf-8")
    mapping = frames.mapping_for(db, unit, source, table.headers)
    return _mapping_page(unit, token, source, table, mapping, [])


def _mapping_page(unit: Unit, token: str, source: str, table: frames.Table, mapping: dict[str, str], errors: list[str],
                  status: int = 200):
    form = MappingForm(formdata=None, data={"token": token, "source": source})
    return render_template("staff/sampling/mapping.html", unit=unit, form=form, table=table, mapping=mapping,
                           targets=frames.TARGETS, required=frames.REQUIRED, labels=frames.TARGET_LABELS,
                           errors=errors, sample=table.sample), status


def _uploaded(token: str) -> tuple[Path, str] | None:
    if not UPLOAD_TOKEN.fullmatch(token or ""):
        return None
    folder = _upload_dir()
    for suffix in UPLOAD_SUFFIXES:
        path = folder / f"{token}{suffix}"
        if path.exists():
            name = folder / f"{token}.name"
            return path, name.read_text(encoding="utf-8") if name.exists() else path.name
    return None


@bp.post("/<code>/frames/import")
@require("manage_samples", unit=unit_by_code)
def frame_import(code: str):
    """Step 2: start the import with the chosen mapping as a background job and show its page.
    Every import is a job, small or large: one path, and the report gets an address that a refresh
    does not post again."""
    db = get_session()
    unit = unit_by_code(db, code)
    form = MappingForm()
    source = (form.source.data or "").strip()[:80]
    found = _uploaded(form.token.data or "")
    if found is None or not source:
        return _frames_page(unit, UploadForm(formdata=None), [
            _("Tệp tải lên đã hết hạn hoặc không còn: vui lòng tải tệp lên lại.")], 422)
    path, filename = found
    mapping = {t: request.form.get(f"map_{t}", "") for t in frames.TARGETS}
    mapping = {t: h for t, h in mapping.items() if h}
    try:
        table = frames.read_table(path)
    except (SheetError, frames.FrameError) as exc:
        return _frames_page(unit, UploadForm(formdata=None), [_("Không đọc được tệp: {why}", why=str(exc))], 422)
    problems = frames.check_mapping(mapping, table.headers)
    if problems:
        return _mapping_page(unit, form.token.data, source, table, mapping, problems, 422)
    app = jobs.app_of()
    jobs.reap(db)
    job = frame_jobs.create(db, me(), unit, filename=filename, source=source, mapping=mapping, locale=get_locale())
    audit.record(db, "frame_import_started", actor=me(), unit=unit, target=filename, job=job.id, source=source)
    db.commit()
    jobs.keep_input(app, job, path)
    path.with_suffix(".name").unlink(missing_ok=True)
    jobs.start(app, job.id)
    return redirect(url_for("staff_sampling.frame_job", frame_job_id=job.id), 303)


def unit_of_frame_job(session: Session, frame_job_id: int, **_: object) -> Unit | None:
    job = session.get(Job, frame_job_id)
    return job.unit if job is not None and job.kind == frame_jobs.KIND else None


@bp.get("/frame-jobs/<int:frame_job_id>")
@require("manage_samples", unit=unit_of_frame_job)
def frame_job(frame_job_id: int):
    """A frame import's progress (static/job-poll.js swaps in the fresh status; without script, a
    reload link), then its validation report, or why it failed."""
    db = get_session()
    job, done, total = jobs.as_shown(db, frame_job_id)
    return render_template("staff/sampling/frame_job.html", job=job, unit=job.unit, options=jobs.options_of(job),
                           done=done, total=total, states=jobs.STATES, running=job.state in ("queued", "running"),
                           report=frame_jobs.report_of(db, job) if job.state == "done" else None,
                           local_time=audit.local_time)


@bp.get("/<code>/frames/people")
@require("personal_data", unit=unit_by_code)
def frame_people(code: str):
    """Names, addresses and phones of the frame: personal data, every view audited."""
    db = get_session()
    unit = unit_by_code(db, code)
    rows = db.execute(select(FrameDossier, Unit.code, Field.name_vi).join(Unit, Unit.id == FrameDossier.unit_id)
                      .join(Field, Field.id == FrameDossier.field_id).where(Unit.path.startswith(unit.path))
                      .order_by(FrameDossier.completed_on.desc(), FrameDossier.dossier_code).limit(PEOPLE_PAGE)).all()
    audit.record(db, "personal_data_viewed", actor=me(), unit=unit, target=request.path, what="frame", rows=len(rows))
    db.commit()
    return render_template("staff/sampling/people.html", unit=unit, rows=rows, limit=PEOPLE_PAGE)


# --- design and draw ---------------------------------------------------------------------

def _number(text: str | None, label: str, errors: list[str], *, percent: bool = False, integer: bool = False,
            optional: bool = False) -> float | int | None:
    text = (text or "").strip().replace(",", ".")
    if not text:
        if not optional:
            errors.append(_("Vui lòng nhập “{label}”.", label=label))
        return None
    try:
        value = float(text)
    except ValueError:
        errors.append(_("“{label}” phải là một số (ví dụ 95 hoặc 2,5).", label=label))
        return None
    if integer:
        if not value.is_integer():
            errors.append(_("“{label}” phải là số nguyên.", label=label))
            return None
        return int(value)
    return value / 100 if percent else value


def _params(unit: Unit, form: DesignForm) -> tuple[designs.Params | None, list[str]]:
    errors: list[str] = []
    dates = []
    for fld, label in ((form.period_start, _("Từ ngày")), (form.period_end, _("Đến ngày"))):
        try:
            dates.append(frames.to_date((fld.data or "").strip()))
        except ValueError:
            errors.append(_("“{label}”: ghi ngày dạng 01/10/2026.", label=label))
    values = {
        "confidence": _number(form.confidence.data, _("Độ tin cậy (%)"), errors, percent=True),
        "margin": _number(form.margin.data, _("Sai số cho phép (điểm %)"), errors, percent=True),
        "proportion": _number(form.proportion.data, _("Tỷ lệ hài lòng kỳ vọng (%)"), errors, percent=True),
        "response_rate": _number(form.response_rate.data, _("Tỷ lệ trả lời kỳ vọng (%)"), errors, percent=True),
        "design_effect": _number(form.design_effect.data, _("Hiệu ứng thiết kế"), errors),
        "minimum": _number(form.minimum.data, _("Tối thiểu mỗi tầng"), errors, integer=True),
        "quota": _number(form.quota.data, _("Chỉ tiêu mỗi đơn vị"), errors, integer=True, optional=True),
        "total": _number(form.total.data, _("Cỡ mẫu nhập tay"), errors, integer=True, optional=True),
    }
    if errors:
        return None, errors
    p = designs.Params(unit, dates[0], dates[1], strata=form.strata.data or "unit_field",
                       formula=form.formula.data or "cochran", allocation=form.allocation.data or "proportional", **values)
    try:
        p.check()
    except designs.DesignError as exc:
        return None, [str(exc)]
    return p, []


def _default_period() -> tuple[str, str]:
    today = date.today()
    q = (today.month - 1) // 3  # the last full quarter
    year, q = (today.year, q - 1) if q else (today.year - 1, 3)
    start = date(year, 3 * q + 1, 1)
    end = date(year + (q == 3), (3 * q + 3) % 12 + 1, 1)
    return f"{start:%d/%m/%Y}", f"{date.fromordinal(end.toordinal() - 1):%d/%m/%Y}"


def _design_page(unit: Unit, form: DesignForm, preview=None, errors: list[str] | None = None, status: int = 200):
    for fld, choices in ((form.strata, designs.STRATA), (form.formula, designs.FORMULAS),
                         (form.allocation, designs.ALLOCATIONS)):
        fld.choices = [(k, _(v)) for k, v in choices.items()]
    prev = designs.previous_period(preview.params) if preview is not None else None
    return render_template("staff/sampling/design.html", unit=unit, form=form, preview=preview, errors=errors or [],
                           prev=prev, min_n=designs.MIN_N, basis_note=designs.basis_note), status


@bp.get("/<code>/design")
@require("manage_samples", unit=unit_by_code)
def design(code: str):
    start, end = _default_period()
    form = DesignForm(formdata=None, data={"period_start": start, "period_end": end, "strata": "unit_field",
                                           "formula": "cochran", "allocation": "proportional"})
    return _design_page(unit_by_code(get_session(), code), form)


@bp.post("/<code>/design")
@require("manage_samples", unit=unit_by_code)
def design_post(code: str):
    """Preview (the default) or, with action=draw, save the design and draw it with the seed."""
    db = get_session()
    unit = unit_by_code(db, code)
    form = DesignForm()
    p, errors = _params(unit, form)
    if p is None:
        return _design_page(unit, form, errors=errors, status=422)
    preview = designs.preview(db, p)
    if request.form.get("action") != "draw":
        return _design_page(unit, form, preview)
    saved = designs.save(db, p, me().login)
    try:
        row = draws.draw(db, saved, (form.seed.data or "").strip() or None, me().login)
    except draws.DrawError as exc:
        db.rollback()
        return _design_page(unit, form, preview, [str(exc)], 422)
    audit.record(db, "sample_drawn", actor=me(), unit=unit, target=f"draw {row.id}", seed=row.seed, design=saved.id,
                 frame_sha256=row.frame_sha256, selected=row.selected)
    db.commit()
    return redirect(url_for("staff_sampling.draw", draw_id=row.id))


# Re-deriving a draw reads its whole frame (about 4 s of CPU at a million rows, bench/bench_draw.py):
# done on every view of a draw from a smaller frame, and on request (?kiem_tra=1) for a larger one,
# since the page is reopened after every status a fieldworker sets.
AUTO_VERIFY_ROWS = 100_000


def _draw_page(row: SampleDraw, form: StatusForm, errors: list[str], status: int = 200):
    db = get_session()
    check = draws.verify(db, row) if row.frame_size <= AUTO_VERIFY_ROWS or request.args.get("kiem_tra") else None
    members = fieldwork.members(db, row)
    audit.record(db, "personal_data_viewed", actor=me(), unit=row.design.unit, target=request.path, what="sample",
                 rows=len(members))
    db.commit()
    return render_template("staff/sampling/draw.html", draw=row, design=row.design, members=members,
                           strata=draws.strata_summary(db, row), formulas=designs.FORMULAS, allocations=designs.ALLOCATIONS,
                           strata_labels=designs.STRATA, check=check, rates=tracking.rates(db, row.id),
                           statuses=tracking.STATUSES, settable=tracking.SETTABLE, form=form, errors=errors,
                           in_field=tracking.in_field, est=estimates.for_draw(db, row), print_limit=letters.SYNC_LIMIT,
                           in_field_count=sum(1 for m, *_rest in members if tracking.in_field(m) and m.status != "replaced")), status


@bp.get("/draws/<int:draw_id>")
@require("personal_data", unit=unit_of_draw)
def draw(draw_id: int):
    """A draw: its record (seed, checksum), strata, response rates, the members and reserves (audited view)."""
    return _draw_page(get_session().get(SampleDraw, draw_id), StatusForm(formdata=None), [])


@bp.get("/draws/<int:draw_id>/estimates")
@require("view_reports", unit=unit_of_draw)
def draw_estimates(draw_id: int):
    """The draw's weighted estimates: readers may see them (no personal data in them)."""
    db = get_session()
    row = db.get(SampleDraw, draw_id)
    return render_template("staff/sampling/estimates.html", draw=row, design=row.design, est=estimates.for_draw(db, row))


@bp.post("/draws/<int:draw_id>/status")
@require("manage_samples", unit=unit_of_draw)
def draw_status(draw_id: int):
    """Record a member's fieldwork status by respondent code, or replace them with the next reserve."""
    db = get_session()
    row = db.get(SampleDraw, draw_id)
    form = StatusForm()
    try:
        member = tracking.member_by_code(db, row.id, form.respondent_code.data or "")
        if request.form.get("action") == "replace":
            reserve = tracking.replace(db, member)
            message = _("{old} được thay bằng người dự phòng {new} (thứ tự {rank} của tầng).", old=member.respondent_code,
                        new=reserve.respondent_code, rank=reserve.reserve_rank)
        else:
            tracking.set_status(db, member, form.status.data or "")
            message = _("{code}: {status}.", code=member.respondent_code, status=_(tracking.STATUSES[member.status]))
    except tracking.TrackingError as exc:
        db.rollback()
        return _draw_page(row, form, [str(exc)], 422)
    db.commit()
    flash(message, "success")
    return redirect(url_for("staff_sampling.draw", draw_id=row.id))


@bp.get("/draws/<int:draw_id>/export")
@require("personal_data", unit=unit_of_draw)
def draw_export(draw_id: int):
    """The fieldwork list (?format=xlsx, the default, or csv) with single-use links; personal data, audited."""
    fmt = request.args.get("format", "xlsx")
    if fmt not in ("csv", "xlsx"):
        abort_with(400, _("Chỉ có bản CSV (format=csv) hoặc Excel (format=xlsx)."))
    db, row, base = _draw_with_links(draw_id)
    data = list(fieldwork.rows(db, row, base=base))
    audit.record(db, "export", actor=me(), unit=row.design.unit, target=request.path, what="sample_fieldwork_list",
                 rows=len(data))
    db.commit()
    body = fieldwork.to_csv_bytes(data) if fmt == "csv" else fieldwork.to_xlsx_bytes(data)
    mimetype = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=mau-{row.id}.{fmt}"})


# --- printed fieldwork material -----------------------------------------------------------

def _draw_with_links(draw_id: int) -> tuple[Session, SampleDraw, str]:
    """The draw and the public base URL its people's links are built on (fieldwork list, letters):
    without SURVEY_PUBLIC_BASE_URL the links would lead nowhere, so that is a 503 saying so."""
    db = get_session()
    row = db.get(SampleDraw, draw_id)
    try:
        return db, row, codes.base_url()
    except codes.NoBaseUrl as exc:
        abort_with(503, exc.description)


def _printed_codes(db: Session, row: SampleDraw, too_many: str) -> list[str]:
    """The respondent codes one web download prints: ?code= one of them (unknown: 404), else every
    selected one, at most letters.SYNC_LIMIT (more: 422 with `too_many`, an N_ text naming the CLI command)."""
    code = request.args.get("code", "").strip()[:30] or None
    try:
        wanted = paper_forms.codes(db, row, code)
    except paper_forms.PaperFormError as exc:
        abort_with(404, str(exc))
    if len(wanted) > letters.SYNC_LIMIT:
        abort_with(422, _(too_many, n=len(wanted), limit=letters.SYNC_LIMIT, id=row.id))
    return wanted


def _pdf(body: bytes, name: str, wanted: list[str], tail: str = "") -> Response:
    """A printed PDF as a download named after the draw's material, and its one respondent when only one."""
    filename = f"{name}{'-' + wanted[0] if len(wanted) == 1 else ''}{tail}.pdf"
    return Response(body, mimetype="application/pdf", headers={"Content-Disposition": f"attachment; filename={filename}"})


@bp.get("/draws/<int:draw_id>/letters.pdf")
@require("personal_data", unit=unit_of_draw)
def draw_letters(draw_id: int):
    """Invitation letters (?size=A4|A5, ?code=one respondent) with personal QR codes; personal data, audited.
    Up to letters.SYNC_LIMIT per request; more are printed with `flask sample letters`."""
    size = request.args.get("size", "A4").upper()
    if size not in letters.SIZES:
        abort_with(400, _("Khổ giấy chỉ có A4 hoặc A5."))
    db, row, base = _draw_with_links(draw_id)
    wanted = _printed_codes(db, row, N_("Lần rút có {n} thư mời; mỗi lần tải trên web tối đa {limit} thư. Vui lòng in bằng "
                                        "lệnh “flask --app wsgi sample letters {id} --out thu-moi.pdf”."))
    made = letters.batch(db, row, base=base, codes=set(wanted))
    out = io.BytesIO()
    letters.write_pdf(made, size, out)
    audit.record(db, "export", actor=me(), unit=row.design.unit, target=request.path, what="sample_letters",
                 rows=len(made.letters), size=size, without_link=len(made.problems))
    db.commit()
    return _pdf(out.getvalue(), f"thu-moi-{row.id}", wanted, f"-{size}")


@bp.get("/draws/<int:draw_id>/paper-forms.pdf")
@require("personal_data", unit=unit_of_draw)
def draw_paper_forms(draw_id: int):
    """The paper questionnaire with the respondent code and its QR on every page (?code=one respondent); audited."""
    db = get_session()
    row = db.get(SampleDraw, draw_id)
    try:
        q = paper_forms.questionnaire(db)
    except paper_forms.PaperFormError as exc:
        abort_with(404, str(exc))
    wanted = _printed_codes(db, row, N_("Lần rút có {n} người; mỗi lần tải trên web tối đa {limit} phiếu. Vui lòng in bằng "
                                        "lệnh “flask --app wsgi sample paper-forms {id} --out phieu.pdf”."))
    out = io.BytesIO()
    paper_forms.write_pdf(q, row.design.unit.name, wanted, out)
    audit.record(db, "export", actor=me(), unit=row.design.unit, target=request.path, what="sample_paper_forms",
                 rows=len(wanted))
    db.commit()
    return _pdf(out.getvalue(), f"phieu-giay-{row.id}", wanted)
