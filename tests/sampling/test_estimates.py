"""Weighted estimates of a draw against a hand-worked two-stratum example, cross-checked with
statsmodels; the edge cases (no answers, one respondent in a stratum); the online path tagging a
sampled person's answer with its draw and stratum."""
from __future__ import annotations

import math
from datetime import date

import pytest
from scipy import stats
from sqlalchemy import select
from statsmodels.stats.proportion import proportion_confint

from questionnaires.loader import load_file
from survey import catalog
from survey.db import get_session
from survey.models import (
    Answer,
    Field,
    FrameDossier,
    FrameImport,
    Response,
    SampleMember,
)
from survey.registry import units
from survey.sampling import design, draws, estimates, tracking
from tests.sampling.conftest import unit

QUICK = load_file("questionnaires/counter-quick.yaml")


@pytest.fixture
def ctx(app):
    """A province and one commune with the fields: no staff accounts (hashing passwords is slow)."""
    with app.app_context():
        session = get_session()
        units.load_fields(session)
        units.add_unit(session, "11953", "Phường Phố Hiến", "ward", units.add_unit(session, "33", "Tỉnh Hưng Yên", "province"))
        session.commit()
        yield session


def two_strata(session, sizes=(100, 300), n=20, seed="hand"):
    """Commune A, two fields: dat-dai (N_A) and tu-phap-ho-tich (N_B); equal allocation of n."""
    u = unit("11953")
    batch = FrameImport(unit_id=u.id, source="t", filename="t.csv", file_sha256="0" * 64)
    session.add(batch)
    session.flush()
    for code, size in zip(("dat-dai", "tu-phap-ho-tich"), sizes):
        fld = session.scalar(select(Field).filter_by(code=code))
        session.add_all(FrameDossier(dossier_code=f"E-{code}-{i}", unit_id=u.id, field_id=fld.id,
                                     completed_on=date(2026, 10, 15), import_id=batch.id) for i in range(size))
    session.flush()
    saved = design.save(session, design.Params(u, date(2026, 10, 1), date(2026, 12, 31), total=n,
                                               allocation="equal"), "test")
    return draws.draw(session, saved, seed)


def answer(session, member: SampleMember, code: int | None, version_id: int) -> None:
    """A paper form keyed in for the member: the status moves, the response carries sample_tags only."""
    member.status = "paper_returned"
    fld = session.get(FrameDossier, member.dossier_id).field_id
    r = Response(version_id=version_id, channel="paper", unit_id=unit("11953").id, field_id=fld,
                 **tracking.sample_tags(member))
    if code is not None:
        r.answers.append(Answer(item_key="overall", code=code))
    session.add(r)


def selected(session, draw_id: int, stratum: str) -> list[SampleMember]:
    return list(session.scalars(select(SampleMember).where(
        SampleMember.draw_id == draw_id, SampleMember.stratum == stratum, SampleMember.selected.is_(True))
        .order_by(SampleMember.rank)))


A, B = "11953|dat-dai", "11953|tu-phap-ho-tich"


def test_sample_tags_are_anonymous(ctx):
    row = two_strata(ctx)
    m = selected(ctx, row.id, A)[0]
    assert tracking.sample_tags(m) == {"source": "sample", "sample_draw_id": row.id, "stratum": A}


def test_hand_worked_two_strata(ctx):
    version, _state = catalog.publish(ctx, QUICK)
    row = two_strata(ctx)
    a, b = selected(ctx, row.id, A), selected(ctx, row.id, B)
    assert (len(a), len(b)) == (10, 10)
    for m, code in zip(a, [5, 4, 4, 5, 2]):  # stratum A: 5 of 10 answer, 4 satisfied
        answer(ctx, m, code, version.id)
    for m, code in zip(b, [5, 4, 4, 4, 1, 2, 3, 2]):  # stratum B: 8 of 10 answer, 4 satisfied
        answer(ctx, m, code, version.id)
    tracking.set_status(ctx, b[8], "refused")
    ctx.flush()
    est = estimates.for_draw(ctx, row)

    # Weights: design N_h/n_h: A 100/10 = 10, B 300/10 = 30; non-response ×n_h/r_h: A ×10/5 → 20, B ×10/8 → 37.5
    sa, sb = est.strata
    assert (sa.N, sa.fielded, sa.respondents, sb.N, sb.fielded, sb.respondents) == (100, 10, 5, 300, 10, 8)
    assert (sa.w_design, sa.w_final, sb.w_design, sb.w_final) == pytest.approx((10, 20, 30, 37.5))
    assert (sa.rr1, sb.rr1, sb.rr2) == pytest.approx((0.5, 0.8, 0.8))
    # p̂ = Σ W_h p_h with W_A = 100/400, W_B = 300/400: 0.25·0.8 + 0.75·0.5 = 0.575
    o = est.overall
    assert o.n == 13 and o.pct == pytest.approx(57.5)
    # v = Σ W_h² (1 − r_h/N_h) s_h²/r_h with s_h² = r_h p_h(1−p_h)/(r_h − 1):
    #   A: 0.0625 · 0.95 · (5·0.16/4 = 0.2)/5 = 0.002375
    #   B: 0.5625 · (1 − 8/300) · (8·0.25/7 = 2/7)/8 = 0.019553571...
    v = 0.0625 * 0.95 * 0.2 / 5 + 0.5625 * (1 - 8 / 300) * (2 / 7) / 8
    assert v == pytest.approx(0.0219285714, rel=1e-8)
    assert o.se_pct == pytest.approx(100 * math.sqrt(v))  # 14.808
    # deff = v / (p(1−p)/n) = 0.0219286 / (0.244375/13) = 1.16654; effective n = p(1−p)/v = 11.144
    assert o.deff == pytest.approx(1.16654, rel=1e-4)
    assert o.n_eff == pytest.approx(11.1442, rel=1e-4)
    # Korn–Graubard: Clopper–Pearson at n* = n_eff · (t_{12}/t_{11})² (df = 13 respondents − 2 strata),
    # computed here by statsmodels' exact ("beta") interval, which accepts a fractional count
    n_star = 0.244375 / v * (stats.t.ppf(0.025, 12) / stats.t.ppf(0.025, 11)) ** 2
    low, high = proportion_confint(0.575 * n_star, n_star, alpha=0.05, method="beta")
    assert (o.ci_low, o.ci_high) == pytest.approx((100 * low, 100 * high), rel=1e-6)
    assert (o.ci_low, o.ci_high) == pytest.approx((25.59, 85.32), abs=0.01)  # wide, as 13 answers deserve
    # per field: each field here is one stratum, so its estimate is that stratum's share
    fields = {f.label: f for f in est.fields}
    assert fields["Đất đai"].pct == pytest.approx(80) and fields["Đất đai"].n == 5
    assert fields["Tư pháp – Hộ tịch"].pct == pytest.approx(50) and fields["Tư pháp – Hộ tịch"].n == 8
    assert o.few and not est.notes


def test_no_answers_yet_says_so(ctx):
    row = two_strata(ctx)
    est = estimates.for_draw(ctx, row)
    assert est.empty and [s.respondents for s in est.strata] == [0, 0]
    assert "Chưa có phiếu trả lời" in est.notes[0]


def test_single_respondent_stratum_is_collapsed_for_the_variance(ctx):
    version, _state = catalog.publish(ctx, QUICK)
    row = two_strata(ctx)
    a, b = selected(ctx, row.id, A), selected(ctx, row.id, B)
    answer(ctx, a[0], 5, version.id)  # stratum A: one respondent
    for m, code in zip(b, [5, 4, 1, 2]):
        answer(ctx, m, code, version.id)
    ctx.flush()
    est = estimates.for_draw(ctx, row)
    sa, sb = est.strata
    assert sa.collapsed_with == sb.collapsed_with == B
    assert any("một người trả lời" in n for n in est.notes)
    # the point estimate still uses each stratum's own weight: 0.25·1 + 0.75·0.5 = 0.625
    assert est.overall.pct == pytest.approx(62.5)
    assert est.overall.ci_low is not None and est.overall.ci_low < 62.5 < est.overall.ci_high


def test_one_respondent_in_all_gives_a_share_without_an_interval(ctx):
    version, _state = catalog.publish(ctx, QUICK)
    row = two_strata(ctx)
    answer(ctx, selected(ctx, row.id, A)[0], 4, version.id)
    ctx.flush()
    est = estimates.for_draw(ctx, row)
    assert est.overall.pct == pytest.approx(100) and est.overall.ci_low is None
    assert any("chưa tính được khoảng tin cậy" in n for n in est.notes)
    assert any("chưa có người trả lời" in n for n in est.notes)  # stratum B
