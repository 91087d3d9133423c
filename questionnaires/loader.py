"""Questionnaire definitions: YAML file → validated plain dict → frozen objects.

Validation happens once, here; everything downstream (form builder, storage, analysis)
trusts the frozen objects. Errors name the file, the item and the problem so an
administrator can fix a definition without reading code.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent
SCHEMA_PATH = HERE / "schema.json"
# libyaml's safe loader when PyYAML was built with it (10× faster), else the pure-Python one.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SATISFACTION_CODES = (1, 2, 3, 4, 5)  # ascending, as on the official paper forms
NO_OPINION = 0
# English carries soft hyphens (U+00AD) so long words break cleanly in five 60 px columns.
SATISFACTION_LABELS = {
    5: ("Rất hài lòng", "Very satis\u00adfied"),
    4: ("Hài lòng", "Satis\u00adfied"),
    3: ("Bình thường", "Neutral"),
    2: ("Không hài lòng", "Dis\u00adsatis\u00adfied"),
    1: ("Rất không hài lòng", "Very dis\u00adsatis\u00adfied"),
    0: ("Không có ý kiến", "No opinion / not used"),
}
CODED_TYPES = frozenset({"satisfaction", "single", "multiple", "number"})
# A label that already shows its official number: "(a) …", "15. …", "Câu 2. …", "B6. …".
NUMBERED_LABEL = re.compile(r"^(\(|\d|Câu\b|[A-Z]\d)")


class QuestionnaireError(ValueError):
    """A definition is invalid: says where (file, item) and what is wrong, in Vietnamese for the
    people who check and publish questionnaires and in English (`str`, `where`, `problem`). This
    package imports nothing of the app, so it carries both; `in_language` picks one."""

    def __init__(self, source: str, where: str, problem: str, problem_vi: str) -> None:
        self.source, self.where, self.problem, self.problem_vi = source, where, problem, problem_vi
        super().__init__(f"{source}: {where}: {problem}")

    @property
    def where_vi(self) -> str:
        """`where` in Vietnamese: the words this loader puts around the keys the author wrote."""
        return WHERE_VI.sub(lambda m: WHERE_WORDS[m.group(0)], self.where)

    def in_language(self, lang: str) -> str:
        """'file: where: problem' in English for 'en', else in Vietnamese (the source language)."""
        return str(self) if lang == "en" else f"{self.source}: {self.where_vi}: {self.problem_vi}"


WHERE_WORDS = {"section '": "phần '", "item '": "câu '", "option ": "lựa chọn ", "line ": "dòng ",
               "(top level)": "(cấp trên cùng)", "(file)": "(tệp)"}
WHERE_VI = re.compile(r"\bsection '|\bitem '|\boption |^line |\(top level\)|\(file\)")


@dataclass(frozen=True)
class Text:
    vi: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


@dataclass(frozen=True)
class Option:
    code: int
    label: Text


@dataclass(frozen=True)
class Condition:
    """Show the owning item only when `item`'s answer is one of `codes`."""

    item: str
    codes: tuple[int, ...]

    def holds(self, answers: dict[str, Any]) -> bool:
        value = answers.get(self.item)
        if isinstance(value, (list, tuple, set, frozenset)):
            return any(v in self.codes for v in value)
        return value in self.codes


@dataclass(frozen=True)
class Item:
    key: str
    type: str
    label: Text
    section: str
    help: Text | None = None
    required: bool = False
    no_opinion: bool = False
    options: tuple[Option, ...] = ()
    min: int | None = None
    max: int | None = None
    max_length: int | None = None
    show_if: Condition | None = None
    role: str | None = None
    verify: str | None = None
    origin: str = "official"  # official | adapted (official content, reworded) | added by the product
    ref: str | None = None  # the item's number or letter in the official instrument ("a", "đ", "Câu 9.15", "G3")

    @cached_property  # asked for every item of every submission
    def valid_codes(self) -> frozenset[int]:
        """Codes a stored answer may carry (empty for free text and numbers)."""
        if self.type == "satisfaction":
            return frozenset(SATISFACTION_CODES + ((NO_OPINION,) if self.no_opinion else ()))
        if self.type in ("single", "multiple"):
            return frozenset(o.code for o in self.options)
        return frozenset()

    def choices(self, lang: str) -> list[tuple[int, str]]:
        """(code, label) pairs in display order."""
        if self.type == "satisfaction":
            codes = SATISFACTION_CODES + ((NO_OPINION,) if self.no_opinion else ())
            return [(c, SATISFACTION_LABELS[c][1 if lang == "en" else 0]) for c in codes]
        return [(o.code, o.label.get(lang)) for o in self.options]


@dataclass(frozen=True)
class Section:
    key: str
    title: Text
    items: tuple[Item, ...]
    help: Text | None = None
    element: bool = False


@dataclass(frozen=True)
class Rollup:
    """How criteria roll up to elements and elements to the overall index (DOMAIN.md §4)."""

    element: str = "mean_of_criteria"
    overall: str = "mean_of_elements"
    weights: tuple[tuple[str, float], ...] = ()
    overall_item: str | None = None
    comprehensive: bool = False
    note: Text | None = None
    # Set by the loader when an official index's criteria were changed (no-opinion answers, added
    # filters or criteria): every report prints it, because the figures then measure something else.
    comparability: Text | None = None


@dataclass(frozen=True)
class Header:
    """What officers expect above and below the questions (BNV and MoH forms all carry it)."""

    heading: Text
    confidentiality: Text
    instruction: Text
    thanks: Text
    issuer: Text | None = None
    purpose: Text | None = None


@dataclass(frozen=True)
class Deviation:
    """One way the form departs from its official instrument: `kind` is added, adapted or no_opinion."""

    item: str
    kind: str


@dataclass(frozen=True)
class Questionnaire:
    key: str
    version: int
    title: Text
    source_document: str
    sections: tuple[Section, ...]
    rollup: Rollup | None
    kind: str | None = None
    intro: Text | None = None
    source_note: str | None = None
    estimated_minutes: int | None = None
    header: Header | None = None
    legacy: bool = False
    official_index: bool = False
    no_opinion_official: bool = False
    definition: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    @cached_property  # walked by every submit: built once
    def items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.items)

    def item(self, key: str) -> Item:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    @cached_property
    def criteria(self) -> tuple[Item, ...]:
        """Satisfaction items of element sections: the inputs of the index."""
        return tuple(i for s in self.sections if s.element for i in s.items if i.type == "satisfaction")

    @cached_property
    def numbers(self) -> dict[str, str]:
        """The number shown before each question: the official one (`ref`) when the form has them and
        the label does not already carry it, so an officer sees the instrument's numbering; otherwise
        a running count."""
        if not any(i.ref for i in self.items):
            return {i.key: str(n) for n, i in enumerate(self.items, 1)}
        return {i.key: i.ref if i.ref and not NUMBERED_LABEL.match(i.label.vi) else "" for i in self.items}

    @cached_property
    def deviations(self) -> tuple[Deviation, ...]:
        """Items the product added or reworded, and criteria given a 'no opinion' answer the
        official form does not have: what an officer must know before comparing figures."""
        out = [Deviation(i.key, i.origin) for i in self.items if i.origin != "official"]
        if not self.no_opinion_official:
            out += [Deviation(i.key, "no_opinion") for i in self.items if i.no_opinion]
        return tuple(out)

    def structure(self) -> list[dict[str, Any]]:
        """item → element table (rows of plain dicts) for the analysis package."""
        weights = dict(self.rollup.weights) if self.rollup else {}
        return [
            {"item": i.key, "element": i.section, "weight": weights.get(i.section, 1.0)}
            for i in self.criteria
        ]

    @cached_property
    def canonical_json(self) -> str:
        return json.dumps(self.definition, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @cached_property  # a cache key on the request path: compute once
    def checksum(self) -> str:
        return hashlib.sha256(self.canonical_json.encode()).hexdigest()


def compare_versions(versions: list[Questionnaire]) -> tuple[frozenset[str], tuple[str, ...]]:
    """(keys that mean the same in every version, keys of the newest version that changed).

    An item means the same when its key, type, answer codes and condition are the same in every
    version (wording may be polished under one key; a change of meaning takes a new key). A report
    over responses to several versions compares only those, and names the others.
    """
    def signature(item: Item) -> tuple:
        return item.type, item.valid_codes, item.show_if

    newest = max(versions, key=lambda q: q.version)
    same = []
    for item in newest.items:
        sigs = set()
        for q in versions:
            try:
                sigs.add(signature(q.item(item.key)))
            except KeyError:
                sigs.add(None)
        if len(sigs) == 1:
            same.append(item.key)
    changed = tuple(i.key for i in newest.items if i.key not in same and i.type in CODED_TYPES)
    return frozenset(same), changed


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _where(data: dict, path: list) -> str:
    """Turn a JSON path into 'section X / item Y / field' using the keys the author wrote."""
    parts: list[str] = []
    node: Any = data
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            parts.append(str(step))
            continue
        if isinstance(step, int) and isinstance(node, dict) and "key" in node:
            kind = "item" if "type" in node or "label" in node else "section"
            parts[-1:] = [f"{kind} '{node['key']}'"] if parts and parts[-1] in ("items", "sections") else parts[-1:] + [f"'{node['key']}'"]
        elif isinstance(step, int) and isinstance(node, dict) and "code" in node:
            parts[-1:] = [f"option {node['code']}"]
        else:
            parts.append(str(step))
    return " / ".join(parts) or "(top level)"


def _schema_problem(err: jsonschema.ValidationError) -> tuple[str, str]:
    """(English, Vietnamese) for a schema violation; the rarer validators keep jsonschema's own English."""
    if err.validator == "required":
        missing = err.message.split(" is a required")[0]
        return f"missing {missing}", f"thiếu {missing}"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = ", ".join(map(repr, sorted(set(err.instance) - set(allowed))))
        return (f"unknown field(s) {extra}; allowed: {', '.join(allowed)}",
                f"trường không có trong lược đồ: {extra}; các trường được dùng: {', '.join(allowed)}")
    if err.validator == "enum":
        values = ", ".join(map(repr, err.validator_value))
        return f"{err.instance!r} is not one of {values}", f"{err.instance!r} không phải một trong {values}"
    if err.validator == "pattern":
        return (f"{err.instance!r} is not a valid key (lowercase letters, digits, '_' ; starts with a letter)",
                f"{err.instance!r} không phải khoá hợp lệ (chữ thường, chữ số, '_'; bắt đầu bằng chữ cái)")
    if err.validator == "type":
        return err.message, f"{err.instance!r} không phải kiểu {err.validator_value!r}"
    return err.message, f"không hợp lệ theo lược đồ (jsonschema: {err.message})"


def load_dict(data: Any, source: str = "<definition>") -> Questionnaire:
    """Validate a parsed definition and build the frozen questionnaire."""
    if not isinstance(data, dict):
        raise QuestionnaireError(source, "(top level)", "the file must be a mapping of fields (key, version, title, …)",
                                 "tệp phải là một bảng các trường (key, version, title, …)")
    errors = sorted(_validator().iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        err = max(errors, key=lambda e: len(e.absolute_path))
        raise QuestionnaireError(source, _where(data, list(err.absolute_path)), *_schema_problem(err))
    return _build(data, source)


def load_file(path: str | Path) -> Questionnaire:
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", exc)
        raise QuestionnaireError(path.name, where, f"not valid YAML: {problem}", f"không phải YAML hợp lệ: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionnaireError(path.name, "(file)", f"cannot be read: {exc}", f"không đọc được tệp: {exc}") from None
    return load_dict(data, path.name)


def bundled_paths(directory: Path = HERE) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def load_all(directory: Path = HERE) -> list[Questionnaire]:
    return [load_file(p) for p in bundled_paths(directory)]


def _text(d: dict | None) -> Text | None:
    return Text(d["vi"], d["en"]) if d else None


def _build(data: dict, source: str) -> Questionnaire:
    seen: dict[str, str] = {}
    sections: list[Section] = []
    coded: dict[str, Item] = {}
    for s in data["sections"]:
        if s["key"] in seen:
            raise QuestionnaireError(source, f"section '{s['key']}'", "duplicate key (section keys and item keys must be unique)",
                                     "khoá bị trùng (khoá của các phần và các câu phải khác nhau)")
        seen[s["key"]] = "section"
        items: list[Item] = []
        for raw in s["items"]:
            where = f"item '{raw['key']}'"
            if raw["key"] in seen:
                raise QuestionnaireError(source, where, "duplicate key (each item key must be unique in the questionnaire)",
                                         "khoá bị trùng (mỗi câu trong phiếu phải có khoá riêng)")
            seen[raw["key"]] = "item"
            item = _build_item(raw, s["key"], source, where)
            if item.show_if is not None:
                target = coded.get(item.show_if.item)
                if target is None:
                    raise QuestionnaireError(
                        source, where,
                        f"show_if refers to '{item.show_if.item}', which is not a choice or satisfaction item placed before this one",
                        f"show_if trỏ tới '{item.show_if.item}', không phải câu lựa chọn hay câu hài lòng đặt trước câu này",
                    )
                bad = set(item.show_if.codes) - target.valid_codes
                if bad:
                    raise QuestionnaireError(
                        source, where,
                        f"show_if uses code(s) {sorted(bad)} that item '{target.key}' does not have (valid: {sorted(target.valid_codes)})",
                        f"show_if dùng mã {sorted(bad)} mà câu '{target.key}' không có (mã hợp lệ: {sorted(target.valid_codes)})",
                    )
            if item.type in ("satisfaction", "single", "multiple"):
                coded[item.key] = item
            items.append(item)
        sections.append(Section(s["key"], _text(s["title"]), tuple(items), _text(s.get("help")), bool(s.get("element"))))

    rollup = _build_rollup(data.get("rollup"), sections, coded, source)
    src = data["source"]
    if rollup is not None and src.get("official_index"):
        rollup = replace(rollup, comparability=_comparability(sections, bool(src.get("no_opinion_official"))))
    head = data.get("header")
    return Questionnaire(
        key=data["key"], version=data["version"], title=_text(data["title"]),
        source_document=data["source"]["document"], source_note=data["source"].get("note"),
        sections=tuple(sections), rollup=rollup, kind=data.get("kind"), intro=_text(data.get("intro")),
        estimated_minutes=data.get("estimated_minutes"), definition=data,
        header=Header(
            heading=_text(head["heading"]), confidentiality=_text(head["confidentiality"]),
            instruction=_text(head["instruction"]), thanks=_text(head["thanks"]),
            issuer=_text(head.get("issuer")), purpose=_text(head.get("purpose")),
        ) if head else None,
        legacy=bool(src.get("legacy")), official_index=bool(src.get("official_index")),
        no_opinion_official=bool(src.get("no_opinion_official")),
    )


def _comparability(sections: list[Section], no_opinion_official: bool) -> Text | None:
    """The 'not comparable' sentence for an official index whose criteria this form changed:
    a 'no opinion' answer or a product filter changes who is in each denominator."""
    items = {i.key: i for s in sections for i in s.items}

    def added_filter(item: Item) -> bool:
        while item.show_if is not None:
            item = items[item.show_if.item]
            if item.origin == "added":
                return True
        return False

    criteria = [i for s in sections if s.element for i in s.items if i.type == "satisfaction"]
    no_opinion = [i.key for i in criteria if i.no_opinion and not no_opinion_official]
    filtered = [i.key for i in criteria if added_filter(i)]
    added = [i.key for i in criteria if i.origin == "added"]
    if not (no_opinion or filtered or added):
        return None
    vi, en = [], []
    if no_opinion:
        vi.append(f"có thêm lựa chọn “Không có ý kiến” ở {', '.join(no_opinion)}")
        en.append(f"a 'no opinion' answer was added to {', '.join(no_opinion)}")
    if filtered:
        vi.append(f"chỉ hỏi sau câu lọc do phần mềm thêm ở {', '.join(filtered)}")
        en.append(f"{', '.join(filtered)} are asked only after a filter the product added")
    if added:
        vi.append(f"có tiêu chí không thuộc phiếu chính thức: {', '.join(added)}")
        en.append(f"criteria not in the official form: {', '.join(added)}")
    return Text(
        "Số liệu của phiếu này KHÔNG so sánh được với chỉ số chính thức: " + "; ".join(vi) + ".",
        "These figures are NOT comparable with the official index: " + "; ".join(en) + ".",
    )


def _build_item(raw: dict, section: str, source: str, where: str) -> Item:
    kind = raw["type"]
    options = tuple(Option(o["code"], _text(o["label"])) for o in raw.get("options", ()))
    if kind in ("single", "multiple"):
        if not options:
            raise QuestionnaireError(source, where, f"a '{kind}' item needs 'options' (at least two)",
                                     f"câu loại '{kind}' cần 'options' (ít nhất hai lựa chọn)")
        codes = [o.code for o in options]
        if len(set(codes)) != len(codes):
            dup = sorted({c for c in codes if codes.count(c) > 1})
            raise QuestionnaireError(source, where, f"option code(s) {dup} used more than once", f"mã lựa chọn {dup} dùng hơn một lần")
    elif options:
        raise QuestionnaireError(source, where, f"'options' is only for single/multiple items, not '{kind}'",
                                 f"'options' chỉ dành cho câu single/multiple, không dành cho '{kind}'")
    if kind == "number":
        lo, hi = raw.get("min"), raw.get("max")
        if lo is None or hi is None:
            raise QuestionnaireError(source, where, "a number item needs both 'min' and 'max'", "câu số cần cả 'min' và 'max'")
        if lo > hi:
            raise QuestionnaireError(source, where, f"min ({lo}) is greater than max ({hi})", f"min ({lo}) lớn hơn max ({hi})")
    elif "min" in raw or "max" in raw:
        raise QuestionnaireError(source, where, "'min'/'max' are only for number items", "'min'/'max' chỉ dành cho câu số")
    if raw.get("no_opinion") and kind != "satisfaction":
        raise QuestionnaireError(source, where, "'no_opinion' is only for satisfaction items",
                                 "'no_opinion' chỉ dành cho câu hài lòng")
    if "max_length" in raw and kind not in ("text", "textarea"):
        raise QuestionnaireError(source, where, "'max_length' is only for text items", "'max_length' chỉ dành cho câu trả lời chữ")
    cond = raw.get("show_if")
    return Item(
        key=raw["key"], type=kind, label=_text(raw["label"]), section=section, help=_text(raw.get("help")),
        required=bool(raw.get("required")), no_opinion=bool(raw.get("no_opinion")), options=options,
        min=raw.get("min"), max=raw.get("max"),
        max_length=raw.get("max_length", 200 if kind == "text" else 2000 if kind == "textarea" else None),
        show_if=Condition(cond["item"], tuple(cond["in"])) if cond else None,
        role=raw.get("role"), verify=raw.get("verify"), origin=raw.get("origin", "official"), ref=raw.get("ref"),
    )


def _build_rollup(raw: dict | None, sections: list[Section], coded: dict[str, Item], source: str) -> Rollup | None:
    elements = [s for s in sections if s.element]
    if raw is None:
        if elements:
            raise QuestionnaireError(source, "rollup", "sections are marked as elements but no 'rollup' rule is given",
                                     "có phần được đánh dấu là yếu tố nhưng không có quy tắc 'rollup'")
        return None
    if not elements:
        raise QuestionnaireError(source, "rollup", "a rollup needs at least one section with 'element: true'",
                                 "'rollup' cần ít nhất một phần có 'element: true'")
    for s in elements:
        if not any(i.type == "satisfaction" for i in s.items):
            raise QuestionnaireError(source, f"section '{s.key}'", "an element section needs at least one satisfaction item",
                                     "phần là yếu tố cần ít nhất một câu hài lòng")
    weights = raw.get("weights", {})
    element_keys = {s.key for s in elements}
    unknown = set(weights) - element_keys
    if unknown:
        raise QuestionnaireError(source, "rollup / weights", f"unknown element(s) {sorted(unknown)}; elements are {sorted(element_keys)}",
                                 f"không có yếu tố {sorted(unknown)}; các yếu tố là {sorted(element_keys)}")
    if raw["overall"] == "weighted" and set(weights) != element_keys:
        missing = sorted(element_keys - set(weights))
        raise QuestionnaireError(source, "rollup / weights", f"'weighted' needs a weight for every element: missing {missing}",
                                 f"'weighted' cần trọng số cho mọi yếu tố: còn thiếu {missing}")
    overall_item = raw.get("overall_item")
    if overall_item is not None:
        target = coded.get(overall_item)
        if target is None or target.type != "satisfaction":
            raise QuestionnaireError(source, "rollup / overall_item", f"'{overall_item}' is not a satisfaction item of this questionnaire",
                                     f"'{overall_item}' không phải câu hài lòng của phiếu này")
    return Rollup(
        element=raw["element"], overall=raw["overall"], weights=tuple(sorted(weights.items())),
        overall_item=overall_item, comprehensive=bool(raw.get("comprehensive")), note=_text(raw.get("note")),
    )
