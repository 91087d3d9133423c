"""Anonymised microdata for statisticians (/staff/reports/<code>/du-lieu-vi-mo): a page that
counts the responses a choice of filters selects and offers them as CSV (+ codebook), XLSX or
SPSS .sav; routes live on the reports blueprint.

A reader of a unit may export its subtree (the same `view_reports` check as every report page,
so another subtree is 403 and audited). The files hold no personal data (see
survey.reporting.microdata); every download is still audited with its filters and row count,
before the first byte is sent. The CSV is streamed as it is read.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Response, render_template, request, stream_with_context
from sqlalchemy import select

from .. import catalog
from ..db import get_session
from ..errors import abort_with
from ..i18n import _
from ..models import Field
from ..reporting import dashboard, microdata
from ..reporting.selection import ReportError, Selection
from . import audit
from .reports import _filters, _query, bp, me, unit_by_code
from .scope import require

MIMETYPES = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "sav": "application/x-spss-sav"}


def _prepare(code: str, required: bool = True) -> tuple[dashboard.Filters, bool, microdata.Export | None]:
    """The filters from the query string and, once a questionnaire is chosen, the checked export."""
    f = _filters(code)
    flagged = request.args.get("gom_canh_bao") == "1"
    if f.channel and f.channel not in dashboard.CHANNELS:
        abort_with(400, _("Kênh không hợp lệ: chọn một kênh trong danh sách."))
    if not f.questionnaire:
        if required:
            abort_with(400, _("Chọn một phiếu khảo sát: dữ liệu vi mô là của một phiếu (mỗi câu hỏi một cột)."))
        return f, flagged, None
    sel = Selection(f.questionnaire, since=f.period.since, until=f.period.until, unit=code, field=f.field,
                    source=f.source, include_flagged=flagged)
    db = get_session()
    if f.questionnaire not in {v.key for v in catalog.list_latest(db)}:
        abort_with(400, _("Không có phiếu khảo sát “{key}”: chọn một phiếu trong danh sách.", key=f.questionnaire[:48]))
    try:
        export = microdata.prepare(db, sel, f.channel)
    except ReportError as exc:
        abort_with(400, str(exc))
    return f, flagged, export


def _args(f: dashboard.Filters, flagged: bool) -> dict[str, str]:
    return {**_query(f), **({"gom_canh_bao": "1"} if flagged else {})}


@bp.get("/<code>/du-lieu-vi-mo")
@require("view_reports", unit=unit_by_code)
def microdata_page(code: str):
    f, flagged, export = _prepare(code, required=False)
    db = get_session()
    questionnaires = [catalog.definition(v) for v in catalog.list_latest(db)]
    fields = db.execute(select(Field.code, Field.name_vi).order_by(Field.name_vi)).all()
    limits = {"xlsx": microdata.XLSX_MAX_ROWS, "sav": microdata.SAV_MAX_ROWS}
    return render_template("staff/reports_microdata.html", unit=unit_by_code(db, code), filters=f, flagged=flagged,
                           export=export, query=_args(f, flagged), questionnaires=questionnaires, fields=fields,
                           channels=dashboard.CHANNELS, sources=dashboard.SOURCE_LABELS, limits=limits)


@bp.get("/<code>/du-lieu-vi-mo/tai-ve")
@require("view_reports", unit=unit_by_code)
def microdata_file(code: str):
    fmt = request.args.get("dinh_dang", "csv")
    if fmt not in microdata.FORMATS:
        abort_with(400, _("Định dạng tệp không hợp lệ: chọn CSV, XLSX hoặc SPSS (.sav)."))
    f, flagged, export = _prepare(code)
    try:
        microdata.check(export, fmt)
    except microdata.MicrodataError as exc:
        abort_with(400, str(exc))
    db = get_session()
    unit = unit_by_code(db, code)
    audit.record(db, "export", actor=me(), unit=unit, target=f"reports/{code}/du-lieu-vi-mo.{fmt}", rows=export.rows,
                 **_args(f, flagged))
    db.commit()
    name = microdata.file_name(f.questionnaire, f.period.since, f.period.until, fmt)
    headers = {"Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"}
    if fmt == "csv":
        return Response(stream_with_context(microdata.csv_chunks(db, export)), mimetype=MIMETYPES[fmt], headers=headers)
    with tempfile.TemporaryDirectory() as tmp:  # openpyxl and pyreadstat write files; the bytes go out whole
        path = Path(tmp) / name
        if fmt == "xlsx":
            microdata.write_xlsx(db, export, path)
        else:
            microdata.write_sav(db, export, path)
        body = path.read_bytes()
    db.rollback()
    return Response(body, mimetype=MIMETYPES[fmt], headers=headers)


@bp.get("/<code>/du-lieu-vi-mo/bang-ma.csv")
@require("view_reports", unit=unit_by_code)
def microdata_codebook(code: str):
    f, _flagged, export = _prepare(code)
    name = microdata.file_name(f.questionnaire, f.period.since, f.period.until, "csv").replace(".csv", "-bang-ma.csv")
    return Response(microdata.codebook_csv(export), mimetype=MIMETYPES["csv"],
                    headers={"Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"})
