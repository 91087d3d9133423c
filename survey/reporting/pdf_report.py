"""The dashboard as a PDF report in Vietnamese administrative style (Nghị định 30/2020/NĐ-CP):
national motto, issuing unit, number, place and date; I. purpose, II. method, III. results (by
field against the targets with the verdicts worded, by unit with n < 30 suppressed, by element
and criterion with the page's own chart drawings and their text tables, masked comments), IV.
conclusions left blank for the author, and a method annex (n, interval method, test,
exclusions by reason, data cut-off).

The figures are the Dashboard's, never recomputed here. WeasyPrint is imported only inside
`render` and fetches nothing: the charts go in as data: URLs, fonts are the installed DejaVu
Sans, and any other URL is refused (`render`). Black and white: verdicts are words, the
charts are hatched, and tables have ruled borders.
"""
from __future__ import annotations

import base64
import io
import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime

from flask import render_template
from sqlalchemy.orm import Session

from analysis.figures import ALL
from analysis.inference import MIN_N

from ..i18n import N_, VIETNAM, _, format_number, format_pct, get_locale
from ..models import Unit
from . import charts, exclusions
from . import comments as comment_store
from .dashboard import (
    COVERAGE_NOTE,
    KIND_FIELD,
    MEASURE_LABELS,
    SOURCE_LABELS,
    Dashboard,
    FieldRow,
)
from .selection import Selection

DPI = 150
COMMENTS = 50  # the newest masked comments printed; the page and the workbook have the rest
# response_flags.reason → what the annex calls it
REASONS = {"honeypot": N_("Điền vào ô bẫy dành cho máy tự động"), "device_repeat": N_("Cùng một thiết bị gửi lặp lại"),
           "speeder": N_("Trả lời quá nhanh"), "straightline": N_("Chọn cùng một mức cho mọi câu"),
           "duplicate_dossier": N_("Trùng mã hồ sơ"), "burst": N_("Nhiều phiếu dồn dập trong thời gian ngắn")}
PREFIXES = ("Thành phố ", "Tỉnh ", "TP. ", "UBND tỉnh ", "UBND thành phố ")


@dataclass(frozen=True)
class Header:
    """The Nghị định 30 header: governing body above the issuing unit, number, place and date."""

    governing: str | None
    issuer: str
    number: str
    place: str
    day: date

    @property
    def place_date(self) -> str:
        return _("{place}, ngày {d} tháng {m} năm {y}", place=self.place, d=f"{self.day.day:02d}",
                 m=f"{self.day.month:02d}", y=self.day.year)


def header(session: Session, board: Dashboard, day: date, number: str | None = None) -> Header:
    """Issuing unit = the chosen unit, its parent as the governing body; the place is the province
    (the root of the tree) without 'Tỉnh'/'Thành phố'. The number is left for the clerk unless given."""
    unit = session.get(Unit, board.unit.id)
    parent = unit.parent if unit is not None else None
    root = unit
    while root is not None and root.parent is not None:
        root = root.parent
    place = root.name if root is not None else board.unit.name
    for prefix in PREFIXES:
        if place.startswith(prefix):
            place = place[len(prefix):]
            break
    return Header(parent.name if parent is not None else None, board.unit.name,
                  number or _("Số:      /BC-{code}", code=board.unit.code), place, day)


def verdict_sentence(r: FieldRow) -> str:
    """One worded line per field row, so the verdict reads without the table or colour."""
    shown = (f"{r.field_name} ({r.instrument_title}, {_(SOURCE_LABELS[r.source])}, "
             f"{_(MEASURE_LABELS.get(r.measure, r.measure))}): ")
    if not r.current.n:
        return shown + _("không có phiếu trong kỳ.")
    shown += _("{pct} hài lòng (khoảng tin cậy 95%: {low} – {high}; n = {n})", pct=format_pct(r.current.pct),
               low=format_pct(r.current.ci_low), high=format_pct(r.current.ci_high), n=format_number(r.current.n, 0))
    t = r.target
    if t is None:
        return shown + "; " + _("chưa có chỉ tiêu cho kỳ này.")
    goal = (_("cao hơn kỳ trước") if t.comparator == "higher_than_previous"
            else ("≥ " if t.comparator == ">=" else "> ") + format_pct(t.threshold))
    return shown + "; " + _("chỉ tiêu {goal} ({source}): {verdict}.", goal=goal, source=t.source, verdict=_(r.verdict_label))


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def chart_png(board: Dashboard, name: str) -> bytes:
    """The page's chart (the same matplotlib drawing as its SVG) as a 150 dpi PNG. WeasyPrint's SVG
    renderer spent two thirds of a report's time on the two SVGs (hatch patterns, every glyph a
    path), so the PDF prints the drawing as pixels: RGB on white, because WeasyPrint splits an alpha
    channel off into a second image and encodes both again; matplotlib's own PNG is written with
    light compression, as WeasyPrint decodes and re-encodes it anyway.

    Drawn once per built dashboard and language (about a second of CPU, most of it text): the
    dashboard cache (dashboard.build_cached) hands the same Dashboard to every download while the
    data are unchanged, and the drawings are dropped with it."""
    key = (name, get_locale())
    with _CHART_LOCK:
        entry = _CHARTS.get(id(board))
        if entry is not None and entry[0]() is board and key in entry[1]:
            return entry[1][key]
    png = _draw_png(board, name)
    with _CHART_LOCK:
        entry = _CHARTS.get(id(board))
        if entry is None or entry[0]() is not board:
            entry = _CHARTS[id(board)] = (weakref.ref(board), {})
            weakref.finalize(board, _CHARTS.pop, id(board), None)
        entry[1][key] = png
    return png


_CHARTS: dict[int, tuple[weakref.ref, dict[tuple[str, str], bytes]]] = {}
_CHART_LOCK = threading.Lock()


def _draw_png(board: Dashboard, name: str) -> bytes:
    from PIL import Image

    pyplot = charts._pyplot()
    fig = charts._criteria(board, pyplot) if name == "criteria" else charts._funnel(board, pyplot)
    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=DPI, bbox_inches="tight", facecolor="white", metadata={"Software": None},
                pil_kwargs={"compress_level": 1})
    pyplot.close(fig)
    out = io.BytesIO()
    with Image.open(raw) as image:
        image.convert("RGB").save(out, format="PNG", compress_level=1)
    return out.getvalue()


def excluded_by_reason(session: Session, board: Dashboard) -> list[tuple[str, str, str, int]]:
    """(instrument, source, reason, responses) left out of the figures, counted exactly from the flags."""
    f = board.filters
    out = []
    for q in board.instruments:
        sel = Selection(q.key, since=f.period.since, until=f.period.until, unit=f.unit, field=f.field, source=f.source,
                        by=())
        frame = exclusions.flagged_responses(session, sel)
        for r in frame.to_dict("records"):
            out.append((q.title.vi, _(SOURCE_LABELS.get(str(r["source"]), str(r["source"]))), _(REASONS[str(r["flag_reason"])]) if str(r["flag_reason"]) in REASONS else str(r["flag_reason"]),
                        int(r["responses"])))
    return out


def annex_rows(board: Dashboard) -> list[tuple[str, str, int]]:
    """(instrument, source, n) of each instrument's total row: how many answers the results rest on."""
    out: dict[tuple[str, str], int] = {}
    for r in board.fields:
        if r.field == (KIND_FIELD.get(r.kind) or board.filters.field or ALL):
            key = (r.instrument_title, _(SOURCE_LABELS[r.source]))
            out[key] = max(out.get(key, 0), r.current.n)
    return [(title, source, n) for (title, source), n in out.items()]


def context(session: Session, board: Dashboard, cutoff: datetime, day: date, number: str | None = None) -> dict:
    """What the template prints: the Dashboard plus the header, masked comments and exclusions."""
    f = board.filters
    comments, more = comment_store.find(session, f) if board.fields else ([], False)
    points, centre = charts.funnel_points(board)
    return {
        "board": board, "f": f, "head": header(session, board, day, number),
        "cutoff": cutoff.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y"),
        "sentences": [verdict_sentence(r) for r in board.fields],
        "criteria_rows": charts.criteria_rows(board),
        "criteria_chart": _data_url(chart_png(board, "criteria")) if board.focus else None,
        "funnel_chart": _data_url(chart_png(board, "units")) if board.focus else None,
        "funnel_points": points, "funnel_centre": centre,
        "comments": comments[:COMMENTS], "more_comments": more or len(comments) > COMMENTS,
        "exclusions": excluded_by_reason(session, board), "min_n": MIN_N,
        "sources": SOURCE_LABELS, "measures": MEASURE_LABELS, "coverage_note": COVERAGE_NOTE,
        "annex": annex_rows(board),
    }


def html(session: Session, board: Dashboard, cutoff: datetime, day: date, number: str | None = None) -> str:
    return render_template("reports/pdf.html", **context(session, board, cutoff, day, number))


_FONTS = None


def render(session: Session, board: Dashboard, cutoff: datetime, day: date, number: str | None = None) -> bytes:
    """The PDF's bytes: the same filters, data, cut-off and day give the same bytes."""
    from weasyprint import HTML  # slow to import; only printing needs it
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

    global _FONTS
    if _FONTS is None:  # one for the process: fontconfig loads once, and it is never torn down mid-run
        _FONTS = FontConfiguration()

    # data: URLs only (the charts): a report never reaches the network or the disk, and a refused URL stops it
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    document = HTML(string=html(session, board, cutoff, day, number), url_fetcher=fetcher)
    return document.write_pdf(pdf_identifier=b"sipas-report", font_config=_FONTS)
