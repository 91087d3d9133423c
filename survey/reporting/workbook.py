"""The dashboard as an Excel workbook (openpyxl): what the page shows, sheet by sheet.

Numbers are real numbers (percentages as fractions formatted 0.0%, so Excel shows them with the
reader's decimal comma), headers in Vietnamese, header rows frozen, verdicts worded and
coloured, every text cell passed through sheets.safe_cell (no cell can become a formula), and
units below n = 30 shown without a percentage. The charts are the same drawings as the page's,
as PNG (Excel shows no SVG).
"""
from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from analysis.inference import MIN_N

from ..i18n import _
from ..sheets import safe_cell
from .dashboard import COVERAGE_NOTE, MEASURE_LABELS, SOURCE_LABELS, Dashboard, Figure

PCT = "0.0%"
FILLS = {"dat": "C6EFCE", "khong_dat": "FFC7CE", "chua_du_co_so": "FFEB9C", "chua_du_du_lieu": "E7E6E6"}
VN_OFFSET_NOTE = "UTC+7"


def _pct(value: float | None) -> float | None:
    return None if value is None else value / 100


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]], widths: list[int], pct_cols=()) -> Any:
    ws = wb.create_sheet(title)
    ws.append([safe_cell(h) for h in header])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    for col in pct_cols:
        for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = PCT
    ws.freeze_panes = "A2"
    return ws


def _figure(fig: Figure) -> list[Any]:
    return [fig.n, _pct(fig.pct), _pct(fig.ci_low), _pct(fig.ci_high)]


def _coverage(r) -> list[Any]:
    """(dossiers, coverage) of a field or unit row; counter feedback without dossier counts says so in words."""
    if r.coverage is not None:
        return [r.dossiers, r.coverage / 100]
    return [None, _("Chưa có số liệu hồ sơ") if r.source == "feedback" else None]


def build(board: Dashboard, cutoff: datetime) -> bytes:
    """The workbook's bytes."""
    f = board.filters
    wb = Workbook()
    wb.remove(wb.active)
    summary = [
        [_("Đơn vị (gồm các đơn vị cấp dưới)"), f"{board.unit.name} ({board.unit.code})"],
        [_("Kỳ báo cáo"), f.period.label],
        [_("Từ ngày"), f"{f.period.since:%d/%m/%Y}"], [_("Đến ngày"), f"{f.period.until:%d/%m/%Y}"],
        [_("Kỳ trước để so sánh"), f.period.previous().label],
        [_("Thời điểm chốt dữ liệu"), cutoff.astimezone(_vn()).strftime("%d/%m/%Y %H:%M") + f" ({VN_OFFSET_NOTE})"],
        [_("Lĩnh vực"), f.field or _("Tất cả")], [_("Phiếu khảo sát"), f.questionnaire or _("Tất cả")],
        [_("Kênh"), f.channel or _("Tất cả")], [_("Thủ tục"), f.procedure or _("Tất cả")], [_("Nguồn"), _(SOURCE_LABELS[f.source]) if f.source else _("Tất cả")],
        [_("Chỉ tiêu lấy từ"), str(board.targets_origin)],
    ]
    for key, n in board.excluded.items():
        summary.append([_("Phiếu bị loại (gắn cờ chất lượng): {what}", what=key), n])
    _sheet(wb, _("Tóm tắt"), [_("Mục"), _("Giá trị")], summary, [40, 90])

    header = [_("Lĩnh vực"), _("Mã lĩnh vực"), _("Phiếu khảo sát (công cụ đo)"), _("Nguồn"), _("Chỉ số"), _("n"),
              _("% hài lòng"), _("Khoảng tin cậy 95% – dưới"), _("Khoảng tin cậy 95% – trên"), _("Chỉ tiêu"),
              _("Mã chỉ tiêu"), _("Văn bản nguồn của chỉ tiêu"), _("Đánh giá"), _("Giá trị p (một phía)"),
              _("Cần thêm bao nhiêu phiếu"), _("n kỳ trước"), _("% kỳ trước"), _("Thay đổi (điểm %)"),
              _("Thay đổi – dưới (95%)"), _("Thay đổi – trên (95%)"), _("Số hồ sơ đã giải quyết"),
              _("Độ bao phủ (phiếu ÷ hồ sơ)")]
    rows = []
    for r in board.fields:
        t = r.target
        threshold = None if t is None or t.threshold is None else t.threshold / 100
        rows.append([r.field_name, r.field, f"{r.instrument_title} ({r.instrument})", _(SOURCE_LABELS[r.source]),
                     _(MEASURE_LABELS.get(r.measure, r.measure)), *_figure(r.current),
                     threshold if t is None or t.comparator != "higher_than_previous" else _("Cao hơn kỳ trước"),
                     t.id if t else None, t.source if t else None, _(r.verdict_label), r.p_value, r.more_needed,
                     r.previous.n, _pct(r.previous.pct), r.diff, r.diff_low, r.diff_high, *_coverage(r)])
    ws = _sheet(wb, _("Theo lĩnh vực"), header, rows,
                [22, 14, 34, 22, 22, 8, 11, 11, 11, 10, 20, 60, 22, 11, 11, 9, 11, 11, 11, 11, 12, 16],
                pct_cols=(7, 8, 9, 10, 17, 22))
    for i, r in enumerate(board.fields, start=2):
        cell = ws.cell(row=i, column=13)
        if r.target is not None:
            cell.fill = PatternFill("solid", fgColor=FILLS[r.verdict])
        ws.cell(row=i, column=12).alignment = Alignment(wrap_text=True, vertical="top")
        for col in (18, 19, 20):
            ws.cell(row=i, column=col).number_format = "+0.0;-0.0;0.0"

    header = [_("Cấp"), _("Yếu tố"), _("Mã câu hỏi"), _("Nội dung"), _("Nguồn"), _("n"), _("% hài lòng"),
              _("Khoảng tin cậy 95% – dưới"), _("Khoảng tin cậy 95% – trên"), "1", "2", "3", "4", "5"]
    rows = [[_("Yếu tố") if r["level"] == "element" else _("Tiêu chí"), r["element"], r["item"] if r["level"] != "element" else None,
             r["label"], _(SOURCE_LABELS.get(r["source"], r["source"])), int(r["n"]), _pct(r["pct"]), _pct(r["ci_low"]),
             _pct(r["ci_high"]), *(int(r[f"n{c}"]) for c in range(1, 6))] for r in board.criteria.to_dict("records")]
    _sheet(wb, _("Yếu tố – tiêu chí"), header, rows, [10, 14, 14, 70, 22, 8, 11, 11, 11, 7, 7, 7, 7, 7], pct_cols=(7, 8, 9))

    header = [_("Mã đơn vị"), _("Tên đơn vị"), _("Cấp trong cây (0 = đơn vị đã chọn)"), _("Nguồn"), _("n"), _("% hài lòng"),
              _("Khoảng tin cậy 95% – dưới"), _("Khoảng tin cậy 95% – trên"), _("Ghi chú"), _("Số hồ sơ đã giải quyết"),
              _("Độ bao phủ (phiếu ÷ hồ sơ)")]
    rows = []
    for u in board.units:
        fig = u.figure
        shown = [None, None, None] if u.suppressed else [_pct(fig.pct), _pct(fig.ci_low), _pct(fig.ci_high)]
        rows.append([u.unit, u.name, u.depth, _(SOURCE_LABELS.get(u.source, u.source)), fig.n, *shown,
                     _("Dưới {n} phiếu: không nêu tỷ lệ", n=MIN_N) if u.suppressed else None, *_coverage(u)])
    _sheet(wb, _("Theo đơn vị"), header, rows, [12, 36, 12, 22, 8, 11, 11, 11, 30, 12, 16], pct_cols=(6, 7, 8, 11))

    method = [
        [_("Tỷ lệ hài lòng"), _("Số người trả lời 4 hoặc 5 trên số người trả lời từ 1 đến 5; “không ý kiến” không tính vào mẫu số.")],
        [_("Khoảng tin cậy"), _("Wilson 95%; chỉ số gộp nhiều tiêu chí dùng cỡ mẫu hiệu dụng thận trọng.")],
        [_("Đánh giá so với chỉ tiêu"), _("Kiểm định nhị thức chính xác một phía, mức ý nghĩa 0,05; dưới {n} phiếu: Chưa đủ dữ liệu.", n=MIN_N)],
        [_("Thay đổi so với kỳ trước"), _("Hiệu hai tỷ lệ với khoảng tin cậy Newcombe 95%, tính bằng điểm phần trăm.")],
        [_("Nguồn dữ liệu"), _("Góp ý tại quầy và khảo sát chọn mẫu được tính riêng, không bao giờ gộp; mỗi phiếu khảo sát là một công cụ đo riêng.")],
        [_("Phiếu bị loại"), _("Phiếu gắn cờ chất lượng (trả lời quá nhanh, trùng thiết bị, …) không được tính; số lượng nêu ở trang Tóm tắt.")],
        [_("Ngày tháng"), _("Giờ Việt Nam (UTC+7); một đơn vị gồm mọi đơn vị cấp dưới.")],
        [_("Độ bao phủ"), _(COVERAGE_NOTE)],
    ]
    _sheet(wb, _("Phương pháp"), [_("Mục"), _("Cách tính")], method, [28, 110])

    header = [_("Kỳ"), _("Từ ngày"), _("Đến ngày"), _("Phiếu khảo sát (công cụ đo)"), _("Nguồn"), _("Chỉ số"), _("n"),
              _("% hài lòng"), _("Khoảng tin cậy 95% – dưới"), _("Khoảng tin cậy 95% – trên")]
    title = f"{board.focus.title.vi} ({board.focus.key})" if board.focus else None
    rows = [[p.period.label, f"{p.period.since:%d/%m/%Y}", f"{p.period.until:%d/%m/%Y}", title,
             _(SOURCE_LABELS.get(p.source, p.source)), _(MEASURE_LABELS.get(p.measure, p.measure)), *_figure(p.figure)]
            for p in board.trend]
    if not rows:
        rows = [[_(board.trend_note) if board.trend_note else _("Không có câu trả lời nào trong các kỳ của xu hướng.")]]
    _sheet(wb, _("Xu hướng"), header, rows, [16, 12, 12, 34, 22, 22, 8, 11, 11, 11], pct_cols=(8, 9, 10))
    _charts_sheet(wb, board)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _charts_sheet(wb: Workbook, board: Dashboard) -> None:
    """The page's three charts as PNG images (the same drawings as the SVGs)."""
    from openpyxl.drawing.image import Image

    from . import charts

    ws = wb.create_sheet(_("Biểu đồ"))
    ws["A1"] = safe_cell(_("Yếu tố và tiêu chí: phân bố câu trả lời 1–5"))
    ws["A1"].font = Font(bold=True)
    anchor_row = 2
    for title, png in ((None, charts.criteria_png(board)), (_("Các đơn vị so với chỉ tiêu (biểu đồ phễu)"), charts.funnel_png(board)),
                       (_("Xu hướng theo kỳ"), charts.trend_png(board))):
        if title:
            ws.cell(row=anchor_row, column=1, value=safe_cell(title)).font = Font(bold=True)
            anchor_row += 1
        image = Image(io.BytesIO(png))
        ws.add_image(image, f"A{anchor_row}")
        anchor_row += int(image.height / 20) + 3


def _vn():
    from datetime import timedelta, timezone

    return timezone(timedelta(hours=7))
