"""The Home Affairs dashboard as plain data: filters in, field table, elements, units out.

One standard report per instrument (questionnaire) over unit × field × period, covering the
chosen period and the one before it, so a page costs one maintained-counts read per instrument
(README: Benchmarks). Every row comes from one instrument and one source: different
questionnaires, and counter feedback against the sampled survey, are side by side and never
pooled. The target a row is judged against is the one in force for the whole period, in the
scope closest to the chosen unit; the verdict is the engine's exact binomial test
(analysis.inference), the change since the previous period a Newcombe interval.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis import figures as fig
from analysis.figures import ALL
from analysis.inference import (
    MIN_N,
    difference_verdict,
    newcombe_interval,
    verdict,
)
from analysis.targets import INDICATORS, KIND_INDICATORS, Target
from questionnaires.loader import Questionnaire

from .. import catalog
from ..i18n import N_, _, format_time
from ..models import (
    Field,
    FrameDossier,
    Procedure,
    QuestionnaireVersion,
    Response,
    Unit,
)
from . import targets as targets_store
from .breakdowns import breakdown, respondent_minimums
from .counts import VN, refresh
from .selection import (
    UNTAGGED,
    ReportError,
    Scope,
    Selection,
    label_groups,
    split_range,
    unit_tree,
)
from .standard import (
    answered_versions,
    comparable_structure,
    counts_frame,
    standard_report,
    stored_cells,
)

PERIOD_KINDS = ("month", "quarter", "year", "custom")
FREQ = {"month": "M", "quarter": "Q", "year": "Y"}
SOURCE_LABELS = {"feedback": N_("Góp ý tại quầy (tự nguyện)"), "sample": N_("Khảo sát chọn mẫu")}
CHANNELS = {"counter": N_("Tại quầy"), "dossier": N_("Phiếu hẹn (mã QR hồ sơ)"), "web": N_("Trực tuyến"),
            "paper": N_("Phiếu giấy"), "phone": N_("Điện thoại"), "post": N_("Bưu điện")}
MEASURE_LABELS = {"overall_item": N_("Câu hỏi hài lòng chung"), "overall_index": N_("Chỉ số hài lòng (các yếu tố)"),
                  "comprehensive": N_("Hài lòng toàn diện")}
VERDICT_LABELS = {"dat": N_("Đạt"), "khong_dat": N_("Không đạt"), "chua_du_co_so": N_("Chưa đủ cơ sở kết luận"),
                  "chua_du_du_lieu": N_("Chưa đủ dữ liệu")}
COVERAGE_NOTE = N_("Độ bao phủ: số phiếu góp ý tại quầy (n) chia cho số hồ sơ đã giải quyết xong trong kỳ của đơn vị "
                   "và lĩnh vực đó, đếm từ danh sách hồ sơ đã nhập để chọn mẫu (khung mẫu). Lĩnh vực hoặc kỳ chưa nhập "
                   "danh sách hồ sơ: Chưa có số liệu hồ sơ. Khảo sát chọn mẫu không tính độ bao phủ.")
# questionnaire kind → the field its figures stand for when the responses carry none (service questionnaires)
KIND_FIELD = {"health": "y-te", "education": "giao-duc"}
ADMINISTRATIVE = ("sipas", "sipas-2023", "counter")
MAX_DAYS = 3 * 366 + 1  # a custom range longer than three years is a typing error, not a report


class DashboardError(ValueError):
    """A filter the dashboard cannot answer; the message is translated and names the fix."""


@dataclass(frozen=True)
class Period:
    """Inclusive Vietnam-time days; `kind` month/quarter/year follow the calendar."""

    kind: str
    since: date
    until: date

    @property
    def freq(self) -> str | None:
        return FREQ.get(self.kind)

    @property
    def label(self) -> str:
        if self.kind == "month":
            return _("Tháng {m:02d}/{y}", m=self.since.month, y=self.since.year)
        if self.kind == "quarter":
            return _("Quý {q}/{y}", q=("I", "II", "III", "IV")[(self.since.month - 1) // 3], y=self.since.year)
        if self.kind == "year":
            return _("Năm {y}", y=self.since.year)
        return f"{self.since:%d/%m/%Y} – {self.until:%d/%m/%Y}"

    @property
    def value(self) -> str:
        """The period as the filter form writes it (2025-03, 2025-Q1, 2025)."""
        if self.kind == "month":
            return f"{self.since:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.since.year}-Q{(self.since.month - 1) // 3 + 1}"
        return str(self.since.year)

    def previous(self) -> Period:
        """The period just before: the previous month, quarter or year, or as many days before a custom range."""
        if self.kind in FREQ:
            p = pd.Period(self.since, freq=self.freq) - 1
            return Period(self.kind, p.start_time.date(), p.end_time.date())
        days = (self.until - self.since).days + 1
        return Period("custom", self.since - timedelta(days=days), self.since - timedelta(days=1))


def _day(text: str, name: str) -> date:
    try:
        day, month, year = (int(part) for part in text.strip().split("/"))
        return date(year, month, day)
    except ValueError:
        raise DashboardError(_("Ngày “{value}” ở ô {name} không hợp lệ: nhập theo dạng dd/mm/yyyy, ví dụ 21/11/2026.",
                               value=text[:40], name=name)) from None


def parse_period(kind: str, value: str = "", since: str = "", until: str = "", today: date | None = None) -> Period:
    """The period filter as the form sends it; an empty value means the current month/quarter/year."""
    today = today or date.today()
    if kind not in PERIOD_KINDS:
        raise DashboardError(_("Loại kỳ báo cáo không hợp lệ: chọn tháng, quý, năm hoặc khoảng ngày."))
    if kind == "custom":
        if not since or not until:
            raise DashboardError(_("Khoảng ngày cần cả ngày bắt đầu và ngày kết thúc (dd/mm/yyyy)."))
        first, last = _day(since, _("Từ ngày")), _day(until, _("Đến ngày"))
        if last < first:
            raise DashboardError(_("Khoảng ngày kết thúc ({until}) trước khi bắt đầu ({since}): hãy đổi lại hai ngày.",
                                   since=f"{first:%d/%m/%Y}", until=f"{last:%d/%m/%Y}"))
        if (last - first).days > MAX_DAYS:
            raise DashboardError(_("Khoảng ngày dài quá ba năm: hãy chọn khoảng ngắn hơn hoặc xem theo năm."))
        return Period("custom", first, last)
    freq = FREQ[kind]
    try:
        p = pd.Period(value.strip(), freq=freq) if value.strip() else pd.Period(today, freq=freq)
    except (ValueError, TypeError):
        examples = {"month": "2025-03", "quarter": "2025-Q1", "year": "2025"}
        raise DashboardError(_("Kỳ “{value}” không hợp lệ: nhập theo dạng {example}.", value=value[:40],
                               example=examples[kind])) from None
    if not 2000 <= p.year <= 2100:
        raise DashboardError(_("Năm {year} nằm ngoài khoảng 2000–2100.", year=p.year))
    return Period(kind, p.start_time.date(), p.end_time.date())


@dataclass(frozen=True)
class Filters:
    """What the dashboard shows: a period, a unit subtree (code) and optional narrowing."""

    period: Period
    unit: str
    field: str | None = None
    questionnaire: str | None = None
    channel: str | None = None
    source: str | None = None
    procedure: str | None = None  # a procedure code (registry); answered on the exact path (fast_path)


@dataclass
class Figure:
    n: int = 0
    n_eff: float = 0.0
    pct: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n_excluded: int = 0


@dataclass
class FieldRow:
    """One line of the field table: one instrument, one source, one field, one measure."""

    instrument: str
    instrument_title: str
    kind: str
    source: str
    field: str
    field_name: str
    measure: str
    current: Figure
    previous: Figure
    target: Target | None = None
    verdict: str = "chua_du_du_lieu"
    p_value: float | None = None
    more_needed: int | None = None
    diff: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None
    other_targets: list[str] = field(default_factory=list)
    dossiers: int | None = None  # completed dossiers of the field in the period (frame imports); None = not known
    coverage: float | None = None  # counter feedback n ÷ dossiers, in percent; None = no dossier counts

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict] if self.target else N_("Chưa có chỉ tiêu cho kỳ này")


@dataclass
class UnitRow:
    unit: str
    name: str
    depth: int
    source: str
    figure: Figure
    dossiers: int | None = None  # completed dossiers of the unit's subtree (attach_unit_coverage)
    coverage: float | None = None

    @property
    def suppressed(self) -> bool:
        return self.figure.n < MIN_N


@dataclass
class TrendPoint:
    """One period of the trend: the focus instrument's measure for one source (never pooled)."""

    period: Period
    source: str
    measure: str
    figure: Figure


@dataclass(frozen=True)
class UnitInfo:
    """The chosen unit as plain data: a built dashboard outlives the session that read it (build_cached)."""

    id: int
    code: str
    name: str
    path: str
    parent_id: int | None


@dataclass
class Dashboard:
    filters: Filters
    unit: UnitInfo
    instruments: list[Questionnaire]
    fields: list[FieldRow]
    focus: Questionnaire | None  # the instrument whose elements, criteria and units are shown
    criteria: pd.DataFrame  # level, element, item, label, source, n, pct, ci, distribution n1..n5
    units: list[UnitRow]
    funnel_target: float | None
    excluded: dict[str, int]
    targets_origin: TargetsOrigin
    trend: list[TrendPoint] = field(default_factory=list)  # the focus measure per period, oldest first
    trend_note: str = ""  # why there is no trend (a custom range, a channel filter), else empty


def instruments(session: Session) -> list[Questionnaire]:
    """Published questionnaires that have satisfaction criteria (what a field table can be made of)."""
    out = [catalog.definition(v) for v in catalog.list_latest(session)]
    return [q for q in out if q.criteria and q.rollup is not None]


def _figure(row: pd.Series | dict | None) -> Figure:
    if row is None:
        return Figure()
    number = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
    return Figure(int(row["n"]), float(row["n_eff"]), number(row["pct"]), number(row["ci_low"]),
                  number(row["ci_high"]), int(row.get("n_excluded", 0) or 0))


def _counts(fig: Figure) -> tuple[float, float]:
    """Whole counts for the exact tests, as the engine takes them (analysis.targets._test_counts)."""
    n = math.floor(fig.n_eff + 1e-9)
    return round((fig.pct or 0) / 100 * n), n


def applicable_targets(targets: Sequence[Target], kind: str, field_code: str, measure_rows: Sequence[str],
                       period: Period, ancestors: Sequence[str], channel: str | None) -> list[Target]:
    """Targets in force over the whole period for this unit (or an ancestor), field and instrument kind.

    A field-total row ('all') takes only all-field targets, a field row only its own field's
    (analysis.targets: "TTHC ≥ 90%" is never judged on the land field alone)."""
    indicators = KIND_INDICATORS.get(kind, ())
    out = []
    for t in targets:
        if t.indicator not in indicators or t.measure not in measure_rows:
            continue
        if (t.field if t.field != ALL else ALL) != field_code:
            continue
        if t.channel and t.channel != channel:
            continue
        if t.scope != ALL and t.scope not in ancestors:
            continue
        if not (pd.Timestamp(period.since) >= t.start and pd.Timestamp(period.until) <= t.end):
            continue
        out.append(t)
    depth = {code: i for i, code in enumerate(ancestors)}  # ancestors: the unit first, the root last
    return sorted(out, key=lambda t: (depth.get(t.scope, len(ancestors)), t.comparator == "higher_than_previous",
                                      -(t.threshold or 0), t.id))


def _ancestors(session: Session, unit: Unit) -> list[str]:
    codes = []
    node: Unit | None = unit
    while node is not None:
        codes.append(node.code)
        node = node.parent
    return codes


def _report(session: Session, q: Questionnaire, f: Filters, since: date, until: date, freq: str | None,
            by_unit: bool = False) -> pd.DataFrame:
    """Figures of the subtree by field (and period), or by unit of the subtree (rolled up the tree).

    The field table needs the subtree's totals only, so it asks for no unit dimension: its cells
    are fields × periods, not units × fields × periods."""
    by = ((["unit"] if by_unit else ["field"]) + (["period"] if freq else []) + (["channel"] if f.channel else [])
          + (["procedure"] if f.procedure else []))
    sel = Selection(q.key, since=since, until=until, unit=f.unit, field=f.field, source=f.source, by=tuple(by),
                    period=freq or "M")
    figures = standard_report(session, sel, targets=()).figures
    if f.channel and len(figures):
        figures = figures[figures["channel"].astype("object") == f.channel]
    if f.procedure and len(figures):  # grouped by procedure, so one procedure's rows are its own figures
        figures = figures[figures["procedure"].astype("object") == f.procedure]
    if "unit" not in figures:
        figures = figures.assign(unit=f.unit)
    if "field" not in figures:
        figures = figures.assign(field=f.field or ALL)
    return figures


def _split_periods(session: Session, q: Questionnaire, f: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(current, previous) figures: one report over both periods, or two for a custom range."""
    cur, prev = f.period, f.period.previous()
    if cur.freq:
        both = _report(session, q, f, prev.since, cur.until, cur.freq)
        if both.empty:
            return both, both
        label = both["period"].astype(str)
        return both[label == str(pd.Period(cur.since, cur.freq))], both[label == str(pd.Period(prev.since, cur.freq))]
    return _report(session, q, f, cur.since, cur.until, None), _report(session, q, f, prev.since, prev.until, None)


def _answered(session: Session, q: Questionnaire, f: Filters, unit: Unit) -> bool:
    """Whether the instrument has any response in the subtree over both periods: an index probe,
    so instruments nobody answered there cost nothing."""
    since = f.period.previous().since
    start = datetime(since.year, since.month, since.day, tzinfo=VN)
    end = datetime(f.period.until.year, f.period.until.month, f.period.until.day, tzinfo=VN) + timedelta(days=1)
    versions = select(QuestionnaireVersion.id).where(QuestionnaireVersion.key == q.key)
    probe = (select(Response.id).where(Response.version_id.in_(versions), Response.submitted_at >= start,
                                       Response.submitted_at < end,
                                       Response.unit_id.in_(select(Unit.id).where(Unit.path.startswith(unit.path))))
             .limit(1))
    return session.scalar(probe) is not None


def _field_names(session: Session) -> dict[str, str]:
    return {**dict(session.execute(select(Field.code, Field.name_vi)).all()), ALL: "Tất cả lĩnh vực",
            UNTAGGED: "Không gắn lĩnh vực"}


def field_rows(session: Session, q: Questionnaire, f: Filters, current: pd.DataFrame, previous: pd.DataFrame,
               targets: Sequence[Target], ancestors: list[str], names: dict[str, str]) -> list[FieldRow]:
    """The field table lines of one instrument, judged against the targets in force."""
    rows: list[FieldRow] = []
    now_at = _measure_rows(current, f.unit)
    if not now_at:
        return rows
    then_at = _measure_rows(previous, f.unit) if len(previous) else {}
    service = q.kind in KIND_FIELD
    default = INDICATORS[KIND_INDICATORS[q.kind][0]] if q.kind in KIND_INDICATORS else "overall_item"
    groups: dict[tuple[str, str], set[str]] = {}
    for level, source, field_code in now_at:
        groups.setdefault((source, field_code), set()).add(level)
    for (source, field_code), levels in sorted(groups.items()):
        if service and field_code != ALL:
            continue  # a health or education questionnaire is its field: its total is the row
        if not service and f.field and field_code == ALL:
            continue  # one field chosen: its total is the field's own row
        shown_field = KIND_FIELD[q.kind] if service else field_code
        found = applicable_targets(targets, q.kind, field_code, sorted(levels), f.period, ancestors, f.channel)
        fallback = default if service or field_code == ALL else "overall_item"
        measures = list(dict.fromkeys(t.measure for t in found)) or ([fallback] if fallback in levels else sorted(levels)[:1])
        for measure in measures:
            key = (measure, source, field_code)
            row = FieldRow(q.key, q.title.vi, q.kind, source, shown_field, names.get(shown_field, shown_field), measure,
                           _figure(now_at.get(key)), _figure(then_at.get(key)))
            for_measure = [t for t in found if t.measure == measure]
            if for_measure:
                row.target = for_measure[0]
                row.other_targets = [t.id for t in for_measure[1:]]
            judge(row)
            rows.append(row)
    return rows


def _measure_rows(figures: pd.DataFrame, unit: str) -> dict[tuple[str, str, str], dict]:
    """(level, source, field) → the first figure row of the unit on a field-table measure."""
    mine = figures[(figures["unit"].astype("object") == unit) & figures["level"].isin(MEASURE_LABELS)]
    columns = [c for c in ("level", "source", "field", "n", "n_eff", "pct", "ci_low", "ci_high", "n_excluded") if c in mine]
    out: dict[tuple[str, str, str], dict] = {}
    for r in mine[columns].astype({"source": "object", "field": "object"}).to_dict("records"):
        out.setdefault((r["level"], r["source"], r["field"]), r)
    return out


def judge(row: FieldRow) -> None:
    """Verdict against the row's target and the change since the previous period (in place)."""
    x1, n1 = _counts(row.current)
    x0, n0 = _counts(row.previous)
    if n1 > 0 and n0 > 0 and row.current.pct is not None and row.previous.pct is not None:
        d, lo, hi = newcombe_interval(x1, n1, x0, n0)
        row.diff, row.diff_low, row.diff_high = 100 * float(d), 100 * float(lo), 100 * float(hi)
    t = row.target
    if t is None:
        return
    if t.comparator == "higher_than_previous":
        v = difference_verdict(x1, n1, x0, n0 if n0 > 0 else np.nan).iloc[0]
    else:
        v = verdict(x1, n1, t.threshold / 100).iloc[0] if n1 > 0 else None
        if v is not None:
            row.p_value = None if pd.isna(v["p_value"]) else float(v["p_value"])
            row.more_needed = None if pd.isna(v["more_needed"]) else int(v["more_needed"])
    row.verdict = "chua_du_du_lieu" if v is None else str(v["verdict"])


def criteria_table(session: Session, q: Questionnaire, f: Filters, current: pd.DataFrame,
                   counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Elements and criteria of one instrument for the chosen unit (all fields or the chosen one), with
    the distribution of answers 1–5 that the diverging bars draw, read from the maintained counts
    (or taken from `counts`, the chosen period's cells when the caller read them already)."""
    field_code = f.field or ALL
    rows = current[(current["unit"].astype("object") == f.unit) & (current["field"].astype("object") == field_code)
                   & current["level"].isin(("criterion", "element"))]
    if rows.empty:
        return pd.DataFrame(columns=["level", "element", "item", "label", "source", "n", "pct", "ci_low", "ci_high",
                                     "n1", "n2", "n3", "n4", "n5"])
    if counts is None:
        sel = Selection(q.key, since=f.period.since, until=f.period.until, unit=f.unit, field=f.field, source=f.source,
                        by=())
        tags = [tag for tag, value in (("channel", f.channel), ("procedure", f.procedure)) if value]
        if tags:  # the maintained counts carry neither tag: the exact path, as the figures took (fast_path)
            counts = breakdown(session, sel, by=tags)
            for tag in tags:
                counts = counts[counts[tag].astype("object") == getattr(f, tag)]
        else:
            counts = counts_frame(session, sel, refresh_first=False, flagged_codes=False)
    counts = counts[counts["flag_reason"].isna() & counts["code"].between(1, 5)]
    dist = counts.groupby([counts["source"].astype("object"), "item", "code"])["n"].sum().unstack("code", fill_value=0)
    dist = dist.reindex(columns=range(1, 6), fill_value=0).rename(columns=lambda c: f"n{c}").reset_index()
    element_of = {row["item"]: row["element"] for row in q.structure()}
    dist["element"] = dist["item"].map(element_of)
    by_element = dist.dropna(subset=["element"]).groupby(["source", "element"])[[f"n{c}" for c in range(1, 6)]].sum().reset_index()
    titles = {s.key: s.title.vi for s in q.sections}
    labels = {i.key: (f"{i.ref}. " if i.ref else "") + i.label.vi for i in q.items}
    out = rows[["level", "element", "item", "source", "n", "pct", "ci_low", "ci_high"]].copy()
    out["source"] = out["source"].astype("object")
    out["element"] = out["element"].astype("object")
    out["label"] = np.where(out["level"] == "element", out["element"].map(titles), out["item"].astype("object").map(labels))
    crit = out[out["level"] == "criterion"].merge(dist.drop(columns="element"), on=["source", "item"], how="left")
    elem = out[out["level"] == "element"].merge(by_element, on=["source", "element"], how="left")
    order = {s.key: i for i, s in enumerate(q.sections)}
    items = {k: i for i, k in enumerate(element_of)}
    table = pd.concat([elem, crit], ignore_index=True)
    table["_e"] = table["element"].map(order)
    table["_i"] = np.where(table["level"] == "element", -1, table["item"].map(items).fillna(0))
    table = table.sort_values(["source", "_e", "_i"]).drop(columns=["_e", "_i"]).reset_index(drop=True)
    for c in range(1, 6):
        table[f"n{c}"] = table[f"n{c}"].fillna(0).astype(int)
    return table


def unit_rows(session: Session, f: Filters, current: pd.DataFrame, unit: Unit, measure: str) -> list[UnitRow]:
    """Units of the subtree on the focus measure (all fields or the chosen one); small ones are kept but marked."""
    field_code = f.field or ALL
    rows = current[(current["field"].astype("object") == field_code) & (current["level"] == measure)]
    if rows.empty:
        return []
    units = {u.code: u for u in session.scalars(select(Unit).where(Unit.path.startswith(unit.path)))}
    base = unit.path.count("/")
    out = []
    for r in rows.to_dict("records"):
        code = str(r["unit"])
        if code not in units:
            continue
        u = units[code]
        out.append(UnitRow(code, u.name, u.path.count("/") - base, str(r["source"]), _figure(r)))
    return sorted(out, key=lambda r: (r.source, units[r.unit].path))


# ---------------------------------------------------------------- one read for every instrument
#
# A month, quarter or year without a channel filter is answered from the maintained counts alone,
# so the field table of every instrument comes from one grouped read (version × month × field ×
# source × item × code) and one run of the analysis pipeline per instrument, instead of one
# standard report per instrument with its own reads, refresh check and exclusion counts (the
# dashboard shows n_excluded from the figures, never the exclusion table). The figures are the
# engine's: tests/reporting/test_dashboard_fast.py compares them with standard_report.


def fast_path(f: Filters) -> bool:
    """Whether the filters can be answered from the maintained counts in one read (whole months, no channel,
    no procedure). answer_counts is keyed by version × month × unit × field × source (counts.py) and carries
    neither channel nor procedure, so those filters take the slower exact path (standard_report grouped by
    the tag, then the one value kept)."""
    return f.period.freq is not None and not f.channel and not f.procedure


@dataclass
class Window:
    """The maintained counts of every chosen instrument over the chosen and previous periods."""

    counts: pd.DataFrame  # label_groups output plus the raw version id; periods of the filter's kind
    scopes: dict[str, Scope]  # instrument key → its scope over the window
    present: set[int]  # version ids with responses in the window


def read_window(session: Session, chosen: Sequence[Questionnaire], f: Filters, unit: Unit) -> Window:
    """One grouped read of answer_counts for every chosen instrument (the caller refreshed them)."""
    since, until, freq = f.period.previous().since, f.period.until, f.period.freq or "M"
    rows = session.scalars(select(QuestionnaireVersion).where(QuestionnaireVersion.key.in_([q.key for q in chosen]))
                           .order_by(QuestionnaireVersion.key, QuestionnaireVersion.version)).all()
    field_id = session.scalar(select(Field.id).where(Field.code == f.field)) if f.field else None
    unit_ids = select(Unit.id).where(Unit.path.startswith(unit.path))

    def scope(key: str, q: Questionnaire, versions: Sequence[QuestionnaireVersion]) -> Scope:
        sel = Selection(key, since=since, until=until, unit=f.unit, field=f.field, source=f.source,
                        by=("field", "period"), period=freq)
        return Scope(sel, q, tuple(versions), unit_ids, field_id)

    scopes = {q.key: scope(q.key, q, [v for v in rows if v.key == q.key]) for q in chosen}
    together = scope(",".join(scopes), chosen[0], rows)
    (first, last), edges = split_range(since, until)
    assert not edges, "a month, quarter or year is whole months"
    present = {v.id for v in answered_versions(session, together)}
    items = list(dict.fromkeys(i for s in scopes.values() for i in s.items))
    cells = stored_cells(session, together, ["version", "period", "field"], items, first, last, flagged_codes=False)
    return Window(label_groups(session, cells, together, ["period", "field"]), scopes, present)


def window_figures(session: Session, window: Window, q: Questionnaire) -> pd.DataFrame | None:
    """Figures by field × period of one instrument from the window, as standard_report gives them
    for the same selection (by field, period); None when nobody answered it there."""
    scope = window.scopes[q.key]
    ids = [v.id for v in scope.versions if v.id in window.present]
    if not ids:
        return None
    counts = window.counts
    mine = counts[counts["version"].isin(ids) & counts["item"].isin(scope.items)].drop(columns="version")
    if mine.empty:
        return None
    keys = [c for c in mine.columns if c != "n"]
    mine = mine.groupby(keys, dropna=False, observed=True, sort=False)["n"].sum().reset_index()
    mine["flag_reason"] = mine["flag_reason"].astype("object").where(mine["flag_reason"].notna(), None)
    try:
        structure, rollup, _note = comparable_structure(session, scope, present=[v for v in scope.versions if v.id in ids])
    except ReportError as exc:  # versions that share no criterion: said on the page, not a 500
        raise DashboardError(str(exc)) from None
    dims = ["field", "period"]
    responses = respondent_minimums(session, scope, dims) if q.rollup.comprehensive else None
    return engine_figures(mine, structure, rollup, dims, responses=responses).assign(unit=scope.sel.unit)


def engine_figures(counts: pd.DataFrame, structure, rollup, by: Sequence[str], tree: pd.DataFrame | None = None,
                   responses: pd.DataFrame | None = None) -> pd.DataFrame:
    """The figures of analysis.report.standard_report, the same steps in the same order, without
    its verdicts and exclusion table: the dashboard judges its own rows against the targets in
    force and reads n_excluded off the figures, and those two cost a third of the pipeline."""
    rule, frame = fig.as_rollup(rollup), fig.as_structure(structure)
    items = [*frame["item"], *([rule.overall_item] if rule.overall_item else [])]
    tallies = _regroup(fig.tally(counts, by, items=items), tree)
    figures = fig.all_levels(tallies, frame, rule)
    if responses is not None and rule.comprehensive:
        comp = fig.comprehensive_tally(responses, by, set(frame["item"]))
        comp = fig.comprehensive_rows(_regroup(comp, tree))
        figures = pd.concat([figures, comp.reindex(columns=figures.columns)], ignore_index=True)
    return figures


def _regroup(tallies: pd.DataFrame, tree: pd.DataFrame | None) -> pd.DataFrame:
    """All-field totals and the unit tree's roll-up, as analysis.report does them."""
    if "field" in tallies:
        tallies = fig.add_totals(tallies, "field")
    if tree is not None and "unit" in tallies:
        tallies = fig.roll_up(tallies, tree)
    return tallies


def _comparable(session: Session, q: Questionnaire, f: Filters, unit: Unit, sel: Selection):
    """The scope of a selection over the unit's subtree and the item structure its versions share."""
    versions = session.scalars(select(QuestionnaireVersion).where(QuestionnaireVersion.key == q.key)
                               .order_by(QuestionnaireVersion.version)).all()
    field_id = session.scalar(select(Field.id).where(Field.code == f.field)) if f.field else None
    scope = Scope(sel, q, tuple(versions), select(Unit.id).where(Unit.path.startswith(unit.path)), field_id)
    try:
        structure, rollup, _note = comparable_structure(session, scope)
    except ReportError as exc:
        raise DashboardError(str(exc)) from None
    return scope, structure, rollup


def window_units(session: Session, q: Questionnaire, f: Filters, unit: Unit, measure: str) -> pd.DataFrame | None:
    """The chosen period's figures by unit of the subtree (rolled up the tree) on one measure, from one
    read of the maintained counts; None when the measure needs the respondents (comprehensive)."""
    if measure == "comprehensive":
        return None
    sel = Selection(q.key, since=f.period.since, until=f.period.until, unit=f.unit, field=f.field, source=f.source,
                    by=("unit",), period=f.period.freq or "M")
    scope, structure, rollup = _comparable(session, q, f, unit, sel)
    only_item = measure == "overall_item"
    if only_item and rollup.overall_item is None:
        return pd.DataFrame(columns=["unit", "field", "level", "source"])
    (first, last), _edges = split_range(f.period.since, f.period.until)
    items = [rollup.overall_item] if only_item else scope.items
    cells = stored_cells(session, scope, ["unit"], items, first, last, flagged_codes=False)
    counts = label_groups(session, cells, scope, ["unit"])
    tree = unit_tree(session)
    if only_item:  # all_levels' overall_item rows: the item's tallies with their percentages
        tallies = _regroup(fig.tally(counts, ["unit"], items=items), tree)
        figures = fig.percentages(tallies).assign(level="overall_item")
    else:
        figures = engine_figures(counts, structure, rollup, ["unit"], tree=tree)
    return figures.assign(field=f.field or ALL)


def window_periods(figures: pd.DataFrame, f: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(current, previous) rows of a window's figures."""
    label = figures["period"].astype(str)
    cur, prev = f.period, f.period.previous()
    return figures[label == str(pd.Period(cur.since, cur.freq))], figures[label == str(pd.Period(prev.since, cur.freq))]


def window_distribution(window: Window, q: Questionnaire, f: Filters) -> pd.DataFrame:
    """The chosen period's unflagged answers 1–5 of one instrument, by source × item × code (criteria_table's input)."""
    scope = window.scopes[q.key]
    counts = window.counts
    label = str(pd.Period(f.period.since, f.period.freq))
    ids = [v.id for v in scope.versions]
    return counts[counts["version"].isin(ids) & counts["item"].isin(scope.items)
                  & (counts["period"].astype(str) == label)]


@dataclass(frozen=True)
class TargetsOrigin:
    """Where the targets came from, worded when shown: a cached dashboard serves every language, and a
    frozen report keeps the words of the language it was published in."""
    count: int
    loaded_at: datetime | None  # None: the bundled files, plan_targets being empty

    def __str__(self) -> str:
        if self.loaded_at is None:
            return _("{n} chỉ tiêu từ các tệp targets/*.yaml đi kèm (bảng chỉ tiêu trong cơ sở dữ liệu còn trống: "
                     "nạp bằng `flask --app wsgi targets load`)", n=self.count)
        return _("{n} chỉ tiêu trong cơ sở dữ liệu, nạp lần cuối lúc {time}", n=self.count,
                 time=format_time(self.loaded_at))


_TARGETS: dict[tuple, tuple[tuple[Target, ...], TargetsOrigin]] = {}


def _targets(session: Session) -> tuple[tuple[Target, ...], TargetsOrigin]:
    """report_targets(), parsed once per state of plan_targets (its row count and last load), not per page."""
    from sqlalchemy import func

    from ..models import PlanTarget

    count = session.scalar(select(func.count(PlanTarget.target_id)))
    loaded_at = session.scalar(select(func.max(PlanTarget.loaded_at)))
    key = (str(session.get_bind().url), count, loaded_at)
    if key not in _TARGETS:
        if len(_TARGETS) >= CACHE_SIZE:
            _TARGETS.clear()
        targets, _sentence = targets_store.report_targets(session)
        _TARGETS[key] = targets, TargetsOrigin(len(targets), loaded_at if count else None)
    return _TARGETS[key]


# ---------------------------------------------------------------- trend

TREND_SPAN = {"year": ("month", 12), "quarter": ("quarter", 8), "month": ("month", 12)}


def trend_periods(period: Period) -> list[Period]:
    """The periods a trend shows, oldest first: the months of a chosen year, the last 8 quarters
    up to a chosen quarter, the last 12 months up to a chosen month; none for a custom range."""
    if period.kind not in TREND_SPAN:
        return []
    kind, count = TREND_SPAN[period.kind]
    freq = FREQ[kind]
    last = pd.Period(period.until, freq=freq)
    first = pd.Period(period.since, freq=freq) if period.kind == "year" else last - (count - 1)
    return [Period(kind, p.start_time.date(), p.end_time.date()) for p in pd.period_range(first, last, freq=freq)]


def trend(session: Session, q: Questionnaire, f: Filters, unit: Unit, measure: str) -> list[TrendPoint]:
    """The field table's measure of one instrument per period with its Wilson interval, from one read
    of the maintained counts over the whole span (each period judged on its own figures, as the table)."""
    periods = trend_periods(f.period)
    if not periods:
        return []
    freq = periods[0].freq or "M"
    since, until = periods[0].since, periods[-1].until
    sel = Selection(q.key, since=since, until=until, unit=f.unit, field=f.field, source=f.source,
                    by=("field", "period"), period=freq)
    scope, structure, rollup = _comparable(session, q, f, unit, sel)
    only_item = measure == "overall_item"
    if only_item and rollup.overall_item is None:
        return []
    (first, last), _edges = split_range(since, until)
    items = [rollup.overall_item] if only_item else scope.items
    cells = stored_cells(session, scope, ["period", "field"], items, first, last, flagged_codes=False)
    counts = label_groups(session, cells, scope, ["period", "field"])
    if counts.empty:
        return []
    dims = ["field", "period"]
    if only_item:  # all_levels' overall_item rows: the item's tallies with their percentages
        figures = fig.percentages(_regroup(fig.tally(counts, dims, items=items), None)).assign(level="overall_item")
    else:
        responses = respondent_minimums(session, scope, dims) if measure == "comprehensive" and rollup.comprehensive else None
        figures = engine_figures(counts, structure, rollup, dims, responses=responses)
    field_code = ALL if q.kind in KIND_FIELD else (f.field or ALL)
    rows = figures[(figures["field"].astype("object") == field_code) & (figures["level"] == measure)]
    found = {(str(r["period"]), str(r["source"])): r for r in rows.to_dict("records")}
    sources = sorted({str(s) for s in rows["source"]})
    return [TrendPoint(p, source, measure, _figure(found.get((str(pd.Period(p.since, freq)), source))))
            for source in sources for p in periods]


def build(session: Session, f: Filters) -> Dashboard:
    """Everything the page, the workbook and the charts show, from one set of filters."""
    unit = session.scalar(select(Unit).where(Unit.code == f.unit))
    if unit is None:
        raise DashboardError(_("Không có đơn vị mã “{code}”.", code=f.unit))
    known = instruments(session)
    if f.questionnaire and f.questionnaire not in {q.key for q in known}:
        raise DashboardError(_("Không có phiếu khảo sát “{key}” có câu hỏi hài lòng.", key=f.questionnaire))
    if f.channel and f.channel not in CHANNELS:
        raise DashboardError(_("Kênh “{channel}” không hợp lệ.", channel=f.channel))
    if f.source and f.source not in SOURCE_LABELS:
        raise DashboardError(_("Nguồn dữ liệu không hợp lệ."))
    procedure = None
    if f.procedure:
        procedure = session.scalar(select(Procedure).where(Procedure.code == f.procedure))
        if procedure is None:
            raise DashboardError(_("Không có thủ tục mã “{code}”: chọn thủ tục trong danh sách hoặc bỏ bộ lọc thủ tục.",
                                   code=f.procedure[:60]))
    names = _field_names(session)
    if f.field and f.field not in names:
        raise DashboardError(_("Không có lĩnh vực mã “{code}”.", code=f.field))
    targets, origin = _targets(session)
    ancestors = _ancestors(session, unit)
    chosen = [q for q in known if not f.questionnaire or q.key == f.questionnaire]
    rows: list[FieldRow] = []
    focus, focus_current = None, pd.DataFrame()
    window = None
    if chosen and fast_path(f):
        refresh(session)
        window = read_window(session, chosen, f, unit)
    for q in chosen:
        if window is not None:
            figures = window_figures(session, window, q)
            if figures is None:
                continue
            current, previous = window_periods(figures, f)
        else:
            if not _answered(session, q, f, unit):
                continue
            try:
                current, previous = _split_periods(session, q, f)
            except ReportError as exc:  # e.g. versions that share no criterion: said on the page, not a 500
                raise DashboardError(str(exc)) from None
        mine = field_rows(session, q, f, current, previous, targets, ancestors, names)
        rows.extend(mine)
        if focus is None and mine and any(r.current.n for r in mine):
            focus, focus_current = q, current
    if focus:
        criteria = criteria_table(session, focus, f, focus_current,
                                  window_distribution(window, focus, f) if window is not None else None)
    else:
        criteria = criteria_table(session, chosen[0], f, pd.DataFrame(columns=["unit", "field", "level"])) if chosen \
            else pd.DataFrame()
    attach_coverage(rows, dossier_counts(session, f, unit, procedure))
    focus_rows = [r for r in rows if focus and r.instrument == focus.key and r.field == (f.field or ALL)]
    # units on the satisfaction question when the instrument has one (the TTHC / field targets' measure)
    measures = [r.measure for r in focus_rows]
    measure = "overall_item" if "overall_item" in measures or not measures else measures[0]
    funnel = next((r.target.threshold for r in focus_rows
                   if r.measure == measure and r.target and r.target.threshold is not None), None)
    by_unit = window_units(session, focus, f, unit, measure) if focus and window is not None else None
    if focus and by_unit is None:
        by_unit = _report(session, focus, f, f.period.since, f.period.until, None, by_unit=True)
    units = unit_rows(session, f, by_unit, unit, measure) if focus else []
    total = next((r for r in focus_rows if r.source == "feedback" and r.coverage is not None), None)
    if units and total is not None and focus.kind not in KIND_FIELD:
        attach_unit_coverage(units, unit_dossier_counts(session, f, unit, procedure))
    excluded = {}
    for r in rows:
        if r.field == (KIND_FIELD.get(r.kind) or f.field or ALL):
            excluded[f"{r.instrument} · {r.source}"] = max(excluded.get(f"{r.instrument} · {r.source}", 0), r.current.n_excluded)
    info = UnitInfo(unit.id, unit.code, unit.name, unit.path, unit.parent_id)
    board = Dashboard(f, info, chosen, rows, focus, criteria, units, funnel, excluded, origin)
    if focus and window is not None:
        board.trend = trend(session, focus, f, unit, measure)
    elif focus:
        board.trend_note = (N_("Xu hướng theo kỳ chỉ có khi xem theo tháng, quý hoặc năm.") if f.period.freq is None
                            else N_("Xu hướng theo kỳ chưa có khi lọc theo thủ tục: hãy bỏ bộ lọc thủ tục để xem xu hướng.")
                            if f.procedure and not f.channel
                            else N_("Xu hướng theo kỳ chưa có khi lọc theo kênh: hãy bỏ bộ lọc kênh để xem xu hướng."))
    return board


def procedure_choices(field_code: str | None = None):
    """The procedure filter's choices: the registry's procedures (of the chosen field), by name."""
    query = select(Procedure.code, Procedure.name_vi).order_by(Procedure.name_vi, Procedure.code)
    if field_code:
        query = query.join(Field, Field.id == Procedure.field_id).where(Field.code == field_code)
    return query


# ---------------------------------------------------------------- coverage


def dossier_counts(session: Session, f: Filters, unit: Unit, procedure: Procedure | None = None) -> dict[str, int]:
    """Completed dossiers of the subtree in the period, by field code, from the frames imported for the
    sampled survey (frame_dossiers): one grouped COUNT on the unit and completion-date indexes. A
    procedure filter keeps the dossiers whose procedure text is that procedure's code or name (frames
    carry the procedure as written in the one-stop system's export)."""
    query = (select(Field.code, func.count(FrameDossier.id)).join(Field, Field.id == FrameDossier.field_id)
             .where(FrameDossier.unit_id.in_(select(Unit.id).where(Unit.path.startswith(unit.path))),
                    FrameDossier.completed_on >= f.period.since, FrameDossier.completed_on <= f.period.until)
             .group_by(Field.code))
    if f.field:
        query = query.where(Field.code == f.field)
    if procedure is not None:
        query = query.where(FrameDossier.procedure.in_([procedure.code, procedure.name_vi]))
    return {code: int(n) for code, n in session.execute(query).all() if n}


def attach_coverage(rows: Sequence[FieldRow], dossiers: dict[str, int]) -> None:
    """Coverage of each counter-feedback row (in place): its n ÷ the field's completed dossiers. The
    sampled survey is drawn from those dossiers, so it gets none (never pooled). An all-field row is
    known only when every field that got feedback from that instrument has dossier counts; otherwise
    its ratio would divide some fields' responses by other fields' dossiers."""
    for r in rows:
        if r.source != "feedback":
            continue
        if r.field == ALL:
            answered = {x.field for x in rows if x.instrument == r.instrument and x.source == "feedback"
                        and x.field != ALL and x.current.n}
            known = bool(dossiers) and all(code in dossiers for code in answered)
            total = sum(dossiers.values()) if known else None
        else:
            total = dossiers.get(r.field)
        if total:
            r.dossiers = total
            r.coverage = 100 * r.current.n / total


def unit_dossier_counts(session: Session, f: Filters, unit: Unit, procedure: Procedure | None = None) -> dict[str, int]:
    """Completed dossiers of each unit's subtree in the period (rolled up the tree), by unit code: one
    grouped COUNT by unit, summed into every ancestor's path prefix here."""
    query = (select(Unit.path, func.count(FrameDossier.id)).join(Unit, Unit.id == FrameDossier.unit_id)
             .where(Unit.path.startswith(unit.path), FrameDossier.completed_on >= f.period.since,
                    FrameDossier.completed_on <= f.period.until)
             .group_by(Unit.path))
    if f.field:
        query = query.join(Field, Field.id == FrameDossier.field_id).where(Field.code == f.field)
    if procedure is not None:
        query = query.where(FrameDossier.procedure.in_([procedure.code, procedure.name_vi]))
    by_path: dict[str, int] = {}
    for path, n in session.execute(query).all():
        parts = path.strip("/").split("/")
        for k in range(1, len(parts) + 1):
            prefix = "/" + "/".join(parts[:k]) + "/"
            by_path[prefix] = by_path.get(prefix, 0) + int(n)
    if not by_path:
        return {}
    codes = session.execute(select(Unit.code, Unit.path).where(Unit.path.startswith(unit.path))).all()
    return {code: by_path[path] for code, path in codes if by_path.get(path)}


def attach_unit_coverage(units: Sequence[UnitRow], dossiers: dict[str, int]) -> None:
    """Coverage of each counter-feedback unit row (in place). The caller attaches it only when the field
    table's total row has coverage (one field chosen, or every field that got feedback has dossiers)."""
    for u in units:
        if u.source == "feedback" and dossiers.get(u.unit):
            u.dossiers = dossiers[u.unit]
            u.coverage = 100 * u.figure.n / u.dossiers


def data_version(session: Session) -> tuple:
    """What a built dashboard depends on besides its filters: the newest response, the newest flag,
    the targets' last load and the shape of the unit tree (a unit moved to another parent changes
    whose responses a subtree sums), and the imported dossiers (coverage). Equal versions mean equal figures."""
    from sqlalchemy import func

    from ..models import PlanTarget, ResponseFlag

    tree = session.execute(select(func.count(Unit.id), func.sum(Unit.id * func.coalesce(Unit.parent_id, 0)))).one()
    return (session.scalar(select(func.max(Response.id))), session.scalar(select(func.max(ResponseFlag.id))),
            session.scalar(select(func.max(PlanTarget.loaded_at))), session.scalar(select(func.count(PlanTarget.target_id))),
            tuple(tree), tuple(session.execute(select(func.count(FrameDossier.id), func.max(FrameDossier.id))).one()))


_CACHE: OrderedDict[tuple, Dashboard] = OrderedDict()
CACHE_SIZE = 16


def build_cached(session: Session, f: Filters) -> Dashboard:
    """build(), reused while the data has not changed: the page's two charts and its workbook come
    right after the page with the same filters, and should not compute it all three more times."""
    key = (f, str(session.get_bind().url), data_version(session))
    board = _CACHE.get(key)
    if board is None:
        board = build(session, f)
        _CACHE[key] = board
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return board
