"""Reports for Phòng Nội vụ (/staff/reports): the dashboard of a unit subtree, its Excel
workbook, its charts (SVG drawn on the server) and the citizens' comments.

Every page is scoped with `scope.require("view_reports", unit=...)` on the unit code in the URL,
so a reader who edits the URL to another subtree gets 403 (audited). The figures come from
survey.reporting.dashboard; the views only read the filters, call it, and render or send.
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import get_session
from ..errors import abort_with
from ..i18n import _
from ..models import Field, Unit
from ..reporting import charts, dashboard, files
from ..reporting import comments as comment_store
from ..sampling import estimates as sampled_estimates
from . import audit, scope
from .forms import ActionForm
from .scope import require

bp = Blueprint("staff_reports", __name__, url_prefix="/staff/reports")
CHARTS = ("criteria", "units", "trend")


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def unit_by_code(session: Session, code: str, **_: object) -> Unit | None:
    return session.scalar(select(Unit).where(Unit.code == code))


def me():
    return current_user._get_current_object()


def _filters(code: str) -> dashboard.Filters:
    """The dashboard filters from the query string; a bad one is a 400 page that says how to fix it."""
    args = request.args
    try:
        period = dashboard.parse_period(args.get("ky", "year"), args.get("gia_tri", ""), args.get("tu", ""),
                                        args.get("den", ""))
    except dashboard.DashboardError as exc:
        abort_with(400, str(exc))
    return dashboard.Filters(period, code, field=args.get("linh_vuc") or None, questionnaire=args.get("phieu") or None,
                             channel=args.get("kenh") or None, source=args.get("nguon") or None,
                             procedure=args.get("thu_tuc") or None)


def _query(f: dashboard.Filters) -> dict[str, str]:
    """The filters back as query arguments, for links to the workbook, charts and comments."""
    out = {"ky": f.period.kind}
    if f.period.kind == "custom":
        out.update(tu=f"{f.period.since:%d/%m/%Y}", den=f"{f.period.until:%d/%m/%Y}")
    else:
        out["gia_tri"] = f.period.value
    for key, value in (("linh_vuc", f.field), ("phieu", f.questionnaire), ("kenh", f.channel), ("nguon", f.source),
                       ("thu_tuc", f.procedure)):
        if value:
            out[key] = value
    return out


def _build(code: str) -> dashboard.Dashboard:
    f = _filters(code)
    db = get_session()
    try:
        board = dashboard.build_cached(db, f)
    except dashboard.DashboardError as exc:
        db.rollback()
        abort_with(400, str(exc))
    db.commit()  # the maintained counts may have been brought up to date
    return board


@bp.get("/")
@require("view_reports")
def index():
    """A reader's start: the dashboard of the highest unit they may see."""
    db = get_session()
    top = db.scalars(scope.visible_units(me()).order_by(func.length(Unit.path), Unit.code).limit(1)).first()
    if top is None:
        abort_with(404, _("Chưa có đơn vị nào trong phạm vi của bạn."))
    return redirect(url_for("staff_reports.dashboard_page", code=top.code, **request.args))


@bp.get("/<code>")
@require("view_reports", unit=unit_by_code)
def dashboard_page(code: str):
    board = _build(code)
    db = get_session()
    # the unit above (when the reader may see it) and the units right below: a province has thousands of communes
    parent = db.get(Unit, board.unit.parent_id) if board.unit.parent_id else None
    up = [parent] if parent is not None and scope.may(me(), "view_reports", parent) else []
    nearby = up + db.scalars(select(Unit).where(Unit.parent_id == board.unit.id).order_by(Unit.name)).all()
    fields = db.execute(select(Field.code, Field.name_vi).order_by(Field.name_vi)).all()
    procedures = db.execute(dashboard.procedure_choices(board.filters.field)).all()
    return render_template("staff/reports.html", procedures=procedures, coverage_note=dashboard.COVERAGE_NOTE, board=board, query=_query(board.filters), nearby=nearby,
                           instruments=dashboard.instruments(db),
                           fields=fields, channels=dashboard.CHANNELS, sources=dashboard.SOURCE_LABELS,
                           measures=dashboard.MEASURE_LABELS, criteria_rows=charts.criteria_rows(board),
                           trend_rows=charts.trend_rows(board),
                           cutoff=datetime.now(UTC),
                           sampled=sampled_estimates.for_dashboard(db, board.unit, board.filters.period.since,
                                                                   board.filters.period.until))


@bp.get("/<code>/bao-cao.xlsx")
@require("view_reports", unit=unit_by_code)
def workbook_xlsx(code: str):
    board = _build(code)
    db = get_session()
    body = files.xlsx(board, files.cutoff(db, board))  # the bytes `report export --format xlsx` writes
    audit.record(db, "export", actor=me(), unit=db.get(Unit, board.unit.id), target=f"reports/{code}/bao-cao.xlsx", **_query(board.filters))
    db.commit()
    name = f"bao-cao-hai-long-{code}-{board.filters.period.since:%Y%m%d}-{board.filters.period.until:%Y%m%d}.xlsx"
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/<code>/chart/<name>.svg")
@require("view_reports", unit=unit_by_code)
def chart_svg(code: str, name: str):
    if name not in CHARTS:
        abort_with(404, _("Không có biểu đồ này."))
    board = _build(code)
    svg = {"criteria": charts.criteria_svg, "units": charts.funnel_svg, "trend": charts.trend_svg}[name](board)
    return Response(svg, mimetype="image/svg+xml")


@bp.get("/<code>/comments")
@require("view_reports", unit=unit_by_code)
def comments(code: str):
    f = _filters(code)
    db = get_session()
    try:
        score = comment_store.parse_score(request.args.get("diem", ""))
        page = max(1, int(request.args.get("trang", "1") or 1))
    except ValueError:
        abort_with(400, _("Điểm hoặc số trang không hợp lệ: điểm là 1 đến 5, số trang là số nguyên dương."))
    try:
        rows, more = comment_store.find(db, f, score=score, page=page)
    except dashboard.DashboardError as exc:
        abort_with(400, str(exc))
    fields = db.execute(select(Field.code, Field.name_vi).order_by(Field.name_vi)).all()
    unit = unit_by_code(db, code)
    return render_template("staff/reports_comments.html", unit=unit, rows=rows, more=more, page=page, score=score,
                           filters=f, query=_query(f), fields=fields, form=ActionForm())


@bp.post("/<code>/comments/reviewed")
@require("view_reports", unit=unit_by_code)
def comment_reviewed(code: str):
    form = ActionForm()
    if not form.validate_on_submit():
        abort_with(400, _("Phiên làm việc đã hết hạn: vui lòng tải lại trang và thử lại."))
    db = get_session()
    unit = unit_by_code(db, code)
    try:
        answer_id = int(request.form.get("answer_id", ""))
    except ValueError:
        abort_with(400, _("Thiếu ý kiến cần đánh dấu: vui lòng chọn lại từ danh sách ý kiến."))
    if not comment_store.mark_reviewed(db, unit, answer_id, me()):
        abort_with(404, _("Không có ý kiến này trong phạm vi đơn vị."))
    audit.record(db, "comment_reviewed", actor=me(), unit=unit, target=f"answer {answer_id}")
    db.commit()
    flash(_("Đã đánh dấu ý kiến là đã xem."), "success")
    back = {k: v for k, v in request.args.items()
            if k in ("ky", "gia_tri", "tu", "den", "linh_vuc", "phieu", "kenh", "nguon", "thu_tuc", "diem", "trang")}
    return redirect(url_for("staff_reports.comments", code=code, **back))
