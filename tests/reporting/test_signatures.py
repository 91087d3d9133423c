"""Maintained response signatures (survey.reporting.signatures, survey.reporting.counts) and the breakdowns read from them.

Every breakdown is computed twice, from the maintained signatures and from the raw answers
alone (`maintained=False`, an independent path: SQL over the answers table), and the two
frames must be identical; expected numbers are also counted by hand from the inserted rows.
"""
from __future__ import annotations

import copy
import random
from collections import Counter as Tally
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from questionnaires.loader import load_dict
from survey import catalog
from survey.db import get_session
from survey.models import Answer, AnswerCount, Response, ResponseFlag, ResponseSignature, Unit
from survey.reporting import breakdowns, counts
from survey.reporting.breakdowns import breakdown
from survey.reporting.selection import UNTAGGED, ReportError, Selection
from survey.reporting.standard import standard_report
from tests.test_loader import BASE
from tests.reporting.test_reports import ITEMS, RANGES, VN, build_units, insert, random_row, seed


def assert_same(maintained: pd.DataFrame, raw: pd.DataFrame) -> None:
    """Same columns, dtypes and rows (in any order)."""
    assert list(maintained.columns) == list(raw.columns)
    assert [str(t) for t in maintained.dtypes] == [str(t) for t in raw.dtypes]
    keys = [c for c in raw.columns if c != "n"]
    tidy = lambda f: f.sort_values(keys, ignore_index=True, na_position="first")  # noqa: E731
    pd.testing.assert_frame_equal(tidy(maintained), tidy(raw))
    assert not raw.duplicated(keys).any()


def both(session, sel: Selection, by, items=None) -> pd.DataFrame:
    """The breakdown from the maintained signatures, checked against the raw path."""
    maintained = breakdown(session, sel, by, items=items)
    assert_same(maintained, breakdown(session, sel, by, items=items, maintained=False))
    return maintained


def tally(frame: pd.DataFrame, keys: tuple[str, ...]) -> Tally:
    out: Tally = Tally()
    for values in frame[[*keys, "item", "code", "n"]].itertuples(index=False, name=None):
        *group, item, code, n = values
        group = [None if g is None or g is pd.NA or (isinstance(g, float) and g != g) else
                 str(g) if isinstance(g, pd.Period) else g for g in group]
        out[(*group, item, int(code))] += int(n)
    return out


def with_education(rng: random.Random, row):
    """A seeded row that also answered the education item, or left it blank."""
    if rng.random() < 0.6:
        row.answers["education"] = rng.choice([1, 2, 3, 4, 5])
    return row


@pytest.fixture
def rows(app):
    rng = random.Random(21)
    with app.app_context():
        session = get_session()
        build_units(session)
        made = [with_education(rng, random_row(rng)) for _ in range(140)]
        insert(session, made)
        session.commit()
    return made


def hand(rows, keys: tuple[str, ...], items=ITEMS) -> Tally:
    """Cells counted from the inserted rows: an item key as a group is its answer (None: blank)."""
    def key(r, k):
        if k in ("unit", "field"):
            return getattr(r, k) or UNTAGGED
        if k == "period":
            return r.month
        if k == "flag_reason":
            return r.reason
        if k in ("source", "channel"):
            return getattr(r, k)
        return r.answers.get(k)

    out: Tally = Tally()
    for r in rows:
        group = tuple(key(r, k) for k in keys)
        for item, code in r.answers.items():
            if item in items:
                out[(*group, item, code)] += 1
    return out


SELECTIONS = [
    Selection("sipas-local"),
    Selection("sipas-local", unit="D1"),  # a subtree
    Selection("sipas-local", field="dat-dai", source="feedback"),
    Selection("sipas-local", period="Q"),
    Selection("sipas-local", period="Y", since=date(2025, 2, 1), until=date(2025, 3, 31)),
    *(Selection("sipas-local", since=since, until=until) for since, until in RANGES),  # edge days from raw rows
    Selection("sipas-local", since=date(2030, 1, 1)),  # nothing
]
BYS = [("gender",), ("education",), ("unit", "field", "period", "gender"), ("gender", "education"),
       ("channel", "counter"), ("version", "language", "procedure"), ("gave_feedback",), ("period", "unit")]


def test_maintained_breakdowns_equal_the_raw_path(app, rows):
    with app.app_context():
        session = get_session()
        for sel in SELECTIONS:
            for by in BYS:
                both(session, sel, by)
        both(session, Selection("sipas-local"), ("education",), items=["gender", "overall", "gave_feedback"])
        by_education = both(session, Selection("sipas-local"), ("education", "period"))
        subtree = both(session, Selection("sipas-local", unit="D1", since=date(2025, 1, 20), until=date(2025, 3, 10)),
                       ("gender", "unit"))
        session.commit()
    keys = ("education", "period", "source", "flag_reason")
    assert tally(by_education, keys) == hand(rows, keys)
    assert by_education["education"].isna().any() and by_education["flagged"].any()
    day = lambda r: r.when.astimezone(VN).date()  # noqa: E731
    inside = [r for r in rows if r.unit in ("D1", "X1", "X2") and date(2025, 1, 20) <= day(r) <= date(2025, 3, 10)]
    keys = ("gender", "unit", "source", "flag_reason")
    assert tally(subtree, keys) == hand(inside, keys)


def test_whole_months_are_read_from_the_signatures_only(app, rows, monkeypatch):
    def raw(session, scope, dims, packed, since, until):
        raise AssertionError(f"raw answers read for {since}–{until}")

    with app.app_context():
        session = get_session()
        monkeypatch.setattr(breakdowns, "_signatures", raw)
        breakdown(session, Selection("sipas-local", since=date(2025, 2, 1), until=date(2025, 3, 31)), ("gender", "channel"))
        with pytest.raises(AssertionError, match="2025-03-01–2025-03-19"):  # a month cut short: its days are raw
            breakdown(session, Selection("sipas-local", since=date(2025, 2, 1), until=date(2025, 3, 19)), ("gender",))
        session.commit()


def test_a_response_after_a_refresh_is_in_the_next_breakdown(app, rows):
    rng = random.Random(4)
    with app.app_context():
        session = get_session()
        counts.refresh(session)
        session.commit()
        late = [with_education(rng, random_row(rng, datetime(2025, 2, 10, 3, tzinfo=UTC))),  # a month already kept
                with_education(rng, random_row(rng, datetime(2025, 6, 1, 2, tzinfo=UTC)))]  # a new month
        late[0].answers["gender"] = 3
        insert(session, late)
        clean = next(r for r in rows if not r.flags and r.answers.get("gender"))  # flagged after the fact
        session.add(ResponseFlag(response_id=clean.id, reason="burst", detail="test"))
        clean.flags.append("burst")
        session.commit()
        frame = both(session, Selection("sipas-local"), ("gender", "period"))
        assert counts.pending_months(session) == [], "the breakdown brought the signatures up to date"
        session.commit()
    keys = ("gender", "period", "source", "flag_reason")
    assert tally(frame, keys) == hand([*rows, *late], keys)


def test_standard_report_by_a_demographic_item_reads_the_signatures(app, rows):
    with app.app_context():
        session = get_session()
        report = standard_report(session, Selection("sipas-local", by=("education",)))
        session.commit()
    table = report.table("overall_item")
    graduates = [r for r in rows if r.answers.get("education") == 5 and r.source == "feedback" and not r.flags]
    row = table[(table["education"] == 5) & (table["source"] == "feedback")].iloc[0]
    assert (row["n"], row["n_satisfied"]) == (len(graduates), sum(r.answers["overall"] >= 4 for r in graduates))
    assert "maintained response signatures" in report.method["data"]


def versioned(version: int) -> dict:
    """A questionnaire whose items change codes between versions: `support` single (1–3) then
    multiple-choice (0–4), `lang` multiple-choice 0–2 then 1, 2, 5, 9, `visits` single 2–4 then
    1–3; version 2 also drops `online`."""
    data = copy.deepcopy(BASE)
    data.update(key="pooled", version=version)
    about = {"key": "about", "title": {"vi": "Về bạn", "en": "About you"}, "items": []}
    data["sections"].append(about)
    options = lambda codes: [{"code": c, "label": {"vi": f"Mục {c}", "en": f"Option {c}"}} for c in codes]  # noqa: E731
    first = version == 1
    about["items"] += [
        {"key": "support", "type": "single" if first else "multiple", "role": "demographic",
         "label": {"vi": "Hỗ trợ", "en": "Support"}, "options": options([1, 2, 3] if first else [0, 1, 2, 3, 4])},
        {"key": "lang", "type": "multiple", "role": "demographic", "label": {"vi": "Ngôn ngữ", "en": "Language"},
         "options": options([0, 1, 2] if first else [1, 2, 5, 9])},
        {"key": "visits", "type": "single", "role": "demographic", "label": {"vi": "Số lần", "en": "Visits"},
         "options": options([2, 3, 4] if first else [1, 2, 3])},
    ]
    if not first:
        data["sections"][0]["items"] = [i for i in data["sections"][0]["items"] if i["key"] != "online"]
    return data


def test_multiple_choice_demographic_pooled_over_versions(app):
    """Version 1 stores `support` as code − 1 in two bits, version 2 as one bit per option
    from 0: both are repacked into the pooled layout (one bit per option, from 0)."""
    rng = random.Random(9)
    made = []
    with app.app_context():
        session = get_session()
        build_units(session)
        units = {u.code: u.id for u in session.scalars(select(Unit))}
        for number in (1, 2):
            version, _ = catalog.publish(session, load_dict(versioned(number), "pooled.yaml"))
            for _ in range(70):
                answers = {"polite": rng.choice([0, 2, 4, 5]), "overall": rng.choice([1, 3, 4, 5]), "pct": rng.choice([0, 77, 200])}
                if number == 1 and rng.random() < 0.7:
                    answers["online"] = rng.choice([1, 4, 5])
                support = rng.sample([1, 2, 3], rng.choice([0, 1])) if number == 1 else rng.sample(range(5), rng.choice([0, 1, 2, 3]))
                lang = rng.sample([0, 1, 2] if number == 1 else [1, 2, 5, 9], rng.choice([0, 1, 2]))
                if rng.random() < 0.8:
                    answers["visits"] = rng.choice([2, 3, 4] if number == 1 else [1, 2, 3])
                flags = ["speeder"] if rng.random() < 0.2 else []
                when = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=rng.randrange(0, 24 * 60))
                unit = rng.choice(["X1", "X2", "X3", None])
                response = Response(version_id=version.id, submitted_at=when, channel="web", source="feedback",
                                    language="vi", unit_id=units.get(unit))
                response.answers = [Answer(item_key=k, code=v) for k, v in answers.items()]
                response.answers += [Answer(item_key="support", code=c) for c in sorted(support)]
                response.answers += [Answer(item_key="lang", code=c) for c in sorted(lang)]
                response.flags = [ResponseFlag(reason=f, detail="test") for f in flags]
                session.add(response)
                made.append((answers, support, lang, flags[0] if flags else None, unit,
                             when.astimezone(VN).strftime("%Y-%m")))
        session.commit()
        items = ["polite", "online", "overall", "pct", "lang", "visits"]
        by_support = both(session, Selection("pooled"), ("support", "period"), items=items)
        both(session, Selection("pooled", unit="D1"), ("lang", "support"), items=items)
        both(session, Selection("pooled"), ("visits", "lang"), items=["support", "overall"])
        both(session, Selection("pooled", since=date(2025, 3, 15), until=date(2025, 4, 20)), ("support", "version"))
        report = standard_report(session, Selection("pooled", by=("support",)))
        session.commit()
    expected: Tally = Tally()
    for answers, support, lang, reason, _unit, month in made:
        for option in support or [None]:
            for item, code in [*answers.items(), *(("lang", c) for c in lang)]:
                if item in items:
                    expected[(option, month, "feedback", reason, item, code)] += 1
    assert tally(by_support, ("support", "period", "source", "flag_reason")) == expected
    assert set(by_support["support"].dropna()) == {0, 1, 2, 3, 4}
    assert {("lang", c) for c in (0, 9)} | {("visits", c) for c in (1, 4)} <= set(zip(by_support["item"], by_support["code"]))
    table = report.table("overall_item").set_index("support")
    chose_1 = [a for a, s, _, reason, _, _ in made if 1 in s and reason is None]
    assert table.loc[1, "n"] == len(chose_1)


def test_a_version_too_wide_to_store_is_read_from_the_raw_answers(app):
    """Five 60-option items need five packed integers, one more than stored: that version
    keeps no signatures, its counts come from a GROUP BY and its breakdowns from raw rows."""
    data = copy.deepcopy(BASE)
    data["key"] = "wide"
    data["sections"][1]["items"] += [
        {"key": f"m{k}", "type": "multiple", "label": {"vi": f"Chọn {k}", "en": f"Pick {k}"},
         "options": [{"code": c, "label": {"vi": f"{c}", "en": f"{c}"}} for c in range(1, 61)]} for k in range(5)]
    rng = random.Random(5)
    picks = []
    with app.app_context():
        session = get_session()
        questionnaire = load_dict(data, "wide.yaml")
        assert counts.signature_layout(questionnaire) is None
        version, _ = catalog.publish(session, questionnaire)
        for _ in range(30):
            chosen = rng.sample(range(1, 61), 3)
            overall = rng.choice([2, 4, 5])
            response = Response(version_id=version.id, submitted_at=datetime(2025, 5, 5, tzinfo=UTC), channel="web",
                                source="feedback", language="vi")
            response.answers = [Answer(item_key="overall", code=overall)] + [Answer(item_key="m4", code=c) for c in chosen]
            session.add(response)
            picks.append((chosen, overall))
        session.commit()
        frame = both(session, Selection("wide"), ("m4",), items=["overall"])
        counts.refresh(session)
        stored = session.scalar(select(func.count()).select_from(ResponseSignature).where(ResponseSignature.version_id == version.id))
        cells = dict(session.execute(select(AnswerCount.code, func.sum(AnswerCount.n)).where(
            AnswerCount.version_id == version.id, AnswerCount.item_key == "m4").group_by(AnswerCount.code)).all())
        session.commit()
    assert stored == 0
    assert cells == Tally(c for chosen, _ in picks for c in chosen)
    assert tally(frame, ("m4",)) == Tally((c, "overall", overall) for chosen, overall in picks for c in chosen)


def test_answer_counts_built_from_signatures_match_a_group_by(app):
    """answer_counts are cross-tabulated from the signatures; an answer that does not fit its
    bit field (an item the definition lacks, a code out of range) sends that version's month
    to a GROUP BY over the raw answers, which counts every answer row as it is."""
    with app.app_context():
        session = get_session()
        ledger = seed(app, n=60, seed_value=2)
        odd = next(r for r in ledger if r.month == "2025-02")
        session.add_all([Answer(response_id=odd.id, item_key="legacy", code=4),
                         Answer(response_id=odd.id, item_key="overall", code=9)])
        session.commit()
        counts.refresh(session)
        counts.rebuild_month(session, date(2025, 3, 1))  # twice: replaced, never appended
        session.commit()
        got = Tally()
        for month, item, code, n in session.execute(select(AnswerCount.month, AnswerCount.item_key, AnswerCount.code, AnswerCount.n)):
            got[(str(month)[:7], item, code)] += n
        kept = session.scalar(select(func.count()).select_from(ResponseSignature))
    expected = Tally()
    for r in ledger:
        for item, code in r.answers.items():
            expected[(r.month, item, code)] += 1
    expected[("2025-02", "legacy", 4)] += 1
    expected[("2025-02", "overall", 9)] += 1
    assert got == expected
    assert kept == len(ledger), "one signature per response with coded answers"


def test_breakdown_errors_name_the_problem(app, rows):
    with app.app_context():
        session = get_session()
        for by, items, message in [
            (("comment",), None, "unknown breakdown comment"),  # a text item
            (("colour",), None, "unknown breakdown colour"),
            (("gender",), ["comment"], "'comment' is not a coded item of sipas-local"),
            (("gender",), ["no_such"], "'no_such' is not a coded item of sipas-local"),
        ]:
            for maintained in (True, False):
                with pytest.raises(ReportError, match=message):
                    breakdown(session, Selection("sipas-local"), by, items=items, maintained=maintained)
        with pytest.raises(ReportError, match="unknown questionnaire 'nope'"):
            breakdown(session, Selection("nope"), ("gender",))
        empty = both(session, Selection("sipas-local", unit="X3", field="xay-dung", since=date(2031, 1, 1)), ("gender",))
    assert empty.empty and {"gender", "source", "flagged", "item", "code", "n"} <= set(empty.columns)
