"""Sample sizes and allocations against reference values worked out independently, and the draw
re-computed here with hashlib alone: same seed → same sample whatever the frame's row order."""
from __future__ import annotations

import hashlib
import math
from datetime import date

import numpy as np
import pytest
from sqlalchemy import select

from survey.models import FrameDossier, SampleMember
from survey.sampling import design, draws, frames
from tests.sampling.conftest import frame_rows, unit, write_frame

Q4 = (date(2026, 10, 1), date(2026, 12, 31))


@pytest.mark.parametrize(("N", "n"), [(200, 132), (1000, 278), (10000, 370)])
def test_cochran_reference_values(N, n):
    # the reference figures (95%, ±5 points, p = 0.5, finite-population correction)
    assert design.required_size(N) == n


def test_yamane_response_rate_and_design_effect():
    assert design.required_size(1000, formula="yamane") == 286  # 1000 / (1 + 1000 · 0.05²) = 285.7
    # 277.74… × 1.5 / 0.6 = 694.3 → 695 (rounded once, at the end)
    z = 1.959963984540054
    n0 = z**2 * 0.25 / 0.05**2
    expected = math.ceil(n0 / (1 + (n0 - 1) / 1000) * 1.5 / 0.6)
    assert design.required_size(1000, response_rate=0.6, design_effect=1.5) == expected == 695
    assert design.required_size(50, response_rate=0.3) == 50  # never above N


def _import(ctx, tmp_path, *groups: tuple[int, str, str], name: str = "f.csv") -> None:
    lines = []
    for n, u, f in groups:
        lines += frame_rows(n, unit=u, field=f)
    report = frames.import_frame(ctx, unit("33"), write_frame(tmp_path, lines, name), source="s")
    assert not report.rejected
    ctx.flush()


def params(**kw) -> design.Params:
    return design.Params(unit("33"), *Q4, **kw)


def test_proportional_allocation_and_preview(ctx, tmp_path):
    _import(ctx, tmp_path, (600, "11953", "dat-dai"), (300, "11953", "tu-phap-ho-tich"), (100, "12001", "dat-dai"))
    pre = design.preview(ctx, params())
    # N = 1000 → 278; shares 0.6, 0.3, 0.1 → 166.8, 83.4, 27.8 → largest remainder: 167, 83, 28
    assert pre.population == 1000 and pre.size == 278
    assert list(pre.strata["N"]) == [600, 300, 100] and list(pre.strata["n"]) == [167, 83, 28]
    # expected margin of the 600-dossier stratum with 167 answers: 1.96·√(0.25/167·(600−167)/599)
    assert pre.strata["margin"][0] == pytest.approx(1.959964 * math.sqrt(0.25 / 167 * 433 / 599), rel=1e-5)


def test_quota_per_unit_minimum_and_never_above_the_stratum(ctx, tmp_path):
    _import(ctx, tmp_path, (200, "11953", "dat-dai"), (100, "11953", "tu-phap-ho-tich"), (40, "12001", "dat-dai"))
    pre = design.preview(ctx, params(allocation="quota", quota=90))
    # commune A: 90 over 200:100 → 60, 30; commune B has only 40 dossiers → 40
    assert list(pre.strata["n"]) == [60, 30, 40] and pre.total == 130
    pre = design.preview(ctx, params(allocation="quota", quota=90, minimum=35))
    assert list(pre.strata["n"]) == [55, 35, 40]
    pre = design.preview(ctx, params(allocation="equal", total=300))
    assert list(pre.strata["n"]) == [160, 100, 40]  # equal shares; B capped at 40, tư pháp at 100, the rest to đất đai


def test_a_sample_bigger_than_the_frame_takes_everyone(ctx, tmp_path):
    _import(ctx, tmp_path, (10, "11953", "dat-dai"))
    pre = design.preview(ctx, params(total=500))
    assert list(pre.strata["n"]) == [10]


def test_bad_parameters_are_named(ctx):
    with pytest.raises(design.DesignError, match="Sai số"):
        design.preview(ctx, params(margin=0))
    with pytest.raises(design.DesignError, match="chỉ tiêu"):
        design.preview(ctx, params(allocation="quota"))


def independent_draw(codes_by_stratum: dict[str, list[str]], n: dict[str, int], seed: str) -> dict[str, list[str]]:
    """The published rule, by hand: order by sha256(seed ":" code), take the first n_h."""
    out = {}
    for stratum, codes in codes_by_stratum.items():
        ordered = sorted(codes, key=lambda c: hashlib.sha256(f"{seed}:{c}".encode()).hexdigest())
        out[stratum] = ordered
    return out


def test_draw_matches_an_independent_computation_and_verifies(ctx, tmp_path):
    _import(ctx, tmp_path, (120, "11953", "dat-dai"), (60, "12001", "tu-phap-ho-tich"))
    d = design.save(ctx, params(total=30), "t")
    row = draws.draw(ctx, d, seed="quy4-2026", actor_login="t")
    ctx.flush()
    got = ctx.execute(select(SampleMember.stratum, FrameDossier.dossier_code, SampleMember.selected, SampleMember.reserve_rank)
                      .join(FrameDossier, FrameDossier.id == SampleMember.dossier_id)
                      .where(SampleMember.draw_id == row.id).order_by(SampleMember.id)).all()
    codes = {s: [c for (c,) in ctx.execute(select(FrameDossier.dossier_code).join(FrameDossier.unit).where(
        FrameDossier.dossier_code.like(f"HS-{s.split('|')[0]}-%")))] for s in ("11953|dat-dai", "12001|tu-phap-ho-tich")}
    ordered = independent_draw(codes, {}, "quy4-2026")
    n_h = {"11953|dat-dai": 20, "12001|tu-phap-ho-tich": 10}  # 30 in proportion 120:60
    for stratum, order in ordered.items():
        selected = [c for s, c, sel, _r in got if s == stratum and sel]
        reserve = [c for s, c, sel, r in got if s == stratum and not sel]
        assert selected == order[:n_h[stratum]]
        assert reserve == order[n_h[stratum]:n_h[stratum] + len(reserve)] and len(reserve) == max(n_h[stratum], 10)
        assert [r for s, _c, sel, r in got if s == stratum and not sel] == list(range(1, len(reserve) + 1))
    assert row.selected == 30 and row.frame_size == 180 and row.algorithm == "sha256-v1"
    check = draws.verify(ctx, row)
    assert check.matches and check.frame_unchanged


def test_same_seed_same_sample_whatever_the_row_order_another_seed_another(ctx, tmp_path):
    _import(ctx, tmp_path, (80, "11953", "dat-dai"))
    d = design.save(ctx, params(total=15), None)
    first = draws.draw(ctx, d, seed="abc")
    frame = draws.frame_of(ctx, d)
    order = np.random.default_rng(7).permutation(len(frame)).tolist()
    shuffled = draws.Frame([frame.codes[i] for i in order], frame.strata[order], frame.labels, [frame.lines[i] for i in order])
    assert shuffled.codes != frame.codes and draws.frame_checksum(shuffled) == first.frame_sha256
    again = draws.ranked(shuffled, d, "abc")
    ctx.flush()

    def chosen(draw_id):
        return set(ctx.scalars(select(FrameDossier.dossier_code).join(SampleMember, SampleMember.dossier_id == FrameDossier.id)
                               .where(SampleMember.draw_id == draw_id, SampleMember.selected.is_(True))))
    assert {p.dossier_code for p in again if p.selected} == chosen(first.id)
    other = draws.draw(ctx, d, seed="xyz")
    ctx.flush()
    assert chosen(other.id) != chosen(first.id) and len(chosen(other.id)) == 15
    assert first.id != other.id  # a new draw; the first is kept


def test_verify_notices_a_changed_frame(ctx, tmp_path):
    _import(ctx, tmp_path, (30, "11953", "dat-dai"))
    d = design.save(ctx, params(total=5), None)
    row = draws.draw(ctx, d, seed="s1")
    ctx.flush()
    _import(ctx, tmp_path, (1, "11953", "tu-phap-ho-tich"), name="late.csv")
    check = draws.verify(ctx, row)
    assert not check.frame_unchanged


def test_an_empty_frame_cannot_be_drawn(ctx):
    d = design.save(ctx, params(), None)
    with pytest.raises(draws.DrawError):
        draws.draw(ctx, d, seed="s")
