"""The PDF's chart PNGs are drawn once per built dashboard and language, and forgotten with it.
No database: the drawing is replaced by a counter, the cache is what is under test."""
from __future__ import annotations

import gc

import pytest

from survey.i18n import outside_request
from survey.reporting import pdf_report


class Board:
    """Stands in for a Dashboard: chart_png only keys on the object and hands it to the drawing."""


@pytest.fixture
def drawn(monkeypatch):
    calls: list[tuple[int, str]] = []

    def draw(board, name):
        calls.append((id(board), name))
        return f"png {len(calls)}".encode()

    monkeypatch.setattr(pdf_report, "_draw_png", draw)
    return calls


def test_a_chart_is_drawn_once_per_dashboard_and_language(drawn):
    board = Board()
    first = pdf_report.chart_png(board, "criteria")
    assert pdf_report.chart_png(board, "criteria") == first and len(drawn) == 1
    assert pdf_report.chart_png(board, "units") != first and len(drawn) == 2
    with outside_request("en"):  # the charts' labels are translated: another language is another drawing
        assert pdf_report.chart_png(board, "criteria") != first and len(drawn) == 3
    other = Board()
    pdf_report.chart_png(other, "criteria")
    assert len(drawn) == 4, "another dashboard (other filters or newer data) is drawn afresh"


def test_the_drawings_go_with_their_dashboard(drawn):
    board = Board()
    pdf_report.chart_png(board, "criteria")
    key = id(board)
    assert key in pdf_report._CHARTS
    del board
    gc.collect()
    assert key not in pdf_report._CHARTS
