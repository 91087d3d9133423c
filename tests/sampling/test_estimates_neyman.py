"""Neyman allocation in the design step: S_h from last period's share satisfied per stratum, 0.5 where
there are too few answers (and the preview says so), checked against an independent computation;
the basis is frozen in the design so a verify re-derives the same draw."""
from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import select

from survey.models import (
    Answer,
    Field,
    FrameDossier,
    FrameImport,
    QuestionnaireVersion,
    Response,
    ResponseFlag,
)
from survey.sampling import design, draws
from tests.sampling.conftest import unit
from tests.sampling.test_estimates import ctx  # noqa: F401  (fixture: a commune with the fields, no accounts)

A, B = "11953|dat-dai", "11953|tu-phap-ho-tich"


def frame(session, sizes=(100, 300)) -> None:
    u = unit("11953")
    batch = FrameImport(unit_id=u.id, source="t", filename="t.csv", file_sha256="0" * 64)
    session.add(batch)
    session.flush()
    for code, size in zip(("dat-dai", "tu-phap-ho-tich"), sizes):
        fld = session.scalar(select(Field).filter_by(code=code))
        session.add_all(FrameDossier(dossier_code=f"N-{code}-{i}", unit_id=u.id, field_id=fld.id,
                                     completed_on=date(2026, 11, 2), import_id=batch.id) for i in range(size))
    session.flush()


def feedback(session, field_code: str, codes: list[int], when: datetime, flag: bool = False) -> None:
    version = session.scalar(select(QuestionnaireVersion).filter_by(key="counter-quick"))
    fld = session.scalar(select(Field).filter_by(code=field_code))
    for code in codes:
        r = Response(version_id=version.id, channel="counter", unit_id=unit("11953").id, field_id=fld.id,
                     submitted_at=when)
        r.answers.append(Answer(item_key="overall", code=code))
        r.answers.append(Answer(item_key="q1", code=1))  # another item: not the measure
        if flag:
            r.flags.append(ResponseFlag(reason="speeder"))
        session.add(r)
    session.flush()


def params(total=40, **kw) -> design.Params:
    # Q4 2026: 92 days, so the previous period is 1/7–30/9/2026
    return design.Params(unit("11953"), date(2026, 10, 1), date(2026, 12, 31), total=total, allocation="neyman", **kw)


def test_previous_period_has_equal_length():
    p = design.Params(None, date(2026, 10, 1), date(2026, 12, 31))
    assert design.previous_period(p) == (date(2026, 7, 1), date(2026, 9, 30))


def test_neyman_from_last_period_against_numpy(ctx):  # noqa: F811
    frame(ctx)
    aug = datetime(2026, 8, 15, 3, tzinfo=UTC)
    feedback(ctx, "dat-dai", [5] * 36 + [2] * 4, aug)  # A: 36 of 40 satisfied → p = 0.9
    feedback(ctx, "dat-dai", [1] * 20, aug, flag=True)  # flagged: left out
    feedback(ctx, "dat-dai", [1] * 20, datetime(2026, 6, 30, 12, tzinfo=UTC))  # before the previous period
    feedback(ctx, "dat-dai", [1] * 20, datetime(2026, 10, 1, 1, tzinfo=UTC))  # in the design's own period
    feedback(ctx, "tu-phap-ho-tich", [5] * 10, aug)  # B: only 10 answers → p = 0.5, said so
    pre = design.preview(ctx, params())
    rows = {f"{r.unit}|{r.field}": r for r in pre.strata.itertuples()}
    assert (rows[A].p_prev, rows[A].n_prev, rows[A].fallback) == (pytest.approx(0.9), 40, False)
    assert (rows[B].p_prev, rows[B].n_prev, rows[B].fallback) == (0.5, 10, True)
    # independent: n_h ∝ N_h·S_h, S = sqrt(p(1−p)) = (0.3, 0.5); 40·(30, 150)/180 = (6.67, 33.33) → (7, 33)
    N = np.array([100, 300])
    S = np.sqrt(np.array([0.9 * 0.1, 0.25]))
    raw = 40 * N * S / (N * S).sum()
    floor = np.floor(raw).astype(int)
    floor[np.argsort(-(raw - floor))[: 40 - floor.sum()]] += 1
    assert [rows[A].n, rows[B].n] == floor.tolist() == [7, 33]
    proportional = design.preview(ctx, design.Params(unit("11953"), date(2026, 10, 1), date(2026, 12, 31), total=40))
    assert proportional.strata["n"].tolist() == [10, 30]  # Neyman moved forms to the more variable stratum


def test_unanimous_last_period_still_gets_forms(ctx):  # noqa: F811
    frame(ctx)
    feedback(ctx, "dat-dai", [5] * 40, datetime(2026, 8, 15, tzinfo=UTC))  # p = 1 → kept at 0.95
    pre = design.preview(ctx, params())
    a = pre.strata.iloc[0]
    assert a.p_prev == pytest.approx(0.95) and a.n > 0


def test_basis_is_frozen_and_verify_matches(ctx):  # noqa: F811
    frame(ctx)
    feedback(ctx, "dat-dai", [5] * 36 + [2] * 4, datetime(2026, 8, 15, tzinfo=UTC))
    p = params()
    design.preview(ctx, p)
    saved = design.save(ctx, p, "test")
    row = draws.draw(ctx, saved, "neyman")
    assert row.selected == 40
    feedback(ctx, "tu-phap-ho-tich", [5] * 40, datetime(2026, 8, 16, tzinfo=UTC))  # last period changes later…
    assert draws.verify(ctx, row).matches  # …the frozen basis still gives the same draw
    assert design.Params.of(saved).neyman_basis[A][:2] == [pytest.approx(0.9), 40]


def test_cli_design_neyman_prints_the_basis(app, ctx, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LC_ALL", "vi_VN.UTF-8")
    frame(ctx)
    feedback(ctx, "dat-dai", [5] * 36 + [2] * 4, datetime(2026, 8, 15, tzinfo=UTC))
    ctx.commit()
    out = app.test_cli_runner().invoke(args=["sample", "design", "--unit", "11953", "--from", "01/10/2026", "--to",
                                             "31/12/2026", "--allocation", "neyman", "--total", "40"])
    assert out.exit_code == 0, out.output
    assert "S_h: 90,0% trên 40 phiếu" in out.output
    assert "S_h: chưa đủ số liệu kỳ trước (0 phiếu): dùng 50%" in out.output
