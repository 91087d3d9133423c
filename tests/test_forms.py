"""The form builder: one field per item type, validation and conditional resolution."""
from __future__ import annotations

import copy

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField, RadioField, SelectMultipleField, StringField, TextAreaField

from questionnaires.loader import load_dict
from survey.forms import BadSubmission, build_form
from tests.test_loader import BASE

DEF = copy.deepcopy(BASE)
DEF["sections"][1]["items"] += [
    {"key": "channels", "type": "multiple", "label": {"vi": "Kênh", "en": "Channels"},
     "options": [{"code": c, "label": {"vi": f"Kênh {c}", "en": f"Channel {c}"}} for c in (1, 2, 3)]},
    {"key": "story", "type": "textarea", "required": True, "max_length": 20, "label": {"vi": "Kể lại", "en": "Tell us"}},
]
Q = load_dict(DEF, "mini.yaml")
SUBMISSION = "A" * 32


@pytest.fixture
def ctx():
    app = Flask(__name__)
    app.config.update(SECRET_KEY="x", WTF_CSRF_ENABLED=False)
    with app.test_request_context(method="POST"):
        yield


def make(data: dict, lang: str = "vi"):
    body = MultiDict({"submission_id": SUBMISSION})
    for k, v in data.items():
        for x in v if isinstance(v, list) else [v]:
            body.add(k, str(x))
    form = build_form(Q, lang)(formdata=body)
    return form, body


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
    form, body = make({"polite": 0, "used_online": 1, "online": 5, "overall": 4, "pct": 120,
                       "note": "  ổn  ", "channels": [1, 3], "story": "Tốt"})
    form.check_post(body)
    assert form.validate(), form.errors
    assert form.answers() == {"polite": 0, "used_online": 1, "online": 5, "overall": 4, "pct": 120,
                              "note": "ổn", "channels": [1, 3], "story": "Tốt"}


def test_required_items_and_ranges(ctx):
    form, _ = make({"pct": 201, "story": "x" * 21, "note": ""})
    assert not form.validate()
    assert form.errors["polite"] == ["Vui lòng chọn một câu trả lời."]
    assert form.errors["overall"] == ["Vui lòng chọn một câu trả lời."]
    assert form.errors["pct"] == ["Vui lòng nhập một số từ 0 đến 200."]
    assert form.errors["story"] == ["Tối đa 20 ký tự (hiện có 21)."]
    assert "note" not in form.errors and "used_online" not in form.errors


def test_whitespace_only_text_is_missing(ctx):
    form, _ = make({"polite": 1, "overall": 1, "story": "   "})
    assert not form.validate()
    assert form.errors == {"story": ["Vui lòng nhập câu trả lời."]}


def test_non_numeric_number_is_a_form_error(ctx):
    form, _ = make({"polite": 1, "overall": 1, "story": "a", "pct": "tám mươi"})
    assert not form.validate()
    assert form.errors["pct"] == ["Vui lòng nhập một số nguyên, ví dụ 80."]


def test_condition_false_discards_the_dependent_answer(ctx):
    form, _ = make({"polite": 3, "overall": 3, "story": "a", "used_online": 2, "online": 1})
    assert form.validate(), form.errors
    assert "online" not in form.answers()


def test_condition_true_keeps_it(ctx):
    form, _ = make({"polite": 3, "overall": 3, "story": "a", "used_online": 1, "online": 2})
    assert form.validate()
    assert form.answers()["online"] == 2


@pytest.mark.parametrize("bad, fragment", [
    ({"polite": 9}, "“9” không hợp lệ"),
    ({"channels": [1, 7]}, "“7” không hợp lệ"),
    ({"used_online": "yes"}, "“yes” không hợp lệ"),
    ({"hacker": 1}, "hacker"),
    ({"polite": [1, 2]}, "chỉ được chọn một"),
])
def test_check_post_refuses_what_no_form_could_send(ctx, bad, fragment):
    form, body = make({"polite": 1, **bad})
    with pytest.raises(BadSubmission, match=fragment):
        form.check_post(body)


def test_forms_are_built_once_per_version_and_language():
    assert build_form(Q, "vi") is build_form(Q, "vi")
    assert build_form(Q, "vi") is not build_form(Q, "en")
