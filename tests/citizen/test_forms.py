"""The form builder (one field per item type) and the reading of a post (survey.citizen.submission):
validation, conditional resolution, and what no honest form could send."""
from __future__ import annotations

import copy

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField, RadioField, SelectMultipleField, StringField, TextAreaField

from questionnaires.loader import load_dict
from survey.citizen.forms import build_form
from survey.citizen.submission import BadSubmission, read
from tests.test_loader import BASE

DEF = copy.deepcopy(BASE)
DEF["sections"][1]["items"] += [
    {"key": "channels", "type": "multiple", "label": {"vi": "Kênh", "en": "Channels"},
     "options": [{"code": c, "label": {"vi": f"Kênh {c}", "en": f"Channel {c}"}} for c in (1, 2, 3)]},
    {"key": "story", "type": "textarea", "required": True, "max_length": 20, "label": {"vi": "Kể lại", "en": "Tell us"}},
]
Q = load_dict(DEF, "mini.yaml")
SUBMISSION = "A" * 16 + "." + "1" * 13 + "." + "B" * 22  # the shape of a ticket (its signature is the view's concern)


@pytest.fixture
def ctx():
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x", WTF_CSRF_ENABLED=False)
    with app.test_request_context(method="POST"):
        yield


def body_of(data: dict) -> MultiDict:
    body = MultiDict({"submission_id": SUBMISSION})
    for k, v in data.items():
        for x in v if isinstance(v, list) else [v]:
            body.add(k, str(x))
    return body


def make(data: dict, lang: str = "vi"):
    body = body_of(data)
    return build_form(Q, lang)(formdata=body), body


def test_one_field_class_per_item_type(ctx):
    form, _ = make({})
    kinds = {name: type(form[name]) for name in ("polite", "used_online", "pct", "note", "channels", "story")}
    assert issubclass(kinds["polite"], RadioField) and issubclass(kinds["used_online"], RadioField)
    assert issubclass(kinds["pct"], IntegerField)
    assert issubclass(kinds["note"], StringField) and issubclass(kinds["story"], TextAreaField)
    assert issubclass(kinds["channels"], SelectMultipleField)


def test_satisfaction_choices_include_no_opinion_only_when_allowed(ctx):
    form, _ = make({})
    assert [c.value for c in form["polite"].choices] == [1, 2, 3, 4, 5, 0]
    assert [c.value for c in form["overall"].choices] == [1, 2, 3, 4, 5]
    assert form["polite"].choices[-1].label == "Không có ý kiến"
    en, _ = make({}, "en")
    assert en["polite"].choices[-1].label == "No opinion / not used"


def test_valid_answers_of_every_type(ctx):
    posted = read(Q, body_of({"polite": 0, "used_online": 1, "online": 5, "overall": 4, "pct": 120,
                              "note": "  ổn  ", "channels": [1, 3], "story": "Tốt"}), "vi")
    assert posted.errors == {}
    assert posted.answers == {"polite": 0, "used_online": 1, "online": 5, "overall": 4, "pct": 120,
                              "note": "ổn", "channels": [1, 3], "story": "Tốt"}
    assert posted.submission_id == SUBMISSION


def test_blank_optional_items_are_stored_as_blanks(ctx):
    posted = read(Q, body_of({"polite": 1, "overall": 2, "story": "x", "note": "   ", "pct": " "}), "vi")
    assert posted.errors == {}
    assert posted.answers["note"] is None and posted.answers["pct"] is None and posted.answers["channels"] == []


def test_required_items_and_ranges(ctx):
    posted = read(Q, body_of({"pct": 201, "story": "x" * 21, "note": ""}), "vi")
    assert posted.errors["polite"] == "Vui lòng chọn một câu trả lời."
    assert posted.errors["overall"] == "Vui lòng chọn một câu trả lời."
    assert posted.errors["pct"] == "Vui lòng nhập một số từ 0 đến 200."
    assert posted.errors["story"] == "Tối đa 20 ký tự (hiện có 21)."
    assert "note" not in posted.errors and "used_online" not in posted.errors


def test_messages_follow_the_visitor_language():
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x", WTF_CSRF_ENABLED=False)
    with app.test_request_context("/?lang=en", method="POST"):
        posted = read(Q, body_of({"pct": 201}), "en")
    assert posted.errors["polite"] == "Please choose an answer."
    assert posted.errors["pct"] == "Please enter a number from 0 to 200."


def test_whitespace_only_text_is_missing(ctx):
    posted = read(Q, body_of({"polite": 1, "overall": 1, "story": "   "}), "vi")
    assert posted.errors == {"story": "Vui lòng nhập câu trả lời."}


def test_non_numeric_number_is_a_form_error(ctx):
    posted = read(Q, body_of({"polite": 1, "overall": 1, "story": "a", "pct": "tám mươi"}), "vi")
    assert posted.errors == {"pct": "Vui lòng nhập một số nguyên, ví dụ 80."}


def test_condition_false_discards_the_dependent_answer(ctx):
    posted = read(Q, body_of({"polite": 3, "overall": 3, "story": "a", "used_online": 2, "online": 1}), "vi")
    assert posted.errors == {}
    assert "online" not in posted.answers


def test_condition_unanswered_hides_the_dependent_item_and_its_requirement(ctx):
    required_child = copy.deepcopy(DEF)
    for section in required_child["sections"]:
        for item in section["items"]:
            if item["key"] == "online":
                item["required"] = True
    q = load_dict(required_child, "child.yaml")
    posted = read(q, body_of({"polite": 3, "overall": 3, "story": "a"}), "vi")
    assert posted.errors == {} and "online" not in posted.answers
    shown = read(q, body_of({"polite": 3, "overall": 3, "story": "a", "used_online": 1}), "vi")
    assert shown.errors == {"online": "Vui lòng chọn một câu trả lời."}


def test_condition_true_keeps_it(ctx):
    posted = read(Q, body_of({"polite": 3, "overall": 3, "story": "a", "used_online": 1, "online": 2}), "vi")
    assert posted.errors == {}
    assert posted.answers["online"] == 2


def test_a_form_shown_again_keeps_what_was_typed_and_hides_what_does_not_apply(ctx):
    body = body_of({"polite": 2, "used_online": 2, "online": 1, "pct": "tám", "channels": [3]})
    posted = read(Q, body, "vi")
    form = build_form(Q, "vi").shown_again(body, posted)
    assert form["pct"].errors == ["Vui lòng nhập một số nguyên, ví dụ 80."]
    assert form["pct"]._value() == "tám"
    assert form["polite"].data == 2 and form["channels"].data == [3]
    assert not form.item_active(Q.item("online")) and form.item_active(Q.item("polite"))
    assert set(form.errors) == set(posted.errors)


@pytest.mark.parametrize("bad, fragment", [
    ({"polite": 9}, "“9” không hợp lệ"),
    ({"channels": [1, 7]}, "“7” không hợp lệ"),
    ({"used_online": "yes"}, "“yes” không hợp lệ"),
    ({"polite": ""}, "“” không hợp lệ"),
    ({"polite": "0004"}, "“0004” không hợp lệ"),
    ({"hacker": 1}, "hacker"),
    ({"polite": [1, 2]}, "chỉ được chọn một"),
])
def test_read_refuses_what_no_form_could_send(ctx, bad, fragment):
    with pytest.raises(BadSubmission, match=fragment):
        read(Q, body_of({"polite": 1, **bad}), "vi")


@pytest.mark.parametrize("submission_id", ["", "short", "A" * 31 + "!", "A" * 33, SUBMISSION + "\n", SUBMISSION.replace("1", "١")])
def test_read_refuses_a_missing_or_malformed_submission_id(ctx, submission_id):
    body = body_of({"polite": 1})
    body["submission_id"] = submission_id
    with pytest.raises(BadSubmission, match="mã lần gửi"):
        read(Q, body, "vi")


def test_forms_are_built_once_per_version_and_language():
    assert build_form(Q, "vi") is build_form(Q, "vi")
    assert build_form(Q, "vi") is not build_form(Q, "en")
