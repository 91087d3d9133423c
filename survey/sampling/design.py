"""Sample designs: the size calculator, the allocation across strata and the preview per
stratum (N_h, n_h, expected margin of error), all before anything is drawn.

Sizes come from analysis.sampling (Cochran with finite-population correction by default,
Yamane as the Ministry variant), multiplied by the design effect and divided by the expected
response rate, rounded up once at the end. Allocation is proportional, equal, Neyman, or a fixed
quota per unit (spread over the unit's fields in proportion), with a minimum per stratum; never
above a stratum's size; largest-remainder rounding.

Neyman allocates n_h ∝ N_h·S_h with S_h = sqrt(p_h(1 − p_h)), p_h the stratum's share satisfied in
the previous period of equal length (the overall satisfaction item, code 4–5 of 1–5, as reports
count it; every unflagged response of the stratum's unit and field, counter feedback or sampled).
A stratum with fewer than MIN_N such answers takes p = 0.5 (the largest S_h) and the preview
says so; p is kept within [5%, 95%] so a stratum that was unanimous last time still gets forms.
The basis is frozen in the design (`neyman_basis`), so `sample verify` re-derives the same n_h.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from analysis.inference import MIN_N, z_value
from analysis.sampling import allocate, cochran, yamane

from .. import catalog
from ..i18n import N_, VIETNAM, _, format_number, format_pct
from ..models import (
    Answer,
    Field,
    FrameDossier,
    QuestionnaireVersion,
    Response,
    ResponseFlag,
    SampleDesign,
    Unit,
)

STRATA = {"unit_field": N_("Đơn vị × lĩnh vực"), "unit": N_("Đơn vị"), "field": N_("Lĩnh vực")}
FORMULAS = {"cochran": N_("Cochran (hiệu chỉnh tổng thể hữu hạn)"), "yamane": N_("Yamane (hướng dẫn của Bộ Nội vụ)")}
ALLOCATIONS = {"proportional": N_("Tỷ lệ với số hồ sơ"), "equal": N_("Bằng nhau giữa các tầng"),
               "quota": N_("Chỉ tiêu cố định mỗi đơn vị"),
               "neyman": N_("Neyman (theo tỷ lệ hài lòng kỳ trước của từng tầng)")}
ANY = "*"


class DesignError(ValueError):
    """Parameters that cannot make a design; the message is translated and names the field."""


@dataclass
class Params:
    unit: Unit
    period_start: date
    period_end: date
    strata: str = "unit_field"
    formula: str = "cochran"
    confidence: float = 0.95
    margin: float = 0.05
    proportion: float = 0.5
    response_rate: float = 1.0
    design_effect: float = 1.0
    allocation: str = "proportional"
    minimum: int = 0
    quota: int | None = None
    total: int | None = None
    # Neyman: stratum "unit|field" → [p, answers last period, fell back to 0.5]; filled by preview()
    neyman_basis: dict[str, list] | None = None

    def check(self) -> None:
        problems = []
        if self.period_end < self.period_start:
            problems.append(_("Kỳ khảo sát: ngày kết thúc trước ngày bắt đầu."))
        if self.strata not in STRATA:
            problems.append(_("Cách chia tầng không hợp lệ."))
        if self.formula not in FORMULAS:
            problems.append(_("Công thức cỡ mẫu không hợp lệ."))
        if self.allocation not in ALLOCATIONS:
            problems.append(_("Cách phân bổ không hợp lệ."))
        if not 0.5 <= self.confidence < 1:
            problems.append(_("Độ tin cậy phải từ 50% đến dưới 100% (thường là 95%)."))
        if not 0 < self.margin < 0.5:
            problems.append(_("Sai số cho phép phải lớn hơn 0 và nhỏ hơn 50 điểm phần trăm (thường là 5)."))
        if not 0 < self.proportion < 1:
            problems.append(_("Tỷ lệ kỳ vọng phải lớn hơn 0% và nhỏ hơn 100% (chưa biết thì dùng 50%)."))
        if not 0 < self.response_rate <= 1:
            problems.append(_("Tỷ lệ trả lời kỳ vọng phải lớn hơn 0% và không quá 100%."))
        if not 1 <= self.design_effect <= 10:
            problems.append(_("Hiệu ứng thiết kế phải từ 1 đến 10."))
        if self.minimum < 0:
            problems.append(_("Số tối thiểu mỗi tầng không được âm."))
        if self.allocation == "quota" and not (self.quota and self.quota > 0):
            problems.append(_("Phân bổ theo chỉ tiêu cần số phiếu mỗi đơn vị (ví dụ 90)."))
        if self.total is not None and self.total <= 0:
            problems.append(_("Cỡ mẫu nhập tay phải là số dương."))
        if problems:
            raise DesignError(" ".join(problems))

    @classmethod
    def of(cls, design: SampleDesign) -> Params:
        return cls(design.unit, design.period_start, design.period_end, design.strata, design.formula,
                   design.confidence, design.margin, design.proportion, design.response_rate, design.design_effect,
                   design.allocation, design.minimum, design.quota, design.total,
                   json.loads(design.neyman_basis) if design.neyman_basis else None)


def required_size(N: int, *, formula: str = "cochran", confidence: float = 0.95, margin: float = 0.05,
                  proportion: float = 0.5, response_rate: float = 1.0, design_effect: float = 1.0) -> int:
    """Forms to send for a population of N: the formula's n × design effect ÷ response rate,
    rounded up once, at most N. With the defaults this is analysis.sampling.sample_size."""
    if N <= 0:
        return 0
    n = cochran(N, e=margin, p=proportion, level=confidence) if formula == "cochran" else yamane(N, e=margin)
    return min(math.ceil(n * design_effect / response_rate - 1e-9), N)


def expected_margin(N_h: int, n_h: int, p: Params) -> float | None:
    """Half-width of the stratum's 95%-style interval at the expected number of answers, with the
    finite-population correction and the design effect; None when nobody is expected to answer."""
    m = n_h * p.response_rate
    if m < 1 or N_h <= 0:
        return None
    fpc = max(N_h - m, 0) / (N_h - 1) if N_h > 1 else 0.0
    return z_value(p.confidence) * math.sqrt(p.design_effect * p.proportion * (1 - p.proportion) / m * fpc)


def strata_counts(session: Session, p: Params) -> pd.DataFrame:
    """N_h of every non-empty stratum of the frame in the period and subtree: columns unit, field, N."""
    stmt = (select(Unit.code, Field.code, func.count()).select_from(FrameDossier)
            .join(Unit, Unit.id == FrameDossier.unit_id).join(Field, Field.id == FrameDossier.field_id)
            .where(Unit.path.startswith(p.unit.path), FrameDossier.completed_on >= p.period_start,
                   FrameDossier.completed_on <= p.period_end)
            .group_by(Unit.code, Field.code))
    frame = pd.DataFrame(session.execute(stmt).all(), columns=["unit", "field", "N"])
    if p.strata == "unit":
        frame = frame.assign(field=ANY)
    elif p.strata == "field":
        frame = frame.assign(unit=ANY)
    return frame.groupby(["unit", "field"], as_index=False)["N"].sum().sort_values(["unit", "field"], ignore_index=True)


@dataclass
class Preview:
    strata: pd.DataFrame  # unit, field, N, n (forms to send), margin (expected, or None)
    population: int
    size: int  # the total the formula (or the hand-set total) asked for
    total: int  # what the allocation gives (more than size when minimums win, less when strata are small)
    params: Params | None = None


def allocation(counts: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Add n to the strata table."""
    if counts.empty:
        return counts.assign(n=pd.Series(dtype="int64"))
    population = int(counts["N"].sum())
    if p.allocation == "quota":
        parts = []
        for _unit, group in counts.groupby("unit", sort=True):
            want = min(int(p.quota or 0), int(group["N"].sum()))
            parts.append(allocate(group, want, method="proportional", minimum=p.minimum))
        out = pd.concat(parts, ignore_index=True)
    else:
        size = p.total if p.total is not None else required_size(
            population, formula=p.formula, confidence=p.confidence, margin=p.margin, proportion=p.proportion,
            response_rate=p.response_rate, design_effect=p.design_effect)
        if p.allocation == "neyman":
            basis = p.neyman_basis or {}
            counts = counts.assign(sd=[neyman_sd(basis.get(f"{u}|{f}")) for u, f in zip(counts["unit"], counts["field"])])
        out = allocate(counts, min(size, population), method=p.allocation, minimum=p.minimum)
    return out.rename(columns={"n_h": "n"}).sort_values(["unit", "field"], ignore_index=True)


P_FLOOR, P_CEIL = 0.05, 0.95


def neyman_sd(entry: list | None) -> float:
    """S_h = sqrt(p(1 − p)) of a basis entry; p = 0.5 when the stratum has no entry."""
    p = entry[0] if entry else 0.5
    return math.sqrt(p * (1 - p))


def basis_note(row) -> str:
    """What a Neyman preview row's S_h rests on, in words (pages and the CLI)."""
    if row.fallback:
        return _("chưa đủ số liệu kỳ trước ({n} phiếu): dùng 50%", n=format_number(row.n_prev, 0))
    return _("{p} trên {n} phiếu", p=format_pct(row.p_prev * 100), n=format_number(row.n_prev, 0))


def previous_period(p: Params) -> tuple[date, date]:
    """The period of equal length just before the design's."""
    days = (p.period_end - p.period_start).days + 1
    return p.period_start - timedelta(days=days), p.period_start - timedelta(days=1)


def last_period_basis(session: Session, p: Params, strata: pd.DataFrame) -> dict[str, list]:
    """Per stratum of `strata`: [p, answers, fallback] from the previous period's responses of the
    stratum's unit and field on the overall satisfaction item (see the module doc)."""
    since, until = previous_period(p)
    start = datetime.combine(since, time.min, VIETNAM)
    end = datetime.combine(until + timedelta(days=1), time.min, VIETNAM)
    flagged = exists().where(ResponseFlag.response_id == Response.id)
    satisfied = (Answer.code >= 4).label("satisfied")
    rows = session.execute(
        select(Response.version_id, Answer.item_key, Unit.code, Field.code, satisfied, func.count())
        .join(Answer, Answer.response_id == Response.id).join(Unit, Unit.id == Response.unit_id)
        .join(Field, Field.id == Response.field_id)
        .where(Response.submitted_at >= start, Response.submitted_at < end, Unit.path.startswith(p.unit.path),
               Answer.code >= 1, Answer.code <= 5, ~flagged)
        .group_by(Response.version_id, Answer.item_key, Unit.code, Field.code, satisfied)).all()
    overall: dict[int, str | None] = {}
    for vid in {r[0] for r in rows}:
        q = catalog.definition(session.get(QuestionnaireVersion, vid))
        overall[vid] = q.rollup.overall_item if q.rollup else None
    tally: dict[str, list[int]] = {}
    for vid, item, unit, fld, sat, n in rows:
        if item != overall[vid]:
            continue
        key = f"{ANY if p.strata == 'field' else unit}|{ANY if p.strata == 'unit' else fld}"
        t = tally.setdefault(key, [0, 0])
        t[0] += n * bool(sat)
        t[1] += n
    basis = {}
    for u, f in zip(strata["unit"], strata["field"]):
        yes, n = tally.get(f"{u}|{f}", [0, 0])
        fallback = n < MIN_N
        share = 0.5 if fallback else min(max(yes / n, P_FLOOR), P_CEIL)
        basis[f"{u}|{f}"] = [share, n, fallback]
    return basis


def preview(session: Session, p: Params) -> Preview:
    p.check()
    counts = strata_counts(session, p)
    if p.allocation == "neyman" and p.neyman_basis is None:
        p.neyman_basis = last_period_basis(session, p, counts)
    table = allocation(counts, p)
    if p.allocation == "neyman":
        basis = p.neyman_basis or {}
        entries = [basis.get(f"{u}|{f}") or [0.5, 0, True] for u, f in zip(table["unit"], table["field"])]
        table["p_prev"] = [e[0] for e in entries]
        table["n_prev"] = [e[1] for e in entries]
        table["fallback"] = [bool(e[2]) for e in entries]
    table["margin"] = [expected_margin(int(N), int(n), p) for N, n in zip(table["N"], table["n"])]
    population = int(counts["N"].sum()) if not counts.empty else 0
    size = (int(p.quota or 0) * counts["unit"].nunique() if p.allocation == "quota"
            else p.total if p.total is not None
            else required_size(population, formula=p.formula, confidence=p.confidence, margin=p.margin,
                               proportion=p.proportion, response_rate=p.response_rate, design_effect=p.design_effect))
    return Preview(table, population, size, int(table["n"].sum()) if not table.empty else 0, p)


def save(session: Session, p: Params, actor_login: str | None) -> SampleDesign:
    p.check()
    design = SampleDesign(
        unit_id=p.unit.id, period_start=p.period_start, period_end=p.period_end, strata=p.strata, formula=p.formula,
        confidence=p.confidence, margin=p.margin, proportion=p.proportion, response_rate=p.response_rate,
        design_effect=p.design_effect, allocation=p.allocation, minimum=p.minimum, quota=p.quota, total=p.total,
        neyman_basis=json.dumps(p.neyman_basis or last_period_basis(session, p, strata_counts(session, p)))
        if p.allocation == "neyman" else None, actor_login=actor_login)
    session.add(design)
    session.flush()
    return design
