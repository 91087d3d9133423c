"""survey.reporting.dashboard and comments.mask: periods, the field table against targets, elements
and units. Expected figures are counted here from the inserted rows (the Ledger); the Wilson
interval comes from statsmodels, the verdict from scipy's exact binomial test, the change since
the previous period from Newcombe's method written out by hand."""
from __future__ import annotations

import math
from datetime import date

import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from survey.db import get_session
from survey.reporting import comments
from survey.reporting import dashboard as d
from tests.reporting.test_reports import VN, seed


def test_periods_and_their_previous_periods():
    assert d.parse_period("month", "2025-03").previous() == d.Period("month", date(2025, 2, 1), date(2025, 2, 28))
    q = d.parse_period("quarter", "2025-Q1")
    assert (q.since, q.until) == (date(2025, 1, 1), date(2025, 3, 31))
    assert q.previous() == d.Period("quarter", date(2024, 10, 1), date(2024, 12, 31))
    assert d.parse_period("year", "", today=date(2026, 12, 1)) == d.Period("year", date(2026, 1, 1), date(2026, 12, 31))
    custom = d.parse_period("custom", since="10/03/2025", until="19/03/2025")
    assert custom.previous() == d.Period("custom", date(2025, 2, 28), date(2025, 3, 9))


@pytest.mark.parametrize("args", [("month", "2025-13"), ("quarter", "2025-Q5"), ("year", "1899"), ("week", "")])
def test_bad_periods_are_refused(app, args):
    with app.test_request_context(), pytest.raises(d.DashboardError):
        d.parse_period(*args)


def test_impossible_date_ranges_are_refused(app):
    with app.test_request_context():
        with pytest.raises(d.DashboardError, match="31/03/2025"):
            d.parse_period("custom", since="31/03/2025", until="01/03/2025")
        with pytest.raises(d.DashboardError, match="dd/mm/yyyy"):
            d.parse_period("custom", since="2025-03-01", until="31/03/2025")
        with pytest.raises(d.DashboardError):
            d.parse_period("custom", since="01/01/2020", until="31/12/2025")


@pytest.fixture
def ledger(app):
    return seed(app, n=400, seed_value=14)


def share(rows, item="overall"):
    codes = [r.answers[item] for r in rows if 1 <= r.answers.get(item, 0) <= 5]
    return sum(c >= 4 for c in codes), len(codes)


def in_quarter(r, year, q):
    local = r.when.astimezone(VN)
    return local.year == year and (local.month - 1) // 3 + 1 == q


def test_field_table_rows_against_an_independent_computation(app, ledger):
    with app.test_request_context():
        board = d.build(get_session(), d.Filters(d.parse_period("quarter", "2025-Q2"), "D1"))
    inside = [r for r in ledger if r.unit in ("D1", "X1", "X2") and not r.flags]
    for source in ("feedback", "sample"):
        row = next(r for r in board.fields if r.field == "dat-dai" and r.source == source)
        now = [r for r in inside if r.field == "dat-dai" and r.source == source and in_quarter(r, 2025, 2)]
        before = [r for r in inside if r.field == "dat-dai" and r.source == source and in_quarter(r, 2025, 1)]
        x, n = share(now)
        x0, n0 = share(before)
        assert (row.current.n, row.current.pct) == (n, pytest.approx(100 * x / n))
        low, high = proportion_confint(x, n, alpha=0.05, method="wilson")
        assert (row.current.ci_low, row.current.ci_high) == (pytest.approx(100 * low), pytest.approx(100 * high))
        assert row.measure == "overall_item" and row.target.id == "nq76-2025-dat-dai"
        if n < 30:
            assert row.verdict == "chua_du_du_lieu"
        else:
            above = binomtest(x, n, 0.85, alternative="greater").pvalue
            below = binomtest(x, n, 0.85, alternative="less").pvalue
            assert row.verdict == ("dat" if above < 0.05 else "khong_dat" if below < 0.05 else "chua_du_co_so")
        assert row.previous.n == n0
        # Newcombe's hybrid score interval (method 10), from the Wilson limits of each period
        p1, p0 = x / n, x0 / n0
        l1, u1 = proportion_confint(x, n, method="wilson")
        l0, u0 = proportion_confint(x0, n0, method="wilson")
        assert row.diff == pytest.approx(100 * (p1 - p0))
        assert row.diff_low == pytest.approx(100 * (p1 - p0 - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)))
        assert row.diff_high == pytest.approx(100 * (p1 - p0 + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)))
    # never pooled: every row names one source and one instrument
    assert {r.source for r in board.fields} == {"feedback", "sample"} and {r.instrument for r in board.fields} == {"sipas-local"}
    # a field with no field target of its own has no verdict; the all-fields rows carry the TTHC and SIPAS targets
    justice = next(r for r in board.fields if r.field == "tu-phap-ho-tich" and r.source == "feedback")
    assert justice.target is None and justice.verdict_label == "Chưa có chỉ tiêu cho kỳ này"
    totals = {r.measure: r.target.id for r in board.fields if r.field == "all" and r.source == "feedback"}
    assert totals == {"overall_item": "nq76-2025-tthc", "overall_index": "nq76-2025-sipas"}


def test_no_target_in_force_for_a_year_without_one(app, ledger):
    with app.test_request_context():
        board = d.build(get_session(), d.Filters(d.parse_period("custom", since="01/01/2025", until="31/01/2026"), "P"))
    assert board.fields and all(r.target is None for r in board.fields), "a range reaching into 2026 is not inside the 2025 targets"


def test_units_and_criteria_tables(app, ledger):
    with app.test_request_context():
        board = d.build(get_session(), d.Filters(d.parse_period("year", "2025"), "P", source="feedback"))
    rows = [r for r in ledger if not r.flags and r.source == "feedback" and r.unit]
    units = {u.unit: u for u in board.units}
    assert set(units) == {"P", "D1", "X1", "X2", "X3"}
    x2 = [r for r in rows if r.unit == "X2"]
    assert units["X2"].figure.n == share(x2)[1] and units["X2"].depth == 2
    assert units["X2"].suppressed == (share(x2)[1] < 30)
    crit = board.criteria.set_index("item")
    codes = [r.answers["access_1"] for r in rows if 1 <= r.answers.get("access_1", 0) <= 5]
    assert [int(crit.loc["access_1", f"n{c}"]) for c in range(1, 6)] == [codes.count(c) for c in range(1, 6)]


def test_filters_that_select_nothing_give_no_rows(app, ledger):
    with app.test_request_context():
        board = d.build(get_session(), d.Filters(d.parse_period("year", "2019"), "P"))
    assert board.fields == [] and board.units == [] and board.focus is None


@pytest.mark.parametrize("text, hidden", [
    ("Gọi lại 0912345678 giúp tôi", "0912345678"),
    ("sđt 0912 345 678.", "0912 345 678"),
    ("số +84 912 345 678", "+84 912 345 678"),
    ("84912345678 là số của tôi", "84912345678"),
    ("máy bàn 024.3825.1234", "024.3825.1234"),
    ("CCCD 001095012345 cấp năm 2021", "001095012345"),
    ("CMND 123456789", "123456789"),
    ("mail nguyen.van-a+1@gmail.com nhé", "nguyen.van-a+1@gmail.com"),
    ("email: cán.bộ@ubnd.hungyen.gov.vn", "cán.bộ@ubnd.hungyen.gov.vn"),
])
def test_mask_hides_phones_ids_and_emails(text, hidden):
    masked = comments.mask(text)
    assert hidden not in masked and "đã ẩn]" in masked
    assert not any(ch.isdigit() for ch in masked.replace("2021", "")), masked


def test_mask_keeps_ordinary_numbers_and_text():
    text = "Chờ 45 phút, 3 lần đi lại, năm 2025, hồ sơ số 12/KH; cán bộ rất nhiệt tình!"
    assert comments.mask(text) == text


def test_channel_filter_counts_only_that_channel(app, ledger):
    with app.test_request_context():
        board = d.build(get_session(), d.Filters(d.parse_period("quarter", "2025-Q1"), "P", channel="paper"))
    row = next(r for r in board.fields if r.field == "dat-dai" and r.source == "feedback")
    rows = [r for r in ledger if r.unit and r.field == "dat-dai" and r.source == "feedback" and not r.flags
            and r.channel == "paper" and in_quarter(r, 2025, 1)]
    x, n = share(rows)
    assert (row.current.n, row.current.pct) == (n, pytest.approx(100 * x / n))


def test_a_local_higher_than_previous_target_is_judged_by_the_newcombe_interval(app, ledger):
    from analysis.targets import parse_targets

    local = parse_targets({"targets": [{
        "id": "x1-higher", "indicator": "tthc", "scope": "X1", "field": "all", "comparator": "higher_than_previous",
        "threshold": None, "period": "2025", "source": "Kế hoạch số 1/KH-UBND của xã: năm sau cao hơn năm trước"}]})
    with app.test_request_context():
        session = get_session()
        unit = session.scalar(d.select(d.Unit).where(d.Unit.code == "X1"))
        ancestors = d._ancestors(session, unit)
        found = d.applicable_targets(local, "sipas", "all", ["overall_item"], d.parse_period("quarter", "2025-Q2"),
                                     ancestors, None)
        elsewhere = d.applicable_targets(local, "sipas", "all", ["overall_item"], d.parse_period("quarter", "2025-Q2"),
                                         ["X3", "P"], None)
    assert [t.id for t in found] == ["x1-higher"] and elsewhere == []
    row = d.FieldRow("q", "q", "sipas", "feedback", "all", "all", "overall_item",
                     d.Figure(n=120, n_eff=120, pct=75.0), d.Figure(n=100, n_eff=100, pct=60.0), target=found[0])
    d.judge(row)
    # Newcombe at 90% (one-sided α = 0.05): 90/120 against 60/100
    l1, u1 = proportion_confint(90, 120, alpha=0.10, method="wilson")
    l0, u0 = proportion_confint(60, 100, alpha=0.10, method="wilson")
    low = 0.75 - 0.60 - math.sqrt((0.75 - l1) ** 2 + (u0 - 0.60) ** 2)
    assert row.verdict == ("dat" if low > 0 else "chua_du_co_so")


def test_targets_origin_is_worded_when_shown_in_the_reader_language():
    """A cached dashboard serves every language: the targets' origin is worded at display time."""
    from datetime import datetime, timezone

    from survey.i18n import outside_request
    from survey.reporting.dashboard import TargetsOrigin

    loaded = TargetsOrigin(37, datetime(2026, 12, 1, 4, 42, tzinfo=timezone.utc))
    assert str(loaded) == "37 chỉ tiêu trong cơ sở dữ liệu, nạp lần cuối lúc 11:42 01/12/2026"
    with outside_request("en"):
        assert str(loaded) == "37 targets in the database, last loaded at 11:42 01/12/2026"
    assert "targets/*.yaml" in str(TargetsOrigin(5, None)) and "chỉ tiêu" in str(TargetsOrigin(5, None))
