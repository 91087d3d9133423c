"""The dashboard's one-read path (dashboard.read_window and friends) against the engine: for the
same filters every field-table row, element, criterion and unit equals what one standard_report
per instrument gives (the path the dashboard takes for custom ranges and channels), with three
instruments answered side by side, one of them with comprehensive satisfaction (health)."""
from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from survey.db import get_session
from survey.reporting import dashboard as d
from survey.reporting.selection import Selection
from survey.reporting.standard import standard_report
from tests.reporting.test_reports import Row, insert, seed

OTHERS = ("health-outpatient", "sipas-2023")


def other_rows(session, key: str, rng: random.Random, n: int) -> list[Row]:
    from survey import catalog

    q = catalog.definition(catalog.latest(session, key))
    items = [i.key for i in q.criteria] + ([q.rollup.overall_item] if q.rollup.overall_item else [])
    start = datetime(2024, 12, 1, tzinfo=UTC)
    return [Row(unit=rng.choice(["X1", "X2", "X3", "D1"]), field=rng.choice(["dat-dai", "y-te", None]),
                source=rng.choice(["feedback", "feedback", "sample"]),
                when=start + timedelta(seconds=rng.randrange(0, 200 * 24 * 3600)),
                answers={k: rng.choice([1, 2, 3, 4, 4, 5, 5]) for k in items if rng.random() < 0.9},
                channel=rng.choice(["counter", "dossier"]))
            for _ in range(n)]


@pytest.fixture
def three_instruments(app):
    ledger = seed(app, n=300, seed_value=21)
    rng = random.Random(7)
    with app.app_context():
        session = get_session()
        for key in OTHERS:
            insert(session, other_rows(session, key, rng, 150), key=key)
        session.commit()
    return ledger


def plain(board: d.Dashboard) -> dict:
    return {"fields": [dataclasses.asdict(r) for r in board.fields],
            "criteria": board.criteria.astype(object).where(board.criteria.notna(), None).to_dict("records"),
            "units": [dataclasses.asdict(u) for u in board.units], "excluded": board.excluded,
            "funnel": board.funnel_target, "focus": board.focus.key if board.focus else None}


CASES = [
    {"kind": "quarter", "value": "2025-Q1", "unit": "P"},
    {"kind": "month", "value": "2025-03", "unit": "D1", "field": "dat-dai"},
    {"kind": "year", "value": "2025", "unit": "P", "source": "sample"},
    {"kind": "quarter", "value": "2025-Q2", "unit": "P", "questionnaire": "health-outpatient"},
    {"kind": "year", "value": "2019", "unit": "P"},
]
COLUMNS = ["field", "period", "source", "level", "element", "item", "n", "n_eff", "pct", "ci_low", "ci_high", "n_excluded"]
KEY = ["level", "field", "period", "source", "element", "item"]


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[COLUMNS].astype({"field": str, "period": str, "source": str, "element": str, "item": str})
    return out.sort_values(KEY).reset_index(drop=True)


def test_one_read_gives_the_figures_of_one_standard_report_per_instrument(app, three_instruments, monkeypatch):
    with app.test_request_context():
        session = get_session()
        for case in CASES:
            args = dict(case)
            f = d.Filters(d.parse_period(args.pop("kind"), args.pop("value")), args.pop("unit"), **args)
            assert d.fast_path(f)
            fast = plain(d.build(session, f))
            with monkeypatch.context() as m:
                m.setattr(d, "fast_path", lambda _f: False)
                slow = plain(d.build(session, f))
            assert fast == slow, case
            if case["value"] == "2025-Q1":  # all three instruments in the table, side by side
                assert {r["instrument"] for r in fast["fields"]} == {"sipas-local", *OTHERS}
                assert fast["units"] and len(fast["criteria"])
        session.rollback()


def test_window_figures_equal_the_engine_standard_report(app, three_instruments):
    with app.test_request_context():
        session = get_session()
        f = d.Filters(d.parse_period("quarter", "2025-Q1"), "D1")
        unit = session.scalar(d.select(d.Unit).where(d.Unit.code == "D1"))
        chosen = [q for q in d.instruments(session) if q.key in ("sipas-local", *OTHERS)]
        d.refresh(session)
        window = d.read_window(session, chosen, f, unit)
        for q in chosen:
            ours = d.window_figures(session, window, q)
            sel = Selection(q.key, since=f.period.previous().since, until=f.period.until, unit="D1",
                            by=("field", "period"), period="Q")
            engine = standard_report(session, sel, targets=()).figures
            assert len(ours) > 20
            assert ("comprehensive" in set(ours["level"])) == (q.key == "health-outpatient")
            pd.testing.assert_frame_equal(tidy(ours), tidy(engine), check_dtype=False)
        session.rollback()
