"""The questionnaire loader: every bundled file loads; every kind of mistake is named."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from questionnaires.loader import (
    QuestionnaireError,
    bundled_paths,
    load_dict,
    load_file,
)

BASE = {
    "key": "mini",
    "version": 1,
    "title": {"vi": "Phiếu nhỏ", "en": "Small form"},
    "source": {"document": "test"},
    "rollup": {"element": "mean_of_criteria", "overall": "mean_of_elements", "overall_item": "overall"},
    "sections": [
        {"key": "staff", "element": True, "title": {"vi": "Công chức", "en": "Staff"}, "items": [
            {"key": "polite", "type": "satisfaction", "no_opinion": True, "required": True,
             "label": {"vi": "Lịch sự", "en": "Polite"}},
            {"key": "used_online", "type": "single", "label": {"vi": "Dùng trực tuyến?", "en": "Used online?"},
             "options": [{"code": 1, "label": {"vi": "Có", "en": "Yes"}}, {"code": 2, "label": {"vi": "Không", "en": "No"}}]},
            {"key": "online", "type": "satisfaction", "show_if": {"item": "used_online", "in": [1]},
             "label": {"vi": "Dịch vụ trực tuyến", "en": "Online service"}},
        ]},
        {"key": "end", "title": {"vi": "Chung", "en": "Overall"}, "items": [
            {"key": "overall", "type": "satisfaction", "required": True, "label": {"vi": "Nhìn chung", "en": "Overall"}},
            {"key": "pct", "type": "number", "min": 0, "max": 200, "label": {"vi": "Phần trăm", "en": "Percent"}},
            {"key": "note", "type": "text", "max_length": 50, "label": {"vi": "Ghi chú", "en": "Note"}},
        ]},
    ],
}


def mutate(fn) -> dict:
    data = copy.deepcopy(BASE)
    fn(data)
    return data


def item(data: dict, key: str) -> dict:
    return next(i for s in data["sections"] for i in s["items"] if i["key"] == key)


def test_base_definition_is_valid():
    q = load_dict(copy.deepcopy(BASE), "mini.yaml")
    assert [c.key for c in q.criteria] == ["polite", "online"]
    assert q.item("polite").valid_codes == {0, 1, 2, 3, 4, 5}
    assert q.item("overall").valid_codes == {1, 2, 3, 4, 5}
    assert q.item("used_online").valid_codes == {1, 2}
    assert q.structure() == [
        {"item": "polite", "element": "staff", "weight": 1.0},
        {"item": "online", "element": "staff", "weight": 1.0},
    ]


@pytest.mark.parametrize("path", bundled_paths(), ids=lambda p: p.name)
def test_bundled_questionnaires_load(path: Path):
    q = load_file(path)
    assert path.stem == q.key, "file name must match the key"
    assert q.rollup is not None and q.criteria, "every bundled form feeds the index"
    for i in q.items:
        assert i.label.vi and i.label.en


def test_sipas_has_five_elements_and_22_criteria():
    q = load_file(Path("questionnaires/sipas-2017.yaml"))
    assert [s.key for s in q.sections if s.element] == ["access", "procedure", "staff", "result", "feedback"]
    assert len(q.criteria) == 22
    assert q.rollup.overall_item == "overall"


def test_checksum_changes_with_content_only():
    a = load_dict(copy.deepcopy(BASE))
    b = load_dict(mutate(lambda d: d["title"].update(vi="Phiếu khác")))
    assert a.checksum == load_dict(copy.deepcopy(BASE)).checksum
    assert a.checksum != b.checksum


MISTAKES = {
    "missing title": (lambda d: d.pop("title"), "(top level)", "missing 'title'"),
    "unknown top field": (lambda d: d.update(colour="red"), "(top level)", "unknown field"),
    "bad questionnaire key": (lambda d: d.update(key="Bad Key"), "key", "not a valid key"),
    "missing english label": (lambda d: item(d, "polite")["label"].pop("en"), "section 'staff' / item 'polite' / label", "missing 'en'"),
    "unknown item type": (lambda d: item(d, "polite").update(type="slider"), "section 'staff' / item 'polite' / type", "'slider' is not one of"),
    "unknown item field": (lambda d: item(d, "polite").update(colour=1), "section 'staff' / item 'polite'", "unknown field(s) 'colour'"),
    "duplicate item key": (lambda d: d["sections"][1]["items"].append(copy.deepcopy(item(d, "overall"))), "item 'overall'", "duplicate key"),
    "duplicate option code": (lambda d: item(d, "used_online")["options"][1].update(code=1), "item 'used_online'", "used more than once"),
    "choice without options": (lambda d: item(d, "used_online").pop("options"), "item 'used_online'", "needs 'options'"),
    "options on satisfaction": (lambda d: item(d, "polite").update(options=item(d, "used_online")["options"]), "item 'polite'", "only for single/multiple"),
    "number without range": (lambda d: item(d, "pct").pop("max"), "item 'pct'", "needs both 'min' and 'max'"),
    "number min above max": (lambda d: item(d, "pct").update(min=300), "item 'pct'", "min (300) is greater than max (200)"),
    "no_opinion on number": (lambda d: item(d, "pct").update(no_opinion=True), "item 'pct'", "only for satisfaction"),
    "max_length on number": (lambda d: item(d, "pct").update(max_length=5), "item 'pct'", "only for text"),
    "show_if unknown item": (lambda d: item(d, "online")["show_if"].update(item="nope"), "item 'online'", "'nope'"),
    "show_if later item": (lambda d: item(d, "polite").update(show_if={"item": "overall", "in": [5]}), "item 'polite'", "placed before this one"),
    "show_if impossible code": (lambda d: item(d, "online")["show_if"].update({"in": [7]}), "item 'online'", "code(s) [7]"),
    "elements without rollup": (lambda d: d.pop("rollup"), "rollup", "no 'rollup' rule"),
    "rollup without elements": (lambda d: d["sections"][0].pop("element"), "rollup", "at least one section with 'element: true'"),
    "element without satisfaction": (lambda d: d["sections"][0].update(items=[item(d, "used_online")]), "section 'staff'", "at least one satisfaction item"),
    "weights for unknown element": (lambda d: d["rollup"].update(weights={"nope": 1}), "rollup / weights", "unknown element(s) ['nope']"),
    "weighted without all weights": (lambda d: d["rollup"].update(overall="weighted"), "rollup / weights", "missing ['staff']"),
    "overall item not satisfaction": (lambda d: d["rollup"].update(overall_item="pct"), "rollup / overall_item", "not a satisfaction item"),
    "unknown rollup method": (lambda d: d["rollup"].update(element="median"), "rollup / element", "'median' is not one of"),
    "version not a number": (lambda d: d.update(version="one"), "version", "not of type 'integer'"),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_names_file_place_and_problem(name: str):
    fn, where, problem = MISTAKES[name]
    with pytest.raises(QuestionnaireError) as info:
        load_dict(mutate(fn), "mini.yaml")
    err = info.value
    assert err.source == "mini.yaml"
    assert err.where == where, str(err)
    assert problem in err.problem, str(err)
    assert str(err).startswith("mini.yaml: ")


VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹáàãéèíìóòõúùýĐ]")


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_is_said_in_vietnamese_first(name: str):
    fn, where, _problem = MISTAKES[name]
    with pytest.raises(QuestionnaireError) as info:
        load_dict(mutate(fn), "mini.yaml")
    vi = info.value.in_language("vi")
    assert vi.startswith("mini.yaml: ") and VIETNAMESE.search(info.value.problem_vi), vi
    assert info.value.problem not in vi and info.value.in_language("en") == str(info.value)
    # the author's keys stay as written; only the loader's own words around them change
    where_vi = info.value.where_vi
    assert re.findall(r"'[^']*'", where_vi) == re.findall(r"'[^']*'", where), where_vi
    assert not re.search(r"\b(section|item|option) |top level", where_vi), where_vi


def test_invalid_yaml_names_the_line(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("key: x\nsections: [\n  - a: b\n", encoding="utf-8")
    with pytest.raises(QuestionnaireError) as info:
        load_file(path)
    assert info.value.source == "broken.yaml"
    assert info.value.where.startswith("line ")
    assert "not valid YAML" in info.value.problem


def test_not_a_mapping(tmp_path: Path):
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump(["a", "b"]), encoding="utf-8")
    with pytest.raises(QuestionnaireError, match="must be a mapping"):
        load_file(path)


def test_loaded_objects_are_frozen():
    q = load_dict(copy.deepcopy(BASE))
    with pytest.raises(AttributeError):
        q.key = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        q.item("polite").required = False  # type: ignore[misc]
