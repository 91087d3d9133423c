"""Responses from a spreadsheet: paper forms keyed in, or an export of an earlier system.

One row per respondent, one column per item key (plus optional tag columns). Every cell is
checked against the questionnaire as the web form checks it (codes, required items, show_if,
number ranges, text length); every bad row is reported with its line (as Excel numbers it,
the header being line 1), column and reason. Nothing is dropped silently: good rows are
stored, bad rows listed, and the caller decides whether one bad row refuses the whole file.

Repeating an import stores nothing twice. Each row gets an idempotency key (the existing
idempotency_keys table) from its form_id when the file has one (the number printed on a
paper form), otherwise from its parsed content and how many identical rows came before it in
the file. So a file re-imported after fixing its bad rows adds only the fixed rows, and two
identical forms in one file are two respondents. A row identical to one already imported from
another file is skipped and listed, never dropped unseen; give such files a form_id column.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from questionnaires.loader import Item, Questionnaire

from .. import sheets
from ..citizen import quality
from ..models import (
    Answer,
    Counter,
    IdempotencyKey,
    Procedure,
    QuestionnaireVersion,
    Response,
    ResponseFlag,
    Unit,
)
from ..models.registry import counter_fields
from ..registry.units import FieldLookup
from ..responses import answer_rows
from .counts import VN

TAG_COLUMNS = ("unit", "field", "procedure", "counter", "submitted_at", "channel", "source", "form_id")
CHANNELS = ("web", "counter", "dossier", "paper", "phone", "post")
SOURCES = ("feedback", "sample")
EARLIEST = date(2000, 1, 1)  # an older date is a typing error, not a survey
FORM_ID_MAX = 64
TEXT_CELL_CHARS = 5000  # the longest text answer a questionnaire may allow (schema.json max_length)
CODE_TEXT = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")  # ASCII digits only: not '١', '１', '1_0' or '1e0'


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, empty, unknown columns): says why."""


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass
class ImportResult:
    """What an import did: rows stored, rows already there, problems (one or more per bad row)."""

    imported: int = 0
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (line, response id already stored)
    problems: list[Problem] = field(default_factory=list)
    blank_lines: int = 0
    dated_by_option: int = 0  # rows without submitted_at, dated by --date
    flagged: int = 0

    @property
    def bad_lines(self) -> list[int]:
        return sorted({p.line for p in self.problems})


@dataclass(frozen=True)
class _Row:
    line: int
    answers: dict[str, Any]
    tags: dict[str, Any]
    submitted_at: datetime
    key: str


# ---------------------------------------------------------------- reading the file


def read_table(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line, cells)]) of a CSV (UTF-8, with or without BOM; ',' or ';') or XLSX file,
    read through the shared, bounded reader (survey.sheets): a free-text cell may hold line breaks
    and up to the longest text any questionnaire allows."""
    path = Path(path)
    header: list[str] | None = None
    body: list[tuple[int, list[str]]] = []
    try:
        for line, cells in sheets.read_cells(path, cell_chars=TEXT_CELL_CHARS, multiline=True):
            if header is None:
                if not any(cells):
                    continue  # blank lines above the header
                header = [c.lower() for c in cells]
                header_line = line
                continue
            body.append((line, cells))
    except sheets.SheetError as exc:
        raise ImportFileError(str(exc)) from None
    if header is None:
        raise ImportFileError(f"{path.name}: the file is empty (expected a header row of item keys)")
    while header and not header[-1]:
        header.pop()  # trailing empty header cells (Excel's used range)
    unnamed = [i + 1 for i, h in enumerate(header) if not h]
    if unnamed:
        raise ImportFileError(f"{path.name}: header (line {header_line}) has no name in column(s) {', '.join(map(str, unnamed))}")
    doubled = sorted({h for h in header if header.count(h) > 1})
    if doubled:
        raise ImportFileError(f"{path.name}: column(s) {', '.join(doubled)} appear twice in the header")
    return header, body


# ---------------------------------------------------------------- checking rows


def check_columns(header: list[str], questionnaire: Questionnaire, file: str) -> None:
    """Refuse the file before any row when a column is neither an item key nor a tag."""
    known = {i.key for i in questionnaire.items} | set(TAG_COLUMNS)
    unknown = [h for h in header if h not in known]
    if unknown:
        raise ImportFileError(
            f"{file}: unknown column(s) {', '.join(unknown)}: not items of {questionnaire.key} "
            f"v{questionnaire.version} nor tags ({', '.join(TAG_COLUMNS)}). Rename or delete them; "
            f"the items are: {', '.join(i.key for i in questionnaire.items)}"
        )
    if not any(h in {i.key for i in questionnaire.items} for h in header):
        raise ImportFileError(f"{file}: no column is an item of {questionnaire.key}; the header must use the item keys")


def _integer(text: str) -> int:
    if not CODE_TEXT.fullmatch(text):
        raise ValueError(text)
    value = float(text.replace(",", "."))
    if not value.is_integer():
        raise ValueError
    return int(value)


def _parse_answer(item: Item, text: str) -> tuple[Any, str | None]:
    """(value, problem) for one cell; empty cells are None."""
    if not text:
        return None, None
    if item.type in ("satisfaction", "single"):
        try:
            code = _integer(text)
        except ValueError:
            return None, f"'{text[:20]}' is not a code; use one of {_codes(item)}"
        if code not in item.valid_codes:
            return None, f"{code} is not a valid code; use one of {_codes(item)}"
        return code, None
    if item.type == "multiple":
        parts = [p.strip() for p in text.replace(",", ";").replace(" ", ";").split(";") if p.strip()]
        try:
            codes = sorted({_integer(p) for p in parts})
        except ValueError:
            return None, f"'{text[:20]}' is not a list of codes (e.g. 1;3); use codes from {_codes(item)}"
        bad = [c for c in codes if c not in item.valid_codes]
        if bad:
            return None, f"{', '.join(map(str, bad))} not valid; use codes from {_codes(item)}, separated by ';'"
        return codes, None
    if item.type == "number":
        try:
            number = _integer(text)
        except ValueError:
            return None, f"'{text[:20]}' is not a whole number"
        if not item.min <= number <= item.max:
            return None, f"{number} is outside {item.min}–{item.max}"
        return number, None
    if item.max_length is not None and len(text) > item.max_length:
        return None, f"text is {len(text)} characters long; at most {item.max_length}"
    return text, None


def _codes(item: Item) -> str:
    codes = sorted(item.valid_codes)
    return f"{codes[0]}–{codes[-1]}" if codes == list(range(codes[0], codes[-1] + 1)) and len(codes) > 3 else ", ".join(map(str, codes))


def parse_day(text: str) -> date:
    """dd/mm/yyyy (the Vietnamese way) or an ISO date yyyy-mm-dd (a time after it is ignored)."""
    text = text.strip()
    if not text.isascii():  # strptime would read Arabic-Indic or full-width digits too
        raise ValueError(f"'{text[:20]}' is not a date; use dd/mm/yyyy or yyyy-mm-dd in ordinary digits")
    for fmt, part in (("%d/%m/%Y", text), ("%Y-%m-%d", text[:10]), ("%d-%m-%Y", text)):
        try:
            return datetime.strptime(part, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"'{text[:20]}' is not a date; use dd/mm/yyyy or yyyy-mm-dd")


class _Registry:
    """Codes of units, fields, procedures and counters, read once per import."""

    def __init__(self, session: Session) -> None:
        self.units = dict(session.execute(select(Unit.code, Unit.id)).all())
        self.fields = FieldLookup(session)
        self.field_codes = {f.id: f.code for f in self.fields.fields}
        self.served: dict[int, set[int]] = {}  # counter id → the fields it serves
        for counter_id, field_id in session.execute(select(counter_fields.c.counter_id, counter_fields.c.field_id)):
            self.served.setdefault(counter_id, set()).add(field_id)
        self.procedures = {code: (pid, fid) for code, pid, fid in session.execute(select(Procedure.code, Procedure.id, Procedure.field_id))}
        self.counters = {
            (unit_id, code): (cid, key) for cid, unit_id, code, key in
            session.execute(select(Counter.id, Counter.unit_id, Counter.code, Counter.questionnaire_key))
        }


def _tags(values: dict[str, str], reg: _Registry, questionnaire: Questionnaire, today: date,
          default_day: date | None = None) -> tuple[dict[str, Any], date | None, list[tuple[str, str]]]:
    """Tag ids from the tag columns, the day, and the problems found.

    The day decides which period, and so which target, a response counts for: a row without
    one is refused unless the import gives a `default_day` (--date) for the whole file.
    """
    problems: list[tuple[str, str]] = []
    tags: dict[str, Any] = {"channel": values.get("channel") or "paper", "source": values.get("source") or "feedback"}
    if tags["channel"] not in CHANNELS:
        problems.append(("channel", f"'{tags['channel']}' is not a channel; use one of {', '.join(CHANNELS)}"))
    if tags["source"] not in SOURCES:
        problems.append(("source", f"'{tags['source']}' is not a source; use feedback (ý kiến tại quầy) or sample (khảo sát chọn mẫu)"))
    unit = values.get("unit", "")
    tags["unit_id"] = reg.units.get(unit) if unit else None
    if unit and tags["unit_id"] is None:
        problems.append(("unit", f"unknown unit code '{unit}'"))
    field_text = values.get("field", "")
    found_field = reg.fields.find(field_text) if field_text.strip() else None
    tags["field_id"] = found_field.id if found_field else None
    field_code = found_field.code if found_field else field_text
    if field_text.strip() and found_field is None:
        problems.append(("field", reg.fields.unknown(field_text)))
    procedure = values.get("procedure", "")
    tags["procedure_id"] = None
    if procedure:
        if procedure not in reg.procedures:
            problems.append(("procedure", f"unknown procedure code '{procedure}'"))
        else:
            tags["procedure_id"], procedure_field = reg.procedures[procedure]
            if tags["field_id"] is None and not field_code:
                tags["field_id"] = procedure_field  # the procedure says which field it belongs to
            elif tags["field_id"] is not None and tags["field_id"] != procedure_field:
                problems.append(("procedure", f"procedure '{procedure}' is not in field '{field_code}'"))
    counter = values.get("counter", "")
    tags["counter_id"] = None
    if counter:
        if not unit:
            problems.append(("counter", "a counter code needs the unit column (counter codes are per unit)"))
        elif tags["unit_id"] is not None:
            found = reg.counters.get((tags["unit_id"], counter))
            if found is None:
                problems.append(("counter", f"unit '{unit}' has no counter '{counter}'"))
            elif found[1] != questionnaire.key:
                problems.append(("counter", f"counter '{counter}' of unit '{unit}' collects '{found[1]}', not '{questionnaire.key}'"))
            else:
                tags["counter_id"] = found[0]
                served = reg.served.get(found[0], set())
                if tags["field_id"] is not None and served and tags["field_id"] not in served:
                    names = ", ".join(sorted(reg.field_codes[f] for f in served))
                    problems.append(("field", f"counter '{counter}' of unit '{unit}' does not serve field "
                                              f"'{reg.field_codes[tags['field_id']]}' (it serves: {names}); "
                                              "correct the field or the counter"))
    day = None
    if values.get("submitted_at"):
        try:
            day = parse_day(values["submitted_at"])
        except ValueError as exc:
            problems.append(("submitted_at", str(exc)))
        else:
            if day > today:
                problems.append(("submitted_at", f"{day:%d/%m/%Y} is in the future"))
            elif day < EARLIEST:
                problems.append(("submitted_at", f"{day:%d/%m/%Y} is before {EARLIEST:%Y}; check the year"))
    elif default_day is not None:
        day = default_day
    else:
        problems.append(("submitted_at", "blank: the date decides the period and the target that applies; write the "
                                         "day the form was filled in (dd/mm/yyyy), or give --date dd/mm/yyyy for "
                                         "every undated row of the file"))
    form_id = values.get("form_id", "")
    if len(form_id) > FORM_ID_MAX:
        problems.append(("form_id", f"longer than {FORM_ID_MAX} characters"))
    return tags, day, problems


def _answers(values: dict[str, str], questionnaire: Questionnaire) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Parsed answers and the problems: codes, ranges, lengths, then required and show_if."""
    answers: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for item in questionnaire.items:
        value, problem = _parse_answer(item, values.get(item.key, ""))
        if problem:
            problems.append((item.key, problem))
        answers[item.key] = value
    bad = {column for column, _ in problems}
    for item in questionnaire.items:
        if item.key in bad:
            continue
        shown = item.show_if is None or item.show_if.holds(answers)
        parent_known = item.show_if is None or item.show_if.item not in bad
        if not parent_known:
            continue
        if not shown and answers[item.key] not in (None, []):
            parent = answers.get(item.show_if.item)
            problems.append((item.key, f"answered, but it is only asked when {item.show_if.item} is "
                                       f"{' or '.join(map(str, item.show_if.codes))} (here: {parent if parent is not None else 'blank'})"))
        elif shown and item.required and answers[item.key] in (None, []):
            problems.append((item.key, "required, but blank"))
    return {k: v for k, v in answers.items() if v not in (None, [])}, problems


def _key(questionnaire: Questionnaire, form_id: str, content: str, occurrence: int) -> str:
    basis = f"{questionnaire.key}:form:{form_id}" if form_id else f"{questionnaire.key}:row:{content}:{occurrence}"
    return hashlib.sha256(f"sipas-import:{basis}".encode()).hexdigest()


def check_rows(session: Session, header: list[str], body: list[tuple[int, list[str]]], questionnaire: Questionnaire,
               now: datetime, default_day: date | None = None) -> tuple[list[_Row], ImportResult]:
    """Parse and check every row; good rows carry their idempotency key."""
    result = ImportResult()
    reg = _Registry(session)
    today = now.astimezone(VN).date()
    good: list[_Row] = []
    seen_content: dict[str, int] = {}
    seen_form: dict[str, int] = {}
    for line, cells in body:
        if not any(cells):
            result.blank_lines += 1
            continue
        extra = [c for c in cells[len(header):] if c]
        values = dict(zip(header, cells))
        tags, day, problems = _tags(values, reg, questionnaire, today, default_day)
        if any(values.get(i.key) for i in questionnaire.items):
            answers, answer_problems = _answers(values, questionnaire)
            problems += answer_problems
        else:  # only tags: one line, not one per required item
            answers = {}
            problems.append(("", "no answers in this row"))
        if extra:
            problems.insert(0, ("", f"{len(extra)} value(s) right of the last named column ('{extra[0][:20]}')"))
        form_id = values.get("form_id", "")
        if form_id and form_id in seen_form:
            problems.append(("form_id", f"'{form_id}' is already used on line {seen_form[form_id]}"))
        if problems:
            result.problems.extend(Problem(line, column, reason) for column, reason in problems)
            continue
        if form_id:
            seen_form[form_id] = line
        where = {c: values.get(c, "") for c in ("unit", "field", "procedure", "counter")}
        content = json.dumps([answers, where, tags["channel"], tags["source"], day.isoformat() if day else None],
                             sort_keys=True, ensure_ascii=False)
        occurrence = seen_content.get(content, 0)
        seen_content[content] = occurrence + 1
        # a dated paper form is stamped at noon Vietnam time: the same day in every time zone view
        when = datetime.combine(day, time(12), tzinfo=VN).astimezone(UTC)
        result.dated_by_option += not values.get("submitted_at")
        good.append(_Row(line, answers, tags, when, _key(questionnaire, form_id, content, occurrence)))
    return good, result


# ---------------------------------------------------------------- storing


def import_file(session: Session, path: str | Path, version: QuestionnaireVersion, questionnaire: Questionnaire,
                all_or_nothing: bool = False, now: datetime | None = None, default_day: date | None = None) -> ImportResult:
    """Check every row of the file and store the good ones (none if `all_or_nothing` and any is bad).

    Adds to the session only; the caller commits (or rolls back for a dry run).
    """
    path = Path(path)
    header, body = read_table(path)
    check_columns(header, questionnaire, path.name)
    good, result = check_rows(session, header, body, questionnaire, now or datetime.now(UTC), default_day)
    if all_or_nothing and result.problems:
        return result
    existing: dict[str, int] = {}
    keys = [row.key for row in good]
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        existing.update(session.execute(
            select(IdempotencyKey.key, IdempotencyKey.response_id).where(IdempotencyKey.key.in_(chunk))
        ).all())
    fresh = []
    for row in good:
        if row.key in existing:
            result.duplicates.append((row.line, existing[row.key]))
        else:
            fresh.append(row)
    responses = []
    for row in fresh:
        response = Response(version_id=version.id, submitted_at=row.submitted_at, duration_ms=None, language="vi", **row.tags)
        flags = quality.submission_flags(questionnaire, row.answers, None, None)  # straight-lining, as on the web
        response.flags = [ResponseFlag(reason=reason, detail=detail) for reason, detail in flags]
        result.flagged += bool(flags)
        responses.append(response)
    session.add_all(responses)
    session.flush()
    answers = [{"response_id": r.id, **a} for row, r in zip(fresh, responses) for a in answer_rows(questionnaire, row.answers)]
    if answers:
        session.execute(insert(Answer), answers)
    session.add_all(IdempotencyKey(key=row.key, response_id=r.id) for row, r in zip(fresh, responses))
    session.flush()
    result.imported = len(fresh)
    return result


def template_header(questionnaire: Questionnaire) -> list[str]:
    """The columns a keying template for this questionnaire has, tags first."""
    return ["form_id", "submitted_at", "unit", "counter", "field", "procedure", "channel", "source",
            *(i.key for i in questionnaire.items)]

