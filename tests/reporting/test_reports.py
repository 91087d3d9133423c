"""survey.reporting, the adapter from stored rows to analysis frames, and survey.reporting.counts.

Every expected number is counted here, in Python, from the rows the test inserted (the
`Ledger`), never taken from the code's own earlier output. Times sit on both sides of month
boundaries in Vietnam time (UTC+7), so a month counted in UTC would show.
"""
from __future__ import annotations

import copy
import random
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import pytest
from sqlalchemy import delete, func, select

from questionnaires.loader import load_dict
from survey import catalog
from survey.db import engine, get_session
from survey.models import Answer, AnswerCount, Field, Response, ResponseFlag, Unit
from survey.registry import units as registry
from survey.reporting import counts
from survey.reporting.breakdowns import breakdown
from survey.reporting.selection import UNTAGGED, ReportError, Selection
from survey.reporting.standard import counts_frame, standard_report
from tests.test_loader import BASE

VN = timezone(timedelta(hours=7))
SIPAS_CRITERIA = [
    "access_1", "access_2", "access_3", "access_4", "procedure_1", "procedure_2", "procedure_3", "procedure_4",
    "procedure_5", "staff_1", "staff_2", "staff_3", "staff_4", "staff_5", "staff_6", "result_1", "result_2",
    "result_3", "feedback_1", "feedback_2", "feedback_3", "feedback_4",
]
ITEMS = [*SIPAS_CRITERIA, "overall"]
# Instants near month ends: 31/01 17:30 UTC is 01/02 00:30 in Vietnam, so it belongs to February.
EDGES = [datetime(2025, 1, 31, 17, 30, tzinfo=UTC), datetime(2025, 1, 31, 16, 30, tzinfo=UTC),
         datetime(2025, 3, 31, 17, 0, tzinfo=UTC), datetime(2025, 2, 28, 16, 59, tzinfo=UTC)]


@dataclass
class Row:
    """What the test inserted for one response, in the terms a report uses."""

    unit: str | None
    field: str | None
    source: str
    when: datetime
    answers: dict[str, int]
    flags: list[str] = field(default_factory=list)
    channel: str = "counter"
    id: int | None = None

    @property
    def month(self) -> str:
        return self.when.astimezone(VN).strftime("%Y-%m")

    @property
    def reason(self) -> str | None:
        return min(self.flags) if self.flags else None


class Ledger(list):
    """The inserted rows, and the tallies a report should find, counted the plain way."""

    def cells(self, keys: tuple[str, ...], flagged: bool | None = None, rows=None) -> Tally:
        out: Tally = Tally()
        for r in self if rows is None else rows:
            if flagged is not None and bool(r.flags) != flagged:
                continue
            group = tuple(_key(r, k) for k in keys)
            for item, code in r.answers.items():
                if item in ITEMS:
                    out[(*group, item, code)] += 1
        return out


def _key(r: Row, key: str):
    if key == "unit":
        return r.unit or UNTAGGED
    if key == "field":
        return r.field or UNTAGGED
    if key == "period":
        return r.month
    if key == "flag_reason":
        return r.reason
    if key == "gender":
        return r.answers.get("gender")
    return getattr(r, key)


def frame_cells(frame: pd.DataFrame, keys: tuple[str, ...]) -> Tally:
    """The same tally read back from a counts frame (periods as 'YYYY-MM' text)."""
    out: Tally = Tally()
    columns = [*keys, "item", "code", "n"]
    for values in frame[columns].itertuples(index=False, name=None):
        *group, item, code, n = values
        group = [None if (g is None or g is pd.NA or (isinstance(g, float) and g != g)) else
                 str(g) if isinstance(g, pd.Period) else g for g in group]
        group = [int(g) if isinstance(g, (int,)) and not isinstance(g, bool) else g for g in group]
        out[(*group, item, int(code))] += int(n)
    return out


def build_units(session) -> dict[str, Unit]:
    """P (province) → D1 (district) → X1, X2 (communes); X3 directly under P."""
    registry.load_fields(session)
    p = registry.add_unit(session, "P", "Tỉnh Hưng Yên", "province")
    d1 = registry.add_unit(session, "D1", "Huyện Phù Cừ", "district", p)
    units = {"P": p, "D1": d1,
             "X1": registry.add_unit(session, "X1", "Xã Minh Tiến", "commune", d1),
             "X2": registry.add_unit(session, "X2", "Xã Tam Đa", "commune", d1),
             "X3": registry.add_unit(session, "X3", "Phường Hiến Nam", "ward", p)}
    session.flush()
    return units


def random_row(rng: random.Random, when: datetime | None = None) -> Row:
    answers = {}
    for item in SIPAS_CRITERIA:
        if item in ("feedback_3", "feedback_4"):
            continue
        if rng.random() < 0.95:
            answers[item] = rng.choice([0, 1, 2, 3, 4, 4, 5, 5, 5])
    gave = rng.choice([1, 2])
    answers["gave_feedback"] = gave
    if gave == 1:
        answers["feedback_3"] = rng.choice([1, 3, 4, 5])
        answers["feedback_4"] = rng.choice([2, 4, 5])
    answers["overall"] = rng.choice([1, 2, 3, 4, 4, 5, 5])
    if rng.random() < 0.8:
        answers["gender"] = rng.choice([1, 2, 3])
    flags = []
    if rng.random() < 0.15:
        flags = rng.sample(["speeder", "straightline", "device_repeat"], rng.choice([1, 1, 2]))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return Row(
        unit=rng.choice(["X1", "X1", "X2", "X3", "D1", None]),
        field=rng.choice(["dat-dai", "dat-dai", "tu-phap-ho-tich", "xay-dung", None]),
        source=rng.choice(["feedback", "feedback", "feedback", "sample"]),
        when=when or start + timedelta(seconds=rng.randrange(0, 120 * 24 * 3600)),
        answers=answers, flags=flags, channel=rng.choice(["counter", "web", "paper"]),
    )


def insert(session, rows: list[Row], key: str = "sipas-local") -> None:
    version = catalog.latest(session, key)
    units = {u.code: u.id for u in session.scalars(select(Unit))}
    fields = {f.code: f.id for f in session.scalars(select(Field))}
    responses = []
    for r in rows:
        response = Response(
            version_id=version.id, submitted_at=r.when, channel=r.channel, source=r.source, language="vi",
            unit_id=units.get(r.unit), field_id=fields.get(r.field),
        )
        response.answers = [Answer(item_key=k, code=v) for k, v in r.answers.items()] + [Answer(item_key="comment", text="Tốt")]
        response.flags = [ResponseFlag(reason=reason, detail="test") for reason in r.flags]
        responses.append(response)
    session.add_all(responses)
    session.flush()
    for r, response in zip(rows, responses):
        r.id = response.id


def seed(app, n: int = 110, seed_value: int = 5) -> Ledger:
    rng = random.Random(seed_value)
    ledger = Ledger(random_row(rng) for _ in range(n))
    ledger.extend(random_row(rng, when) for when in EDGES)
    with app.app_context():
        session = get_session()
        build_units(session)
        insert(session, ledger)
        session.commit()
    return ledger


@pytest.fixture
def seeded(app):
    return seed(app)


KEYS = ("unit", "field", "period", "source", "flag_reason")


def test_counts_and_raw_paths_give_the_inserted_tallies(app, seeded):
    with app.app_context():
        session = get_session()
        sel = Selection("sipas-local")
        stored = counts_frame(session, sel)
        raw = breakdown(session, sel, ("unit", "field", "period"))
        session.commit()
    expected = seeded.cells(KEYS)
    assert frame_cells(stored, KEYS) == expected
    assert frame_cells(raw, KEYS) == expected
    assert sum(expected.values()) > 2000
    # the boundary instants fell into Vietnam-time months
    feb = sum(n for k, n in expected.items() if k[2] == "2025-02")
    assert feb == sum(n for k, n in frame_cells(stored, KEYS).items() if k[2] == "2025-02")
    assert stored["flagged"].equals(stored["flag_reason"].notna())


def test_counts_stay_exact_after_new_submissions_flags_and_a_full_rebuild(app, seeded):
    rng = random.Random(11)
    with app.app_context():
        session = get_session()
        assert counts.refresh(session) > 0
        session.commit()
        assert counts.refresh(session) == 0, "nothing new: nothing rebuilt, nothing written"
        late = [random_row(rng, datetime(2025, 2, 14, 3, tzinfo=UTC)) for _ in range(5)]  # an old month
        late += [random_row(rng, datetime(2025, 4, 2, 9, tzinfo=UTC)) for _ in range(5)]
        insert(session, late)
        seeded.extend(late)
        clean = next(r for r in seeded if not r.flags)  # flagged after the fact, in its old month
        session.add(ResponseFlag(response_id=clean.id, reason="duplicate_dossier", detail="test"))
        clean.flags.append("duplicate_dossier")
        session.commit()
        pending = counts.pending_months(session)
        assert pending == sorted({date(2025, 2, 1), date(2025, 4, 1), date.fromisoformat(clean.month + "-01")})
        assert counts.refresh(session) == len(pending)
        session.commit()
        after_new = counts_frame(session, Selection("sipas-local"), refresh_first=False)
        counts.refresh(session, full=True)
        session.commit()
        after_full = counts_frame(session, Selection("sipas-local"), refresh_first=False)
    assert frame_cells(after_new, KEYS) == seeded.cells(KEYS)
    assert frame_cells(after_full, KEYS) == seeded.cells(KEYS)


@pytest.mark.db("postgresql")
def test_a_late_commit_below_the_watermark_is_counted(app, seeded):
    """PostgreSQL hands out ids before commit: a transaction that took a lower id and commits
    after a refresh that saw a higher one must still be counted (full rebuild)."""
    rng = random.Random(3)
    slow, fast = random_row(rng, datetime(2025, 3, 3, 3, tzinfo=UTC)), random_row(rng, datetime(2025, 4, 3, 3, tzinfo=UTC))
    with app.app_context():
        from sqlalchemy.orm import Session
        with Session(engine()) as first, Session(engine()) as second:
            insert(first, [slow])  # id taken, not committed
            insert(second, [fast])
            second.commit()
            assert slow.id < fast.id
            session = get_session()
            counts.refresh(session)
            session.commit()
            first.commit()
        session = get_session()
        counts.refresh(session)
        session.commit()
        frame = counts_frame(session, Selection("sipas-local"))
    seeded.extend([slow, fast])
    assert frame_cells(frame, KEYS) == seeded.cells(KEYS)


def test_unit_means_its_whole_subtree(app, seeded):
    with app.app_context():
        session = get_session()
        frame = counts_frame(session, Selection("sipas-local", unit="D1"))
        raw = breakdown(session, Selection("sipas-local", unit="D1"), ("unit",))
    inside = [r for r in seeded if r.unit in ("D1", "X1", "X2")]
    assert set(frame["unit"]) == {"D1", "X1", "X2"}
    assert frame_cells(frame, KEYS) == seeded.cells(KEYS, rows=inside)
    assert frame_cells(raw, ("unit", "source", "flag_reason")) == seeded.cells(("unit", "source", "flag_reason"), rows=inside)


RANGES = [
    (date(2025, 2, 1), date(2025, 3, 31)),  # whole months: the maintained counts
    (date(2025, 2, 1), date(2025, 2, 28)),
    (date(2025, 1, 20), date(2025, 3, 10)),  # partial months at both ends: raw rows for those days
    (date(2025, 2, 3), date(2025, 2, 17)),  # inside one month
    (None, date(2025, 2, 14)),
    (date(2025, 3, 16), None),
]


def test_date_ranges_count_vietnam_days_exactly(app, seeded):
    day = lambda r: r.when.astimezone(VN).date()  # noqa: E731
    with app.app_context():
        session = get_session()
        for since, until in RANGES:
            frame = counts_frame(session, Selection("sipas-local", since=since, until=until))
            inside = [r for r in seeded if (since is None or day(r) >= since) and (until is None or day(r) <= until)]
            assert 0 < len(inside) < len(seeded)
            assert frame_cells(frame, KEYS) == seeded.cells(KEYS, rows=inside), (since, until)
        session.commit()


def test_quarters_and_years_sum_the_months(app, seeded):
    with app.app_context():
        session = get_session()
        quarters = counts_frame(session, Selection("sipas-local", by=("field", "period"), period="Q"))
    assert set(map(str, quarters["period"])) == {"2025Q1", "2025Q2"}
    assert not quarters.duplicated(["field", "period", "source", "flag_reason", "item", "code"]).any()
    expected = Tally()
    for r in seeded:
        quarter = f"{r.when.astimezone(VN).year}Q{(r.when.astimezone(VN).month - 1) // 3 + 1}"
        for item, code in r.answers.items():
            if item in ITEMS:
                expected[(r.field or UNTAGGED, quarter, item, code)] += 1
    assert frame_cells(quarters, ("field", "period")) == expected


def test_flagged_responses_are_left_out_by_default_and_counted_exactly(app, seeded):
    with app.app_context():
        session = get_session()
        default = standard_report(session, Selection("sipas-local", by=("unit",)))
        included = standard_report(session, Selection("sipas-local", by=("unit",), include_flagged=True))
        session.commit()

    def overall(rep, unit):  # feedback only: the sampled survey is never pooled with it
        return rep.table("overall_item").set_index(["unit", "source"]).loc[(unit, "feedback")]

    clean_x1 = [r for r in seeded if r.unit == "X1" and r.source == "feedback" and not r.flags]
    all_x1 = [r for r in seeded if r.unit == "X1" and r.source == "feedback"]
    assert overall(default, "X1")["n"] == len(clean_x1)
    assert overall(default, "X1")["n_satisfied"] == sum(r.answers["overall"] >= 4 for r in clean_x1)
    assert overall(included, "X1")["n"] == len(all_x1) > len(clean_x1)
    assert overall(default, "X1")["n_excluded"] == len(all_x1) - len(clean_x1)
    assert overall(included, "X1")["n_satisfied"] == sum(r.answers["overall"] >= 4 for r in all_x1)
    staff = default.table("criterion").set_index(["unit", "source", "item"]).loc[("X1", "feedback", "staff_1")]
    assert staff["n_excluded"] == sum(1 for r in all_x1 if r.flags and "staff_1" in r.answers)
    # the province row pools its whole subtree, untagged responses excepted
    assert overall(default, "P")["n"] == sum(1 for r in seeded if r.unit and r.source == "feedback" and not r.flags)
    # exact excluded responses by reason (first reason, alphabetical), by unit
    expected = Tally((r.unit or UNTAGGED, r.reason) for r in seeded if r.flags)
    table = default.excluded
    got = Tally()
    for u, reason, n in table[["unit", "flag_reason", "responses"]].itertuples(index=False):
        got[(u, reason)] += n
    assert got == expected
    assert table["excluded"].all() and not included.excluded["excluded"].any()
    assert "exact" in default.method["excluded_counts"]
    assert default.method["flagged"].startswith("excluded") and included.method["flagged"] == "included"


def test_breakdown_by_a_demographic_item_and_by_channel(app, seeded):
    with app.app_context():
        session = get_session()
        by_gender = breakdown(session, Selection("sipas-local"), ("gender",))
        by_channel = breakdown(session, Selection("sipas-local", source="feedback"), ("channel",))
        report = standard_report(session, Selection("sipas-local", by=("gender",)))
        session.commit()
    assert frame_cells(by_gender, ("gender", "source", "flag_reason")) == seeded.cells(("gender", "source", "flag_reason"))
    feedback = [r for r in seeded if r.source == "feedback"]
    assert frame_cells(by_channel, ("channel", "flag_reason")) == seeded.cells(("channel", "flag_reason"), rows=feedback)
    rows = report.table("overall_item")
    women = [r for r in seeded if r.answers.get("gender") == 2 and not r.flags and r.source == "feedback"]
    row = rows[(rows["gender"] == 2) & (rows["source"] == "feedback")].iloc[0]
    assert (row["n"], row["n_satisfied"]) == (len(women), sum(r.answers["overall"] >= 4 for r in women))
    assert rows["gender"].isna().any(), "respondents who skipped the question stay in, as their own group"
    assert "raw answers" in report.method["data"]


def test_multiple_choice_items_count_each_option(app):
    """A multiple-choice item as a breakdown and as a counted item; comprehensive satisfaction."""
    definition = copy.deepcopy(BASE)
    definition["key"] = "multi"
    definition["rollup"]["comprehensive"] = True
    definition["sections"][1]["items"].append({
        "key": "channels", "type": "multiple", "label": {"vi": "Kênh", "en": "Channels"},
        "options": [{"code": c, "label": {"vi": f"Kênh {c}", "en": f"Channel {c}"}} for c in (1, 2, 3, 7)]})
    rng = random.Random(2)
    rows = []
    with app.app_context():
        session = get_session()
        catalog.publish(session, load_dict(definition, "multi.yaml"))
        version = catalog.latest(session, "multi")
        for _ in range(60):
            answers = {"polite": rng.choice([0, 2, 4, 5]), "used_online": rng.choice([1, 2]), "overall": rng.choice([3, 4, 5]),
                       "pct": rng.choice([0, 77, 200])}
            if answers["used_online"] == 1:
                answers["online"] = rng.choice([1, 4, 5])
            chosen = rng.sample([1, 2, 3, 7], rng.choice([0, 1, 2, 3]))
            response = Response(version_id=version.id, submitted_at=datetime(2025, 5, 5, tzinfo=UTC), channel="web",
                                source="feedback", language="vi")
            response.answers = [Answer(item_key=k, code=v) for k, v in answers.items()]
            response.answers += [Answer(item_key="channels", code=c) for c in sorted(chosen)]
            session.add(response)
            rows.append((answers, chosen))
        session.commit()
        by_option = breakdown(session, Selection("multi"), ("channels",), items=["overall", "channels", "pct"])
        report = standard_report(session, Selection("multi", by=()))
    expected = Tally()
    for answers, chosen in rows:
        for option in chosen or [None]:
            expected[(option, "overall", answers["overall"])] += 1
            expected[(option, "pct", answers["pct"])] += 1
            for other in chosen:
                expected[(option, "channels", other)] += 1
    assert frame_cells(by_option, ("channels",)) == expected
    comprehensive = report.table("comprehensive").iloc[0]
    answered = [a for a, _ in rows if any(1 <= a.get(k, 0) <= 5 for k in ("polite", "online"))]
    happy = [a for a in answered if all(a.get(k, 0) == 0 or a[k] >= 4 for k in ("polite", "online") if k in a)]
    assert (comprehensive["n"], comprehensive["n_satisfied"]) == (len(answered), len(happy))


def test_empty_selections_give_empty_but_valid_frames(app, seeded):
    with app.app_context():
        session = get_session()
        future = Selection("sipas-local", since=date(2030, 1, 1), until=date(2030, 12, 31))
        frame = counts_frame(session, future)
        custom = counts_frame(session, Selection("sipas-local", since=date(2030, 1, 5), until=date(2030, 1, 9)))
        report = standard_report(session, future)
        nothing = standard_report(session, Selection("education", by=("unit", "channel")))
    for empty in (frame, custom):
        assert empty.empty
        assert {"unit", "field", "period", "source", "flagged", "item", "code", "n"} <= set(empty.columns)
    for rep in (report, nothing):
        assert rep.figures.empty and rep.verdicts.empty and rep.excluded.empty
        assert "targets" in rep.method


def test_unknown_names_are_report_errors_naming_them(app):
    wrong = [
        (Selection("no-such-form"), "no-such-form"),
        (Selection("sipas-local", unit="XX9"), "XX9"),
        (Selection("sipas-local", field="dat-da"), "dat-da"),
        (Selection("sipas-local", by=("unit", "colour")), "colour"),
        (Selection("sipas-local", period="W"), "W"),
        (Selection("sipas-local", source="survey"), "survey"),
        (Selection("sipas-local", since=date(2025, 3, 1), until=date(2025, 2, 1)), "01/02/2025"),
    ]
    with app.app_context():
        session = get_session()
        registry.load_fields(session)
        for selection, name in wrong:
            with pytest.raises(ReportError, match=name):
                standard_report(session, selection)


def test_a_questionnaire_without_criteria_is_a_report_error(app):
    definition = copy.deepcopy(BASE)
    definition.update(key="plain")
    del definition["rollup"]
    definition["sections"][0]["element"] = False
    with app.app_context():
        session = get_session()
        catalog.publish(session, load_dict(definition, "plain.yaml"))
        with pytest.raises(ReportError, match="plain.*no satisfaction criteria"):
            standard_report(session, Selection("plain"))


def test_counts_table_is_rebuilt_not_appended(app, seeded):
    """Two refreshes of the same month never double it (the delete + insert is whole)."""
    with app.app_context():
        session = get_session()
        counts.refresh(session)
        counts.rebuild_month(session, date(2025, 2, 1))
        counts.rebuild_month(session, date(2025, 2, 1))
        session.commit()
        total = session.scalar(select(func.sum(AnswerCount.n)).where(AnswerCount.item_key.in_(ITEMS)))
        session.execute(delete(AnswerCount))
        session.commit()
    assert total == sum(seeded.cells(("source",)).values())
