"""The dashboard's trend: the focus measure per period with Wilson intervals, counted here from
the inserted rows (the Ledger) and checked against statsmodels' Wilson interval; the chart, the
workbook sheet "Xu hướng", and the honest empty states (custom range, channel filter, no answers)."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from statsmodels.stats.proportion import proportion_confint

from survey.db import get_session
from survey.reporting import charts, workbook
from survey.reporting import dashboard as d
from tests.reporting.test_reports import VN, seed


@pytest.fixture
def ledger(app):
    return seed(app, n=260, seed_value=3)


def expected(ledger, source: str, year: int, month: int | None = None, quarter: int | None = None):
    codes = []
    for r in ledger:
        local = r.when.astimezone(VN)
        if r.flags or not r.unit or r.source != source or local.year != year:
            continue
        if (month and local.month != month) or (quarter and (local.month - 1) // 3 + 1 != quarter):
            continue
        code = r.answers.get("overall", 0)
        if 1 <= code <= 5:
            codes.append(code)
    return sum(c >= 4 for c in codes), len(codes)


def test_trend_by_month_of_the_year_with_wilson_intervals(app, ledger):
    with app.test_request_context():
        board = d.build(get_session(), d.Filters(d.parse_period("year", "2025"), "P"))
        svg = charts.trend_svg(board)
        book = load_workbook(io.BytesIO(workbook.build(board, datetime(2026, 1, 5, tzinfo=UTC))))
    assert board.focus.key == "sipas-local" and {p.measure for p in board.trend} == {"overall_item"}
    assert [p.period.label for p in board.trend if p.source == "feedback"] == [f"Tháng {m:02d}/2025" for m in range(1, 13)]
    checked = 0
    for p in board.trend:
        x, n = expected(ledger, p.source, 2025, month=p.period.since.month)
        assert p.figure.n == n, p
        if n:
            low, high = proportion_confint(x, n, alpha=0.05, method="wilson")
            assert (p.figure.pct, p.figure.ci_low, p.figure.ci_high) == (
                pytest.approx(100 * x / n), pytest.approx(100 * low), pytest.approx(100 * high))
            checked += 1
        else:
            assert p.figure.pct is None
    assert checked >= 6, "the ledger spans January to April in both sources"
    assert svg.startswith(b"<?xml") and b"<script" not in svg and b"<style" not in svg
    sheet = book["Xu hướng"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(board.trend)
    for row, p in zip(rows, board.trend):
        assert row[0] == p.period.label and row[6] == p.figure.n
        assert row[7] == (None if p.figure.pct is None else pytest.approx(p.figure.pct / 100))
    assert sheet.cell(row=2, column=8).number_format == "0.0%"


def test_trend_by_the_last_eight_quarters(app, ledger):
    with app.test_request_context():
        board = d.build(get_session(), d.Filters(d.parse_period("quarter", "2025-Q2"), "D1", source="feedback"))
    labels = [p.period.label for p in board.trend]
    assert labels == ["Quý III/2023", "Quý IV/2023", "Quý I/2024", "Quý II/2024", "Quý III/2024", "Quý IV/2024",
                      "Quý I/2025", "Quý II/2025"]
    q1 = board.trend[6]
    codes = [r.answers.get("overall", 0) for r in ledger if not r.flags and r.unit in ("D1", "X1", "X2")
             and r.source == "feedback" and r.when.astimezone(VN).year == 2025 and r.when.astimezone(VN).month <= 3]
    codes = [c for c in codes if 1 <= c <= 5]
    assert (q1.figure.n, q1.figure.pct) == (len(codes), pytest.approx(100 * sum(c >= 4 for c in codes) / len(codes)))
    assert all(p.figure.n == 0 for p in board.trend[:6])


def test_no_trend_is_said_not_drawn_broken(app, ledger):
    with app.test_request_context():
        session = get_session()
        custom = d.build(session, d.Filters(d.parse_period("custom", since="01/01/2025", until="31/03/2025"), "P"))
        channel = d.build(session, d.Filters(d.parse_period("year", "2025"), "P", channel="paper"))
        empty = d.Dashboard(custom.filters, custom.unit, [], [], None, custom.criteria, [], None, {}, "")
        svg = charts.trend_svg(empty)
    assert custom.trend == [] and "tháng, quý hoặc năm" in custom.trend_note
    assert channel.trend == [] and "kênh" in channel.trend_note
    assert b"<path" in svg and charts.trend_rows(empty) == []
