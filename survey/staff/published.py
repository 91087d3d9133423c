"""Report files and published reports (/staff/reports/<code>/...): the PDF download beside the
Excel one, the list of a unit's published reports, publishing, and byte-identical downloads.

Who publishes: anyone with `view_reports` on the unit (a reader of Phòng Nội vụ for a district,
of Sở Nội vụ for the province). Publishing only freezes what that reader can already download,
and every publication is audited with its author. No route edits or deletes a published report:
a correction is published as the next version. Routes live on the reports blueprint.
"""
from __future__ import annotations

import json

from flask import Response, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField

from ..db import get_session
from ..errors import abort_with
from ..i18n import _
from ..models import Unit
from ..reporting import files, snapshots
from . import audit
from .reports import _build, _filters, _query, bp, me, unit_by_code
from .scope import require


class PublishForm(FlaskForm):
    number = StringField()
    note = TextAreaField()
    confirm = BooleanField()


def _unit(code: str) -> Unit:
    return unit_by_code(get_session(), code)


@bp.get("/<code>/bao-cao.pdf")
@require("view_reports", unit=unit_by_code)
def report_pdf(code: str):
    board = _build(code)
    db = get_session()
    body = files.pdf(db, board, files.cutoff(db, board), files.today())
    audit.record(db, "export", actor=me(), unit=db.get(Unit, board.unit.id), target=f"reports/{code}/bao-cao.pdf",
                 **_query(board.filters))
    db.commit()
    return Response(body, mimetype=files.PDF_TYPE,
                    headers={"Content-Disposition": f"attachment; filename={files.filename(board, 'pdf')}"})


@bp.get("/<code>/cong-bo")
@require("view_reports", unit=unit_by_code)
def published(code: str):
    f = _filters(code)
    db = get_session()
    unit = _unit(code)
    reports = snapshots.for_unit(db, unit)
    key = snapshots.report_key(f)
    earlier = [r for r in reports if r.report_key == key]
    return render_template("reports/published.html", unit=unit, reports=reports, filters=f, query=_query(f),
                           earlier=max(earlier, key=lambda r: r.version) if earlier else None, form=PublishForm(),
                           by_id={r.id: r for r in reports})


@bp.post("/<code>/cong-bo")
@require("view_reports", unit=unit_by_code)
def publish(code: str):
    form = PublishForm()
    if not form.validate_on_submit():
        abort_with(400, _("Phiên làm việc đã hết hạn: vui lòng tải lại trang và thử lại."))
    if not form.confirm.data:
        abort_with(400, _("Chưa đánh dấu ô xác nhận: báo cáo đã công bố không sửa hay xoá được, hãy đánh dấu ô "
                          "xác nhận rồi bấm Công bố."))
    board = _build(code)
    db = get_session()
    unit = _unit(code)
    try:
        report = snapshots.publish(db, board, me(), number=form.number.data or "", note=form.note.data or "")
    except snapshots.PublishError as exc:
        db.rollback()
        abort_with(400, str(exc))
    audit.record(db, "report_published", actor=me(), unit=unit, target=f"reports/{code}/cong-bo/{report.id}",
                 version=report.version, corrects=report.corrects_id, pdf_sha256=report.pdf_sha256,
                 xlsx_sha256=report.xlsx_sha256, **_query(board.filters))
    db.commit()
    flash(_("Đã công bố báo cáo (phiên bản {v}).", v=report.version), "success")
    return redirect(url_for("staff_reports.published", code=code, **_query(board.filters)))


def _download(code: str, report_id: int, kind: str) -> Response:
    db = get_session()
    unit = _unit(code)
    report = snapshots.get(db, unit, report_id)
    if report is None:
        abort_with(404, _("Không có báo cáo đã công bố này trong đơn vị."))
    if kind == "pdf":
        body, mimetype, sha = report.pdf, files.PDF_TYPE, report.pdf_sha256
    elif kind == "xlsx":
        body, mimetype, sha = report.xlsx, files.XLSX_TYPE, report.xlsx_sha256
    else:
        document = {"title": report.title, "version": report.version, "corrects": report.corrects_id,
                    "number": report.number, "note": report.note, "filters": json.loads(report.filters),
                    "method": json.loads(report.method), "figures": json.loads(report.figures),
                    "data_cutoff": report.data_cutoff.isoformat(), "published_at": report.published_at.isoformat(),
                    "published_by": report.published_by_login, "pdf_sha256": report.pdf_sha256,
                    "xlsx_sha256": report.xlsx_sha256}
        body, mimetype, sha = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"), "application/json", None
    audit.record(db, "published_report_downloaded", actor=me(), unit=unit,
                 target=f"reports/{code}/cong-bo/{report.id}.{kind}", version=report.version)
    db.commit()
    name = f"bao-cao-cong-bo-{code}-{report.id}-v{report.version}.{kind}"
    headers = {"Content-Disposition": f"attachment; filename={name}"}
    if sha:
        headers["Digest"] = f"sha-256={sha}"
    return Response(body, mimetype=mimetype, headers=headers)


@bp.get("/<code>/cong-bo/<int:report_id>.pdf")
@require("view_reports", unit=unit_by_code)
def published_pdf(code: str, report_id: int):
    return _download(code, report_id, "pdf")


@bp.get("/<code>/cong-bo/<int:report_id>.xlsx")
@require("view_reports", unit=unit_by_code)
def published_xlsx(code: str, report_id: int):
    return _download(code, report_id, "xlsx")


@bp.get("/<code>/cong-bo/<int:report_id>.json")
@require("view_reports", unit=unit_by_code)
def published_json(code: str, report_id: int):
    return _download(code, report_id, "json")
