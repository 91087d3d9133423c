"""The bundled questionnaires against their official instruments (docs/questionnaires.md).

The expected structures below are written from the sources (Nghị định 118/2025 Điều 33, the Bộ Nội vụ
national questionnaire, Quyết định 2640/QĐ-BNV), not copied from the YAML files, so a file that drifts
from its instrument fails here.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from analysis.report import describe_method
from questionnaires.loader import bundled_paths, load_dict, load_file
from survey.db import get_session
from survey.models import QuestionnaireVersion, Response
from tests.formdata import answers_for, post_body

QUICK = load_file("questionnaires/counter-quick.yaml")
SIPAS23 = load_file("questionnaires/sipas-2023.yaml")
SIPAS17 = load_file("questionnaires/sipas-2017.yaml")

# Điều 33 khoản 1, in the decree's order (Vietnamese lettering has no "f"); the words each item must carry.
DIEU_33 = [
    ("a", "Thời gian trả kết quả giải quyết"),
    ("b", "Số lượng cơ quan, đơn vị, tổ chức phải liên hệ"),
    ("c", "phải liên hệ với cơ quan tiếp nhận để hoàn thiện hồ sơ thủ tục hành chính"),
    ("d", "Tính chính xác, đầy đủ, kịp thời của thông tin thủ tục hành chính được công khai so với quy định"),
    ("đ", "Thái độ ứng xử của cán bộ, công chức, viên chức hướng dẫn, tiếp nhận hồ sơ, giải quyết thủ tục hành chính"),
    ("e1", "Sự phù hợp với pháp luật của kết quả giải quyết thủ tục hành chính"),
    ("e2", "Sự phù hợp với pháp luật của chi phí thực hiện thủ tục hành chính"),
    ("e3", "chi phí nào phát sinh ngoài quy định của pháp luật"),
    ("g", "Thời gian và chất lượng ý kiến giải trình của cơ quan có thẩm quyền, cán bộ, công chức, viên chức "
          "đối với các ý kiến phản ánh, kiến nghị, khiếu nại, tố cáo"),
    ("h", "Tiến độ và chất lượng cung cấp dịch vụ công trực tuyến của cơ quan có thẩm quyền"),
    ("i", "Các nội dung khác"),
]


def visible(q, answers: dict) -> set[str]:
    """Item keys shown for these answers, by the same server-side conditions the form reader uses."""
    shown: set[str] = set()
    for item in q.items:
        cond = item.show_if
        if cond is None or (cond.item in shown and cond.holds(answers)):
            shown.add(item.key)
    return shown


# ---------------------------------------------------------------- counter-quick (Điều 33)

def test_counter_quick_follows_dieu_33_order_and_words():
    lettered = [i for i in QUICK.items if i.ref]
    assert [i.ref for i in lettered] == [letter for letter, _ in DIEU_33]
    for item, (letter, words) in zip(lettered, DIEU_33):
        assert item.label.vi.startswith(f"({letter}) "), item.key
        assert words in item.label.vi, f"({letter}) must keep the decree's words: {words!r}"
    assert "f" not in {i.ref for i in lettered}


def test_counter_quick_not_received_hides_exactly_the_result_items():
    a = QUICK.item("result_time")
    not_received = next(o.code for o in a.options if o.label.vi == "Chưa nhận kết quả")
    base = answers_for(QUICK)
    received = visible(QUICK, {**base, "result_time": 2})
    pending = visible(QUICK, {**base, "result_time": not_received})
    assert received - pending == {"result_legal"}, "only the lawfulness of the result needs the result"
    assert {"costs_legal", "extra_charges"} <= pending, "costs and extra charges are known before the result"


def test_counter_quick_g_is_asked_only_after_the_petition_filter():
    g = next(i for i in QUICK.items if i.ref == "g")
    filt = QUICK.item(g.show_if.item)
    assert filt.role == "filter" and filt.origin == "added"
    assert "phản ánh, kiến nghị, khiếu nại hoặc tố cáo" in filt.label.vi
    yes, no = (o.code for o in filt.options)
    assert g.key in visible(QUICK, {filt.key: yes})
    assert g.key not in visible(QUICK, {filt.key: no})
    assert [s.key for s in QUICK.sections].index(g.section) > [s.key for s in QUICK.sections].index("result"), "(g) after (e)"


def test_counter_quick_cites_dieu_29_khoan_3_and_marks_product_additions():
    head = QUICK.header
    assert head is not None and "khoản 3 Điều 29 Nghị định số 118/2025/NĐ-CP" in head.confidentiality.vi
    assert "Điều 33" in QUICK.source_document and "Điều 29 khoản 3" in QUICK.source_document
    added = {d.item for d in QUICK.deviations if d.kind == "added"}
    assert added == {"lodged_petition", "used_online", "overall"}


# ---------------------------------------------------------------- sipas-2023 (national questionnaire)

def test_sipas_2023_has_the_national_questionnaires_structure():
    refs = [i.ref for i in SIPAS23.items if i.ref]
    numbered = [r.split(".")[0] for r in refs if r[0].isdigit()]
    assert list(dict.fromkeys(numbered)) == [str(n) for n in range(1, 11)], "Câu 1..10 in order"
    assert numbered.count("1") == 8, "Câu 1: eight policy areas"
    assert numbered.count("8") == 7, "Câu 8: seven experience rows"
    assert [r for r in refs if r.startswith("9.")] == [f"9.{n}" for n in range(1, 34)], "Câu 9: items 1–33"
    first_question = next(k for k, i in enumerate(SIPAS23.items) if i.ref)
    assert all(i.role == "demographic" for i in SIPAS23.items[:first_question]), "Phần A comes first"
    assert "Phương pháp đo lường sự hài lòng của người dân" in SIPAS23.source_document


def test_sipas_2023_elements_and_criteria_per_part():
    elements = {s.key: [i.ref for i in s.items] for s in SIPAS23.sections if s.element}
    sizes = [len(v) for v in elements.values()]
    assert sizes == [2, 2, 8, 2, 4, 4, 5, 3, 3], "policy A–D, then the five service elements"
    assert SIPAS23.item("c9_20").label.vi.endswith("Thành phần hồ sơ người dân phải nộp là đúng quy định")
    assert SIPAS23.item("c9_21").label.vi.endswith("Mức phí/lệ phí người dân phải nộp là đúng quy định")


def test_sipas_2023_cau_8_routes_the_service_part():
    service = {i.key for i in SIPAS23.items if i.ref and i.ref.startswith("9.") and int(i.ref[2:]) >= 15}
    petition = {"c9_32", "c9_33"}
    assert visible(SIPAS23, {"c8_4": 1, "c8_5": 2}) & service == service - petition, "8.4 opens items 15–31"
    assert visible(SIPAS23, {"c8_4": 2, "c8_5": 1}) & service == petition, "8.5 opens 32–33 (own petition)"
    assert not visible(SIPAS23, {"c8_4": 2, "c8_5": 2}) & service
    assert {f"c9_{n}" for n in range(1, 15)} <= visible(SIPAS23, {"c8_4": 2}), "the policy part is asked of everyone"


def test_sipas_2023_weights_reproduce_the_2024_national_index():
    weights = dict(SIPAS23.rollup.weights)
    policy = {k: w for k, w in weights.items() if k.startswith("policy_")}
    share = sum(policy.values()) / sum(weights.values())
    policy_pct, service_pct, published = 83.84, 84.09, 83.94
    assert round(share * policy_pct + (1 - share) * service_pct, 2) == published
    assert round(0.5 * policy_pct + 0.5 * service_pct, 2) != published, "halves would not reproduce it"
    assert len(set(policy.values())) == 1 and len({w for k, w in weights.items() if k not in policy}) == 1
    assert "TẠM TÍNH" in SIPAS23.rollup.note.vi


# ---------------------------------------------------------------- sipas-2017 (2640, legacy)

OFFICIAL_2640_ELEMENTS = [
    "Tiếp cận dịch vụ hành chính công của cơ quan hành chính nhà nước",
    "Thủ tục hành chính",
    "Công chức giải quyết công việc",
    "Kết quả cung ứng dịch vụ hành chính công",
    "Tiếp nhận, giải quyết góp ý, phản ánh, kiến nghị",
]


def test_sipas_2017_is_the_legacy_2640_form_with_official_names():
    assert SIPAS17.legacy and "2017–2020" in SIPAS17.title.vi
    elements = [s for s in SIPAS17.sections if s.element]
    assert [s.title.vi.split(". ", 1)[1] for s in elements] == OFFICIAL_2640_ELEMENTS
    assert [sum(i in SIPAS17.criteria for i in s.items) for s in elements] == [4, 5, 6, 3, 4]
    assert all("Bộ phận tiếp nhận và trả kết quả" in i.label.vi for i in elements[0].items)
    assert "(Kết quả có thể là được cấp giấy tờ hoặc bị từ chối cấp giấy tờ)" in SIPAS17.item("result_1").label.vi


def test_sipas_2017_has_element_questions_expectations_and_the_service_used():
    roles = {i.key: i.role for i in SIPAS17.items}
    element_questions = [i for i in SIPAS17.items if i.type == "satisfaction" and i not in SIPAS17.criteria
                         and i.role != "overall"]
    assert len(element_questions) == 5
    assert any(r == "expectation" for r in roles.values())
    assert any("Lĩnh vực" in i.label.vi and "thủ tục hành chính" in i.label.vi for i in SIPAS17.items)


def test_sipas_2017_no_opinion_and_feedback_filter_are_off_by_default():
    assert not any(i.no_opinion for i in SIPAS17.criteria)
    assert not any(i.show_if for i in SIPAS17.criteria)
    assert SIPAS17.rollup.comparability is None


def test_enabling_no_opinion_or_a_filter_makes_reports_say_not_comparable():
    data = copy.deepcopy(SIPAS17.definition)
    for section in data["sections"]:
        for item in section["items"]:
            if item["key"] == "access_1":
                item["no_opinion"] = True
    changed = load_dict(data, "sipas-2017-local.yaml")
    note = changed.rollup.comparability
    assert note is not None and "KHÔNG so sánh được với chỉ số chính thức" in note.vi and "access_1" in note.vi
    method = describe_method(changed.rollup, level=0.95, alpha=0.05, min_n=30, include_flagged=False)
    assert method["comparability"] == note.vi
    assert describe_method(SIPAS17.rollup, level=0.95, alpha=0.05, min_n=30, include_flagged=False)["comparability"] is None


# ---------------------------------------------------------------- health-outpatient (BYT Mẫu số 2)

def test_health_outpatient_has_the_ministrys_domains_codes_and_roll_up():
    q = load_file("questionnaires/health-outpatient.yaml")
    domains = {s.title.vi[0]: [i.key for i in s.items] for s in q.sections if s.element}
    assert {d: len(keys) for d, keys in domains.items()} == {"A": 5, "B": 10, "C": 8, "D": 4, "E": 4}
    for letter, keys in domains.items():
        assert keys == [f"{letter.lower()}{n}" for n in range(1, len(keys) + 1)], "the Ministry's codes as keys"
    general = next(s for s in q.sections if s.title.vi.startswith("G."))
    assert [i.key for i in general.items] == ["g1", "g2", "g3", "g4"] and "overall" not in [i.key for i in general.items]
    assert [o.label.vi for o in q.item("g2").options][-1] == "Khác" and len(q.item("g2").options) == 6
    assert all(q.item(f"b{n}").label.vi.startswith(f"B{n}. Đánh giá thời gian") for n in range(6, 11))
    assert (q.rollup.element, q.rollup.overall) == ("pooled", "pooled"), "the Ministry pools every 4–5 answer"
    assert q.no_opinion_official and q.rollup.comparability is None, "the 0 answer is the Ministry's own"
    first = q.sections[0]
    assert all(i.role == "demographic" for i in first.items), "respondent information first"


def test_education_marks_product_criteria_until_the_toolkit_text_replaces_them():
    q = load_file("questionnaires/education.yaml")
    assert "2329/QĐ-BGDĐT ngày 11/7/2017" in q.source_document
    assert all(i.origin == "added" for i in q.criteria)
    assert "KHÔNG so sánh được" in q.rollup.comparability.vi


# ---------------------------------------------------------------- every bundled form

@pytest.mark.parametrize("path", bundled_paths(), ids=lambda p: p.stem)
def test_every_form_carries_the_header_officers_expect(path: Path):
    q = load_file(path)
    head = q.header
    assert head is not None, "issuing heading, confidentiality, instruction and thanks"
    assert "bảo mật" in head.confidentiality.vi
    assert "Xin trân trọng cảm ơn" in head.thanks.vi
    assert all(d.kind in ("added", "adapted", "no_opinion") for d in q.deviations)
    overall = q.rollup.overall_item
    assert overall is None or q.item(overall).origin == "added" or q.kind in ("health", "education")


@pytest.mark.parametrize("path", bundled_paths(), ids=lambda p: p.stem)
def test_every_form_renders_and_stores_a_complete_submission(app, client, get_form, path: Path):
    q = load_file(path)
    url = f"/q/{q.key}"
    page = client.get(url).get_data(as_text=True)
    assert q.header.confidentiality.vi in page and q.header.thanks.vi in page
    assert q.title.vi in page
    form = get_form(url)
    answers = answers_for(q)
    resp = client.post(url, data=MultiDict(post_body(form.hidden, answers)))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    with app.app_context():
        [r] = get_session().scalars(select(Response)).all()
        keys = {a.item_key for a in r.answers}
        assert keys == {k for k, v in answers.items() if v not in (None, "")}
        assert get_session().get(QuestionnaireVersion, r.version_id).version == q.version


def test_counter_quick_not_received_is_stored_without_the_result_item(app, client, get_form):
    form = get_form("/q/counter-quick")
    answers = answers_for(QUICK, result_time=4)
    answers["result_legal"] = 5  # sent anyway (JavaScript off): not applicable, so discarded
    resp = client.post("/q/counter-quick", data=MultiDict(post_body(form.hidden, answers)))
    assert resp.status_code == 303
    with app.app_context():
        [r] = get_session().scalars(select(Response)).all()
        codes = {a.item_key: a.code for a in r.answers}
        assert codes["result_time"] == 4 and "result_legal" not in codes and codes["costs_legal"] == 4


def test_plan_line_is_set_per_survey_not_in_the_form(app, client):
    app.config["PLAN_LINES"] = {"sipas-2023": "(Kèm theo Kế hoạch số 12/KH-UBND ngày 05/01/2026)"}
    assert "Kế hoạch số 12/KH-UBND" in client.get("/q/sipas-2023").get_data(as_text=True)
    assert "Kế hoạch số 12/KH-UBND" not in client.get("/q/counter-quick").get_data(as_text=True)


def test_reports_show_which_items_are_official(app, client, get_form):
    from survey.reporting.selection import Selection
    from survey.reporting.standard import export

    form = get_form("/q/counter-quick")
    assert client.post("/q/counter-quick", data=MultiDict(post_body(form.hidden, answers_for(QUICK)))).status_code == 303
    with app.app_context():
        figures = export(get_session(), Selection("counter-quick", by=())).figures
    rows = figures.dropna(subset=["item"]).drop_duplicates("item").set_index("item")
    assert (rows.loc["info_published", "item_ref"], rows.loc["info_published", "item_origin"]) == ("d", "official")
    assert (rows.loc["petition_response", "item_ref"], rows.loc["petition_response", "item_origin"]) == ("g", "official")
    assert rows.loc["overall", "item_origin"] == "added"


def test_a_report_spanning_two_counter_versions_compares_only_unchanged_items(app):
    """Version 1 of the counter form (before the review) and version 2, under one key: pooled, the
    report keeps the items that mean the same and names the rest; within version 2 alone, all."""
    from datetime import UTC, date, datetime

    from survey import catalog
    from survey.models import Answer
    from survey.reporting.selection import Selection
    from survey.reporting.standard import standard_report

    old, new = (copy.deepcopy(load_file(p).definition) for p in ("tests/fixtures/counter-quick-v1.yaml",
                                                                  "questionnaires/counter-quick.yaml"))
    for data in (old, new):
        data["key"] = "counter-span"
    v1, v2 = load_dict(old), load_dict(new)
    with app.app_context():
        session = get_session()
        for q, month in ((v1, 1), (v2, 3)):
            catalog.publish(session, q)
            session.flush()
            row = catalog.latest(session, "counter-span")
            for day in range(1, 6):
                response = Response(version_id=row.id, submitted_at=datetime(2025, month, day, 3, tzinfo=UTC),
                                    channel="web", source="feedback", language="vi")
                response.answers = [Answer(item_key=k, code=v) for k, v in answers_for(q, choose=5).items()
                                    if isinstance(v, int)]
                session.add(response)
        session.commit()
        both = standard_report(session, Selection("counter-span", by=()))
        recent = standard_report(session, Selection("counter-span", since=date(2025, 3, 1), by=()))
        session.commit()
    pooled = set(both.table("criterion")["item"])
    assert pooled == {"info_published", "staff_attitude", "online_service"}, "unchanged keys, codes and conditions"
    assert both.table("criterion").set_index("item").loc["info_published", "n"] == 10, "both versions counted"
    assert "petition_response" in both.method["versions"] and "result_legal" in both.method["versions"]
    assert set(recent.table("criterion")["item"]) >= {"result_legal", "costs_legal", "petition_response"}
    assert recent.method["versions"] == "one version answered in this selection"


def test_forms_show_the_instruments_numbering_not_a_second_one(client):
    quick = client.get("/q/counter-quick").get_data(as_text=True)
    assert '<span class="num">' not in quick and "(đ) Thái độ ứng xử" in quick, "the letters are in the labels"
    legacy = client.get("/q/sipas-2017").get_data(as_text=True)
    assert '<span class="num">1.1.</span> Nơi ngồi chờ' in legacy and '<span class="num">5.4.</span>' in legacy
    national = client.get("/q/sipas-2023").get_data(as_text=True)
    assert '<span class="num">' not in national and "15. Cơ quan cung cấp thông tin" in national
