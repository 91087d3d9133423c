"""Weighted estimates of a draw (issue #15 item 7): the sampled survey's % satisfied with its
Korn–Graubard interval, design effect and effective n, beside (never pooled with) counter feedback.

Per stratum h: N_h dossiers in the design's frame, n_h fielded (selected + reserves taken, so a
replaced person stays a non-respondent), r_h stored sampled responses. Weights come from
analysis.weights: w = N_h/n_h, then × n_h/r_h for non-response (respondents stand for the
non-respondents of their stratum). The measure is the dashboard's default one, the questionnaire's
overall satisfaction item (rollup.overall_item, "satisfied" = code 4 or 5, as analysis.figures counts
it). Fields are domains of the one design (their variance uses every stratum), not separate samples.
A stratum with a single respondent has no variance of its own: it is collapsed with a neighbour
(same unit first) for the variance only, and the table says so. Flagged responses are left out as
in every report. Reads raw answers: a draw has thousands of responses, not millions.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from analysis.inference import MIN_N
from analysis.weights import adjust_nonresponse, design_weights, estimate_proportion

from .. import catalog
from ..i18n import _
from ..models import (
    Answer,
    Field,
    QuestionnaireVersion,
    Response,
    ResponseFlag,
    SampleDesign,
    SampleDraw,
    Unit,
)
from . import tracking
from .design import Params, strata_counts


@dataclass
class StratumRow:
    stratum: str
    N: int | None  # dossiers in the frame (None: the stratum is no longer in the frame)
    fielded: int
    respondents: int  # stored sampled responses on the instrument
    rr1: float | None  # AAPOR RR1 from the fieldwork statuses; RR2 equals it (no partial interviews)
    w_design: float | None = None
    w_final: float | None = None  # design weight × non-response adjustment
    collapsed_with: str | None = None  # variance stratum when collapsed

    @property
    def rr2(self) -> float | None:
        return self.rr1


@dataclass
class Estimate:
    label: str
    n: int  # respondents who answered the item
    pct: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    se_pct: float | None = None
    deff: float | None = None
    n_eff: float | None = None

    @property
    def few(self) -> bool:
        """Fewer answers than reports need to show a figure without a warning (analysis.inference.MIN_N)."""
        return self.n < MIN_N


@dataclass
class DrawEstimates:
    draw_id: int
    instrument: str | None = None  # questionnaire title
    item_label: str | None = None
    strata: list[StratumRow] = field(default_factory=list)
    overall: Estimate | None = None
    fields: list[Estimate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.overall is None


def _responses(session: Session, draw_id: int) -> pd.DataFrame:
    flagged = exists().where(ResponseFlag.response_id == Response.id)
    rows = session.execute(select(Response.id, Response.version_id, Response.stratum, Field.code)
                           .outerjoin(Field, Field.id == Response.field_id)
                           .where(Response.sample_draw_id == draw_id, Response.source == "sample", ~flagged)).all()
    return pd.DataFrame(rows, columns=["id", "version_id", "stratum", "field"])


def _instrument(session: Session, responses: pd.DataFrame, out: DrawEstimates):
    """The questionnaire most of the draw's responses used, and its overall item; others are set aside."""
    versions = {v.id: v for v in session.scalars(select(QuestionnaireVersion).where(
        QuestionnaireVersion.id.in_([int(v) for v in responses["version_id"].unique()])))}
    keys = Counter(versions[int(v)].key for v in responses["version_id"])
    key, _count = keys.most_common(1)[0]
    others = sum(c for k, c in keys.items() if k != key)
    if others:
        out.notes.append(_("{n} phiếu trả lời bằng bảng hỏi khác không được gộp vào ước lượng này.", n=others))
    latest = max((v for v in versions.values() if v.key == key), key=lambda v: v.version)
    q = catalog.definition(latest)
    chosen = [vid for vid, v in versions.items() if v.key == key]
    return q, chosen


def _lonely_groups(strata: list[StratumRow]) -> dict[str, str]:
    """Variance stratum of each stratum with respondents: a single-respondent stratum joins a
    neighbour (the nearest stratum of the same unit, else the next one in order)."""
    names = sorted(s.stratum for s in strata if s.respondents > 0)
    parent = {s: s for s in names}

    def root(s: str) -> str:
        while parent[s] != s:
            s = parent[s]
        return s

    counts = {s.stratum: s.respondents for s in strata}
    for s in names:
        if counts[s] != 1 or len(names) < 2:
            continue
        unit = s.split("|", 1)[0]
        same = [o for o in names if o != s and o.split("|", 1)[0] == unit]
        i = names.index(s)
        partner = same[0] if same else names[i + 1] if i + 1 < len(names) else names[i - 1]
        parent[root(s)] = root(partner)
    return {s: root(s) for s in names}


def for_draw(session: Session, draw: SampleDraw) -> DrawEstimates:
    """The draw's strata table and weighted estimates (overall and per field). Never writes."""
    out = DrawEstimates(draw.id)
    design = session.get(SampleDesign, draw.design_id)
    counts = strata_counts(session, Params.of(design))  # one GROUP BY, not the frame's rows
    sizes = {f"{u}|{f}": int(n) for u, f, n in zip(counts["unit"], counts["field"], counts["N"])}
    rates = {r["stratum"]: r for r in tracking.rates(session, draw.id)}
    responses = _responses(session, draw.id)
    if not responses.empty:
        q, versions = _instrument(session, responses, out)
        responses = responses[responses["version_id"].isin(versions)]
    per_stratum = responses["stratum"].value_counts().to_dict() if not responses.empty else {}
    for name in sorted(set(rates) | set(per_stratum)):
        fielded = rates.get(name, {}).get("fielded", 0)
        r = int(per_stratum.get(name, 0))
        if r > fielded:  # more stored answers than people in the field: key-in twice, or an old draw's letter
            out.notes.append(_("Tầng {stratum}: {r} phiếu nhưng chỉ {n} người được khảo sát; tính cỡ tầng bằng số phiếu.",
                               stratum=name, r=r, n=fielded))
            fielded = r
        out.strata.append(StratumRow(name, sizes.get(name), fielded, r, rates.get(name, {}).get("rr1")))
    if responses.empty:
        out.notes.append(_("Chưa có phiếu trả lời nào của mẫu này: chưa thể ước lượng."))
        return out
    item = q.rollup.overall_item if q.rollup else None
    out.instrument = q.title.vi
    if item is None:
        out.notes.append(_("Bảng hỏi “{title}” không có câu hỏi hài lòng chung: chưa thể ước lượng.", title=q.title.vi))
        return out
    out.item_label = q.item(item).label.vi
    for s in out.strata:
        if s.N is None and s.respondents:
            out.notes.append(_("Tầng {stratum} không còn trong khung mẫu (khung đã đổi sau lần rút): không tính.",
                               stratum=s.stratum))
        elif s.respondents == 0 and s.fielded:
            out.notes.append(_("Tầng {stratum} chưa có người trả lời: ước lượng chỉ đại diện cho các tầng đã có trả lời.",
                               stratum=s.stratum))
    used = [s for s in out.strata if s.N is not None and s.respondents > 0]
    if not used:
        return out
    of_draw = select(Response.id).where(Response.sample_draw_id == draw.id)  # a subquery: no limit on bound ids
    codes = dict(session.execute(select(Answer.response_id, Answer.code).where(
        Answer.item_key == item, Answer.response_id.in_(of_draw))).all())
    resp = responses[responses["stratum"].isin({s.stratum for s in used})]
    rows = [{"stratum": s.stratum, "responded": False, "field": None, "code": np.nan}
            for s in used for _i in range(s.fielded - s.respondents)]
    sample = pd.concat([pd.DataFrame({"stratum": resp["stratum"], "responded": True, "field": resp["field"],
                                      "code": [codes.get(int(i), np.nan) for i in resp["id"]]}),
                        pd.DataFrame(rows, columns=["stratum", "responded", "field", "code"])], ignore_index=True)
    sample["code"] = sample["code"].astype(float)
    population = pd.DataFrame({"stratum": [s.stratum for s in used], "N": [s.N for s in used]})
    sample = adjust_nonresponse(design_weights(sample, population, strata="stratum"), strata="stratum")
    weights = sample.groupby("stratum")[["w_design", "w_nr"]].max()
    groups = _lonely_groups(used)
    for s in used:
        s.w_design, s.w_final = float(weights.at[s.stratum, "w_design"]), float(weights.at[s.stratum, "w_nr"])
        if groups[s.stratum] != s.stratum or any(g == s.stratum and k != s.stratum for k, g in groups.items()):
            s.collapsed_with = groups[s.stratum]
    if any(s.respondents == 1 for s in used):
        out.notes.append(_("Tầng chỉ có một người trả lời không tự tính được phương sai: đã gộp với tầng gần nhất "
                           "(cột “Gộp phương sai”) chỉ để tính sai số."))
    sample["vstratum"] = sample["stratum"].map(groups)
    vpop = population.assign(vstratum=population["stratum"].map(groups)).groupby("vstratum", as_index=False)["N"].sum()
    names = dict(session.execute(select(Field.code, Field.name_vi)).all())
    domains = sorted(c for c in sample["field"].dropna().unique())
    items = {"_all": _("Toàn bộ mẫu")}
    for d in domains:
        items[f"_f_{d}"] = names.get(d, d)
        sample[f"_f_{d}"] = sample["code"].where(sample["field"] == d, 0.0)
    sample["_all"] = sample["code"]
    estimates = _estimate(sample, list(items), vpop, out)
    for key, label in items.items():
        est = estimates.get(key)
        if est is None:
            continue
        est.label = label
        if key == "_all":
            out.overall = est
        else:
            out.fields.append(est)
    return out


def _estimate(sample: pd.DataFrame, items: list[str], vpop: pd.DataFrame, out: DrawEstimates) -> dict[str, Estimate]:
    try:
        table = estimate_proportion(sample, items, strata="vstratum", weight="w_nr", population=vpop, size="N")
    except ValueError:  # one respondent in all: a point estimate, no variance
        out.notes.append(_("Chỉ có một người trả lời: có tỷ lệ nhưng chưa tính được khoảng tin cậy."))
        resp = sample[sample["responded"]]
        result = {}
        for item in items:
            d = resp[item].between(1, 5)
            w = resp["w_nr"][d]
            n = int(d.sum())
            result[item] = Estimate("", n, float(100 * (w * (resp[item][d] >= 4)).sum() / w.sum()) if n else None)
        return result

    def num(value) -> float | None:
        return None if value is None or not np.isfinite(value) else float(value)

    return {r.item: Estimate("", int(r.n), num(r.pct), num(r.ci_low), num(r.ci_high), num(r.se_pct), num(r.deff),
                             num(r.n_eff)) if r.n else Estimate("", 0, None)
            for r in table.itertuples(index=False)}


@dataclass
class DashboardEntry:
    draw: SampleDraw
    unit_name: str
    estimates: DrawEstimates


DASHBOARD_DRAWS = 5


def for_dashboard(session: Session, unit: Unit, since: date, until: date) -> list[DashboardEntry]:
    """The reports dashboard's sampled-survey block: the latest draw of each design made for the unit
    or a unit below it whose period overlaps the dashboard's (newest first, at most DASHBOARD_DRAWS).
    A design made higher up is not shown: its estimate speaks for the wider area, not this unit."""
    latest = (select(func.max(SampleDraw.id)).join(SampleDesign, SampleDesign.id == SampleDraw.design_id)
              .join(Unit, Unit.id == SampleDesign.unit_id)
              .where(Unit.path.startswith(unit.path), SampleDesign.period_start <= until, SampleDesign.period_end >= since)
              .group_by(SampleDraw.design_id))
    draws = session.scalars(select(SampleDraw).where(SampleDraw.id.in_(latest))
                            .order_by(SampleDraw.id.desc()).limit(DASHBOARD_DRAWS)).all()
    return [DashboardEntry(d, d.design.unit.name, for_draw(session, d)) for d in draws]
