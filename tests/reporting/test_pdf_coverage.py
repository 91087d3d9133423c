"""The PDF report's unit table carries coverage (counter feedback ÷ the unit subtree's completed
dossiers) as the dashboard's does. n is counted here from the inserted rows and the dossiers are
the ones the coverage test inserts (30 in X1, 12 in X2, 8 in D1 itself), never the code's own output.
Its charts go to WeasyPrint without an alpha channel."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from PIL import Image

from survey.db import get_session
from survey.i18n import format_number, format_pct
from survey.reporting import dashboard as d
from survey.reporting import files, pdf_report
from tests.reporting.test_dashboard import in_quarter, share
from tests.reporting.test_dashboard_coverage import Q2, world  # noqa: F401  (fixture)
from tests.reporting.test_pdf_report import flat, pdf_text


@pytest.mark.timeout(600)  # one full render: a minute on a loaded 2-core machine
def test_the_unit_table_shows_each_units_coverage(app, world):  # noqa: F811
    ledger, _tagged = world
    with app.test_request_context():
        session = get_session()
        board = d.build(session, d.Filters(d.parse_period(*Q2), "D1", field="dat-dai"))
        for name in ("criteria", "units"):  # no alpha channel for WeasyPrint to split off (and cached for the PDF)
            assert Image.open(io.BytesIO(pdf_report.chart_png(board, name))).mode == "RGB"
        text = flat(pdf_text(files.pdf(session, board, files.cutoff(session, board), date(2025, 7, 2))))
    table = text[text.index("Bảng 2."):text.index("Bảng 3.")]
    assert "Độ bao phủ (phiếu ÷ hồ sơ)" in table
    for code, subtree, dossiers in (("D1", ("D1", "X1", "X2"), 50), ("X1", ("X1",), 30), ("X2", ("X2",), 12)):
        rows = [r for r in ledger if r.unit in subtree and r.field == "dat-dai" and r.source == "feedback"
                and not r.flags and in_quarter(r, 2025, 2)]
        _x, n = share(rows)
        cell = f"{format_pct(100 * n / dossiers)} ({format_number(n, 0)} / {format_number(dossiers, 0)} hồ sơ)"
        row = table[table.index(f"({code})"):]
        assert cell in row[:row.index("hồ sơ)") + len("hồ sơ)")], (code, cell)
    # the sampled survey is drawn from those dossiers: its unit rows (there are some) get none
    assert "Khảo sát chọn mẫu" in table and len(re.findall(r"\d / [\d.]+ hồ sơ\)", table)) == 3
