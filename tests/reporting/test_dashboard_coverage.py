"""Coverage (counter feedback ÷ completed dossiers) and the procedure filter on the dashboard.

The expected ratios and n are counted here from the inserted rows (the Ledger of test_reports and
the dossiers inserted below), never taken from the code under test."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from analysis.figures import ALL
from survey.db import get_session
from survey.models import Field, FrameDossier, FrameImport, Procedure, Response, Unit
from survey.reporting import dashboard as d
from tests.reporting.test_dashboard import in_quarter, share
from tests.reporting.test_reports import seed

Q2 = ("quarter", "2025-Q2")
# (unit, field, completed_on, procedure, how many): only D1's subtree (D1, X1, X2) in Q2 2025 counts
DOSSIERS = [
    ("X1", "dat-dai", date(2025, 4, 1), "DD-01", 30),
    ("X2", "dat-dai", date(2025, 6, 30), "Cấp đổi giấy chứng nhận", 12),  # the procedure written by its name
    ("D1", "dat-dai", date(2025, 5, 15), None, 8),
    ("X3", "dat-dai", date(2025, 5, 15), "DD-01", 50),  # outside D1's subtree
    ("X1", "dat-dai", date(2025, 3, 31), "DD-01", 40),  # the quarter before
    ("X1", "dat-dai", date(2025, 7, 1), "DD-01", 40),  # the quarter after
    ("X1", "tu-phap-ho-tich", date(2025, 4, 20), None, 25),
]


@pytest.fixture
def world(app):
    """The dashboard test's responses, land procedure DD-01 on every third land response, and dossiers."""
    ledger = seed(app, n=400, seed_value=14)
    with app.app_context():
        session = get_session()
        units = {u.code: u.id for u in session.scalars(select(Unit))}
        fields = {f.code: f.id for f in session.scalars(select(Field))}
        procedure = Procedure(code="DD-01", name_vi="Cấp đổi giấy chứng nhận", field_id=fields["dat-dai"])
        session.add(procedure)
        session.flush()
        tagged = [r for r in ledger if r.field == "dat-dai" and r.id % 3 == 0]
        session.execute(update(Response).where(Response.id.in_([r.id for r in tagged])).values(procedure_id=procedure.id))
        batch = FrameImport(unit_id=units["P"], source="test", filename="ho-so.xlsx", file_sha256="0" * 64)
        session.add(batch)
        session.flush()
        number = 0
        for unit, fld, day, proc, count in DOSSIERS:
            for _ in range(count):
                number += 1
                session.add(FrameDossier(dossier_code=f"HS-{number:04d}", unit_id=units[unit], field_id=fields[fld],
                                         completed_on=day, procedure=proc, import_id=batch.id))
        session.commit()
    return ledger, {r.id for r in tagged}


def feedback_n(ledger, field=None, ids=None):
    rows = [r for r in ledger if r.unit in ("D1", "X1", "X2") and not r.flags and r.source == "feedback"
            and in_quarter(r, 2025, 2) and (field is None or r.field == field) and (ids is None or r.id in ids)]
    return share(rows)


def test_coverage_is_feedback_n_over_the_subtrees_completed_dossiers(app, world):
    ledger, _tagged = world
    with app.test_request_context():
        board = d.build(get_session(), d.Filters(d.parse_period(*Q2), "D1"))
    land = next(r for r in board.fields if r.field == "dat-dai" and r.source == "feedback")
    _x, n = feedback_n(ledger, "dat-dai")
    assert land.dossiers == 30 + 12 + 8
    assert land.coverage == pytest.approx(100 * n / 50)
    civil = next(r for r in board.fields if r.field == "tu-phap-ho-tich" and r.source == "feedback")
    assert civil.dossiers == 25 and civil.coverage == pytest.approx(100 * feedback_n(ledger, "tu-phap-ho-tich")[1] / 25)
    building = next(r for r in board.fields if r.field == "xay-dung" and r.source == "feedback")
    assert building.coverage is None and building.dossiers is None, "no frame for xây dựng: not known, not 0%"
    total = next(r for r in board.fields if r.field == ALL and r.source == "feedback")
    assert total.coverage is None, "xây dựng got feedback but has no dossiers: no all-field ratio"
    assert all(r.coverage is None for r in board.fields if r.source == "sample"), "the sample is never given coverage"
    # the field filter, and a period without frames
    with app.test_request_context():
        session = get_session()
        land = d.build(session, d.Filters(d.parse_period(*Q2), "D1", field="dat-dai"))
        before = d.build(session, d.Filters(d.parse_period("quarter", "2024-Q4"), "D1", field="dat-dai"))
    row = next(r for r in land.fields if r.source == "feedback")
    assert (row.field, row.dossiers) == ("dat-dai", 50)
    assert all(r.coverage is None for r in before.fields)
    # units of the subtree: each unit's feedback n over its own subtree's land dossiers
    assert all(u.coverage is None for u in board.units), "all fields: xây dựng has no dossiers, so no unit ratio"
    units = {u.unit: u for u in land.units if u.source == "feedback"}
    for code, subtree, dossiers in (("D1", ("D1", "X1", "X2"), 50), ("X1", ("X1",), 30), ("X2", ("X2",), 12)):
        hand = [r for r in ledger if r.unit in subtree and r.field == "dat-dai" and r.source == "feedback"
                and not r.flags and in_quarter(r, 2025, 2)]
        _x, n = share(hand)
        assert (units[code].figure.n, units[code].dossiers) == (n, dossiers)
        assert units[code].coverage == pytest.approx(100 * n / dossiers)


def test_the_all_field_row_when_every_answered_field_has_dossiers():
    """A hand example: 40 + 10 responses over 100 + 60 + 40 dossiers (a field with dossiers and no responses counts)."""
    def row(fld, source, n):
        return d.FieldRow("sipas", "SIPAS", "sipas", source, fld, fld, "overall_item", d.Figure(n=n), d.Figure())
    rows = [row(ALL, "feedback", 50), row("dat-dai", "feedback", 40), row("xay-dung", "feedback", 10),
            row(ALL, "sample", 30), row("dat-dai", "sample", 30)]
    d.attach_coverage(rows, {"dat-dai": 100, "xay-dung": 60, "y-te": 40})
    assert [(r.dossiers, r.coverage) for r in rows] == [(200, 25.0), (100, 40.0), (60, pytest.approx(100 / 6)),
                                                         (None, None), (None, None)]


def test_a_procedure_filter_counts_only_that_procedures_responses(app, world):
    ledger, tagged = world
    with app.test_request_context():
        board = d.build(get_session(), d.Filters(d.parse_period(*Q2), "D1", procedure="DD-01"))
    assert not d.fast_path(board.filters)
    land = next(r for r in board.fields if r.field == "dat-dai" and r.source == "feedback")
    x, n = feedback_n(ledger, "dat-dai", tagged)
    assert n > 0 and (land.current.n, land.current.pct) == (n, pytest.approx(100 * x / n))
    everyone = feedback_n(ledger, "dat-dai")[1]
    assert n < everyone, "the filter narrowed the row"
    assert land.dossiers == 30 + 12, "dossiers of DD-01 by code or by name; the untagged 8 are left out"
    assert land.coverage == pytest.approx(100 * n / 42)
    assert not [r for r in board.fields if r.field == "xay-dung"], "no response of DD-01 is in xây dựng"
    assert board.trend == [] and "thủ tục" in board.trend_note
    with app.test_request_context(), pytest.raises(d.DashboardError, match="KHONG-CO"):
        d.build(get_session(), d.Filters(d.parse_period(*Q2), "D1", procedure="KHONG-CO"))
    crit = board.criteria[board.criteria["level"] == "criterion"]
    assert len(crit), "the procedure's elements and criteria are shown"
    # the 1–5 distribution is narrowed like the figures: each criterion's answers 1–5 add up to its n
    assert (crit[[f"n{c}" for c in range(1, 6)]].sum(axis=1) == crit["n"]).all()
    item = crit["item"].iloc[0]
    source = crit["source"].iloc[0]
    hand = [r for r in ledger if r.id in tagged and r.unit in ("D1", "X1", "X2") and not r.flags and r.source == source
            and in_quarter(r, 2025, 2) and 1 <= r.answers.get(item, 0) <= 5]
    assert int(crit["n"].iloc[0]) == len(hand)
