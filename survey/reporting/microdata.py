"""Anonymised microdata of one questionnaire for statisticians: one row per respondent, one
column per item, with a codebook; written as CSV, XLSX or SPSS .sav.

What leaves is chosen so that no row points at a person: a running row number instead of the
database id (ids would link a row to the audit trail and to the exact order of arrival), the
Vietnam-time month instead of the timestamp (with unit, field and channel, a day and an hour can
single out one visitor at one counter), never the device hash, and free text through
`comments.mask` as on the dashboard. Every text cell goes through `sheets.safe_cell` in CSV and
XLSX. Rows are read in chunks of responses ordered by id (keyset pagination: each chunk is one
short query for the responses, one for their coded answers, one for their free text and one for
their flags), so memory does not grow with the selection; a CSV chunk goes out as text lines
(csv_lines), XLSX and .sav take typed rows (rows). Only a .sav is built as one bounded frame
(pyreadstat cannot append), hence SAV_MAX_ROWS.
"""
from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import BigInteger, String, exists, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from questionnaires.loader import Item, Questionnaire, compare_versions

from .. import catalog
from ..i18n import N_, _, format_number
from ..models import Answer, Field, Response, ResponseFlag, Unit
from ..sheets import safe_cell
from .comments import mask
from .counts import VN, local_month, unindexed
from .selection import Scope, Selection, fetch_rows, filter_responses, resolve

FORMATS = ("csv", "xlsx", "sav")
CHUNK = 5_000  # responses per read: about 170,000 answer rows of the widest questionnaire
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row
SAV_MAX_ROWS = 200_000  # the .sav is one in-memory frame: 100,000 rows × 55 columns peaked at 328 MB (bench)
CODEBOOK_HEADER = (N_("cột"), N_("câu hỏi (mã)"), N_("số câu"), N_("nội dung"), N_("kiểu"), N_("mã"), N_("ý nghĩa"),
                   N_("ghi chú"))
DATA_SHEET, CODEBOOK_SHEET = "Du lieu", "Bang ma"
TYPE_VI = {"satisfaction": N_("thang hài lòng 1–5"), "single": N_("chọn một"),
           "multiple": N_("chọn nhiều: 1 = có chọn, 0 = không chọn"), "number": N_("số nguyên"),
           "text": N_("chữ (đã ẩn thông tin cá nhân)"), "textarea": N_("chữ (đã ẩn thông tin cá nhân)"),
           "tag": N_("thông tin phiếu")}
NO_YES = ((0, N_("không")), (1, N_("có")))


class MicrodataError(ValueError):
    """The selection cannot be written in this format (too many rows for XLSX or .sav): says the fix."""


@dataclass(frozen=True)
class Column:
    name: str  # header cell and SPSS variable name
    item: str | None  # the item key, None for response-level columns
    kind: str  # an item type, "option" (one option of a multiple-choice item) or "tag"
    label: str  # wording (Vietnamese; the tags' in the reader's language)
    number: str = ""  # the question's number on the form
    values: tuple[tuple[Any, str], ...] = ()  # value labels
    note: str = ""
    code: int | None = None  # the option of an "option" column


TAGS = (
    Column("row", None, "tag", N_("số thứ tự dòng trong tệp (không phải mã phiếu trong cơ sở dữ liệu)")),
    Column("month", None, "tag", N_("tháng gửi phiếu, giờ Việt Nam (YYYY-MM; không ghi ngày giờ để không nhận ra người trả lời)")),
    Column("unit", None, "tag", N_("mã đơn vị")),
    Column("field", None, "tag", N_("mã lĩnh vực")),
    Column("channel", None, "tag", N_("kênh"), values=(("counter", N_("tại quầy")), ("dossier", N_("mã QR trên phiếu hẹn")),
                                                         ("web", N_("trực tuyến")), ("paper", N_("phiếu giấy")),
                                                         ("phone", N_("điện thoại")), ("post", N_("bưu chính")))),
    Column("source", None, "tag", N_("nguồn"), values=(("feedback", N_("góp ý tự nguyện")), ("sample", N_("khảo sát chọn mẫu")))),
    Column("language", None, "tag", N_("ngôn ngữ của phiếu"), values=(("vi", N_("tiếng Việt")), ("en", N_("tiếng Anh")))),
    Column("version", None, "tag", N_("phiên bản phiếu")),
    Column("flags", None, "tag", N_("số cảnh báo chất lượng của phiếu")),
    Column("excluded", None, "tag", N_("bị loại khỏi báo cáo (có cảnh báo chất lượng)"), values=NO_YES),
)


@dataclass(frozen=True)
class Layout:
    """The columns of one questionnaire's microdata over all its published versions."""

    key: str
    versions: tuple[int, ...]
    columns: tuple[Column, ...]

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]


def layout(definitions: list[Questionnaire]) -> Layout:
    """Columns: the tags, then every item of the newest version in its order, then items that
    only older versions have. An item some version lacks is an empty cell for that version's
    respondents, and the codebook says so."""
    newest = max(definitions, key=lambda q: q.version)
    same, _changed = compare_versions(definitions)
    order: dict[str, Item] = {}
    for q in sorted(definitions, key=lambda q: -q.version):
        for item in q.items:
            order.setdefault(item.key, item)
    taken = {c.name for c in TAGS}
    columns = [replace(c, label=_(c.label), values=tuple((v, _(t)) for v, t in c.values)) for c in TAGS]
    no_yes = tuple((v, _(t)) for v, t in NO_YES)
    for key, item in order.items():
        having = [q.version for q in definitions if any(i.key == key for i in q.items)]
        notes = []
        missing = sorted(q.version for q in definitions if q.version not in having)
        if missing:
            notes.append(_("không có trong phiên bản {versions}: ô trống với phiếu của phiên bản đó",
                           versions=", ".join(map(str, missing))))
        if key not in same and not missing:
            notes.append(_("kiểu hoặc mã trả lời khác nhau giữa các phiên bản"))
        if item.show_if is not None:
            notes.append(_("chỉ hỏi khi {item} là {codes}; ô trống nếu không hỏi", item=item.show_if.item,
                           codes=", ".join(map(str, item.show_if.codes))))
        note = "; ".join(notes)
        number = newest.numbers.get(key, "") if key in {i.key for i in newest.items} else ""
        if item.type == "multiple":
            options: dict[int, str] = {}
            for q in sorted(definitions, key=lambda q: -q.version):
                for i in q.items:
                    if i.key == key:
                        for code, text in i.choices("vi"):
                            options.setdefault(code, text)
            for code, text in sorted(options.items()):
                name = _unique(f"{key}_{code}", taken)
                columns.append(Column(name, key, "option", f"{item.label.vi} — {text}", number, no_yes,
                                      "; ".join([*notes, _("ô trống khi người trả lời không chọn phương án nào")]), code))
            continue
        values: tuple[tuple[Any, str], ...] = ()
        if item.type in ("satisfaction", "single"):
            labels: dict[int, str] = {}
            for q in sorted(definitions, key=lambda q: -q.version):
                for i in q.items:
                    if i.key == key and i.type == item.type:
                        for code, text in i.choices("vi"):
                            labels.setdefault(code, text.replace("\u00ad", ""))
            values = tuple(sorted(labels.items()))
        elif item.type == "number" and item.min is not None:
            note = "; ".join([*notes, _("từ {min} đến {max}", min=item.min, max=item.max)])
        columns.append(Column(_unique(key, taken), key, item.type, item.label.vi, number, values, note))
    return Layout(newest.key, tuple(sorted(q.version for q in definitions)), tuple(columns))


def _unique(name: str, taken: set[str]) -> str:
    """An item key that collides with a response-level column (or another column) gets a suffix."""
    out, n = name, 1
    while out in taken:
        n += 1
        out = f"{name}_{n}"
    taken.add(out)
    return out


@dataclass(frozen=True)
class Export:
    """A checked selection ready to stream: its layout and how many rows it holds."""

    scope: Scope
    layout: Layout
    channel: str | None
    rows: int


def prepare(session: Session, sel: Selection, channel: str | None = None) -> Export:
    """Resolve the selection (ReportError names a bad filter) and count its rows."""
    scope = resolve(session, sel)
    definitions = [catalog.definition(v) for v in scope.versions]
    query = _filtered(select(func.count()).select_from(Response), scope, channel)
    return Export(scope, layout(definitions), channel, session.scalar(query) or 0)


def _in_id_order(query, scope: Scope, channel: str | None):
    """The selection's filters (as selection.filter_responses) on columns no index serves: the
    chunk query must walk responses in id order from the last id read; given an index on the
    version or the date, SQLite would read every matching response and sort them again for each
    chunk."""
    sel = scope.sel
    query = query.where(unindexed(Response.version_id).in_(scope.version_ids))
    if sel.since is not None:
        query = query.where(unindexed(Response.submitted_at) >= datetime(sel.since.year, sel.since.month, sel.since.day, tzinfo=VN))
    if sel.until is not None:
        end = sel.until + timedelta(days=1)
        query = query.where(unindexed(Response.submitted_at) < datetime(end.year, end.month, end.day, tzinfo=VN))
    if scope.unit_ids is not None:
        query = query.where(unindexed(Response.unit_id).in_(scope.unit_ids))
    if scope.field_id is not None:
        query = query.where(unindexed(Response.field_id) == scope.field_id)
    if sel.source:
        query = query.where(unindexed(Response.source) == sel.source)
    return _flags_and_channel(query, scope, channel)


def _filtered(query, scope: Scope, channel: str | None):
    return _flags_and_channel(filter_responses(query, scope, scope.sel.since, scope.sel.until), scope, channel)


def _flags_and_channel(query, scope: Scope, channel: str | None):
    if channel:
        query = query.where(Response.channel == channel)
    if not scope.sel.include_flagged:
        query = query.where(~exists().where(ResponseFlag.response_id == Response.id))
    return query


class joined(FunctionElement):  # a SQL aggregate, named like one
    """The group's values as one comma-separated text. rows() asks for two per response, the answer
    keys and the codes, read in the same order: splitting a text is far cheaper than parsing one
    JSON object per response or fetching one row per answer (a million responses hold 35 million
    answers), and the keys repeat from response to response (see _gather)."""

    inherit_cache = True
    type = String()


@compiles(joined, "sqlite")
def _joined_sqlite(element, compiler, **kw) -> str:
    # SQLite 3.40 has no ORDER BY inside an aggregate: both texts of a group follow the same scan (the
    # index on response_id, item_key, code), so they agree
    value, *_order = element.clauses
    return f"group_concat({compiler.process(value, **kw)}, ',')"


@compiles(joined, "postgresql")
def _joined_postgresql(element, compiler, **kw) -> str:
    value, *order = element.clauses
    by = ", ".join(compiler.process(o, **kw) for o in order)
    return f"string_agg(CAST({compiler.process(value, **kw)} AS TEXT), ',' ORDER BY {by})"


GATHER_CACHE = 20_000  # distinct answer-key lists kept (100,000 demo responses have about 2,800)


@dataclass(frozen=True)
class _Answers:
    """What the answer columns read: per column its kind ("code", "option" or "text"), item key and
    option code (for a text column, its slot among the text answers); the text items' slots."""

    specs: tuple[tuple[str, str, Any], ...]
    texts: dict[str, int]

    @classmethod
    def of(cls, export: Export) -> _Answers:
        specs, texts = [], {}
        for c in export.layout.columns[len(TAGS):]:
            if c.kind == "option":
                specs.append(("option", c.item, str(c.code)))
            elif c.kind in ("text", "textarea"):
                texts[c.item] = len(texts)
                specs.append(("text", c.item, texts[c.item]))
            else:
                specs.append(("code", c.item, None))
        return cls(tuple(specs), texts)


def _gather(specs: tuple[tuple[str, str, Any], ...], zero: Any, one: Any):
    """(keys text, the response's codes followed by the tail) → its answer cells in column order.
    The tail is (empty, each text answer); which code or tail cell each column takes depends only
    on the keys (a multiple-choice item's key repeats once per chosen option, in code order), so
    a getter is built once per keys text and a row is one C-level gather. A multiple-choice item
    that was answered appends its option cells (0, and 1 for the chosen), looked up by the tuple
    of chosen codes; unasked items stay empty. A text column takes a code where an older version
    coded that item."""
    cache: dict[str, Any] = {}
    options: dict[str, dict[str, int]] = {}  # multiple-choice item → option code (text) → its place among the item's
    for kind, item, code in specs:
        if kind == "option":
            options.setdefault(item, {})[code] = len(options.get(item, ()))
    ticks: dict[str, dict[tuple, tuple]] = {item: {} for item in options}  # item → chosen codes → option cells

    def getter(index: list[int]):
        return itemgetter(*index) if len(index) > 1 else (lambda values: tuple(values[i] for i in index))

    def build(keys: str):
        split = keys.split(",") if keys else []
        at = {k: i for i, k in enumerate(split)}
        none = len(split)
        start, end, picks = {}, none + 1 + sum(kind == "text" for kind, _i, _c in specs), []
        for item, places in options.items():
            if item in at:
                start[item], end = end, end + len(places)
                chosen = [i for i, k in enumerate(split) if k == item]
                picks.append((itemgetter(*chosen) if len(chosen) > 1 else (lambda codes, i=chosen[0]: (codes[i],)),
                              ticks[item], places))
        index = [(start[item] + options[item][extra] if item in start else none) if kind == "option" else
                 at.get(item, none + 1 + extra) if kind == "text" else at.get(item, none)
                 for kind, item, extra in specs]
        return getter(index), picks

    def tick(choice: tuple, places: dict[str, int]) -> tuple:
        chosen = {str(code) for code in choice}
        return tuple(one if code in chosen else zero for code in places)

    def gather(keys: str, codes: list[Any]) -> tuple:
        found = cache.get(keys)
        if found is None:
            if len(cache) >= GATHER_CACHE:
                cache.clear()
            found = cache[keys] = build(keys)
        cells, picks = found
        for pick, by_choice, places in picks:
            choice = pick(codes)
            ticked = by_choice.get(choice)
            if ticked is None:
                if len(by_choice) >= GATHER_CACHE:  # an item with many options: a bounded cache
                    by_choice.clear()
                ticked = by_choice[choice] = tick(choice, places)
            codes.extend(ticked)
        return cells(codes)

    return gather


def _chunks(session: Session, export: Export, answers: _Answers, text_cell, tail: tuple):
    """The export's responses CHUNK at a time, in id order: (responses, their flag counts, their
    coded answers as (id, keys text, codes text) by id, their text answers as tails (tail with the
    masked cells set) by id). Responses come as (id, month, unit, field, channel, source, language, version)."""
    base = select(Response.id, local_month(Response.submitted_at), Response.unit_id, Response.field_id,
                  Response.channel, Response.source, Response.language, Response.version_id)
    base = _in_id_order(base, export.scope, export.channel)
    texts = list(answers.texts)
    after = 0
    while True:
        chunk = fetch_rows(session, base.where(Response.id > after).order_by(Response.id).limit(CHUNK))
        if not chunk:
            return
        ids = [r[0] for r in chunk]
        # a chunk of consecutive ids (one questionnaire's responses, unfiltered) is read as a range, cheaper
        # than thousands of ids; responses in the range but outside the selection are then skipped
        within = _between(ids[0], ids[-1]) if ids[-1] - ids[0] < 2 * len(ids) else _among(session, ids)
        flags = dict(fetch_rows(session, select(ResponseFlag.response_id, func.count())
                                .where(within(ResponseFlag.response_id)).group_by(ResponseFlag.response_id)))
        coded = {row[0]: row for row in fetch_rows(
            session, select(Answer.response_id, joined(Answer.item_key, Answer.item_key, Answer.code),
                            joined(Answer.code, Answer.item_key, Answer.code))
            .where(within(Answer.response_id), Answer.code.is_not(None)).group_by(Answer.response_id))}
        tails: dict[int, list[Any]] = {}
        if texts:
            # by id, never as a range: SQLite then seeks (response, item) in the index instead of
            # scanning every answer of the chunk
            for rid, item, answer in fetch_rows(session, select(Answer.response_id, Answer.item_key, Answer.text)
                                                .where(_among(session, ids)(Answer.response_id), Answer.item_key.in_(texts),
                                                       Answer.text.is_not(None), Answer.text != "")):
                cells = tails.get(rid)
                if cells is None:
                    cells = tails[rid] = [*tail]
                cells[1 + answers.texts[item]] = text_cell(answer)
        yield chunk, flags, coded, tails
        after = ids[-1]


def rows(session: Session, export: Export, spreadsheet: bool = True) -> Iterator[list[Any]]:
    """Every row of the export as values (numbers as numbers), for XLSX and .sav. For a
    spreadsheet every cell that may hold free text (codes of units and fields, answers) passes
    safe_cell; the rest are numbers or fixed words."""
    cell = safe_cell if spreadsheet else _same
    answers = _Answers.of(export)
    gather = _gather(answers.specs, 0, 1)
    units = {i: cell(code) for i, code in session.execute(select(Unit.id, Unit.code))}
    fields = {i: cell(code) for i, code in session.execute(select(Field.id, Field.code))}
    versions = {v.id: v.version for v in export.scope.versions}
    tail = (None, *(None for _t in answers.texts))
    number, uncoded = 0, (None, "", "")
    for chunk, flags, coded, tails in _chunks(session, export, answers, lambda text: cell(mask(text)), tail):
        for rid, month, unit_id, field_id, channel, source, language, version_id in chunk:
            number += 1
            flagged = flags.get(rid, 0)
            _rid, keys, codes = coded.get(rid, uncoded)
            codes = [*map(int, codes.split(","))] if codes else []
            codes.extend(tails.get(rid, tail))
            yield [number, month, units.get(unit_id), fields.get(field_id), channel, source, language,
                   versions.get(version_id), flagged, 1 if flagged else 0, *gather(keys, codes)]


def csv_lines(session: Session, export: Export) -> Iterator[list[str]]:
    """Every row of the export as its CSV line (as csv.writer writes it), a chunk of lines at a
    time. The codes stay the digits SQLite wrote; the response-level cells before them repeat, so
    each distinct set is quoted and joined once; a line is then a split, one gather and a join."""
    quoted = _Cached(_csv_cell)  # months, unit and field codes, channels repeat
    answers = _Answers.of(export)
    gather = _gather(answers.specs, "0", "1")
    units = {i: quoted[safe_cell(code)] for i, code in session.execute(select(Unit.id, Unit.code))}
    fields = {i: quoted[safe_cell(code)] for i, code in session.execute(select(Field.id, Field.code))}
    versions = {v.id: quoted[v.version] for v in export.scope.versions}
    tail = ("", *("" for _t in answers.texts))
    last = "," if answers.specs else ""  # the flags cells end the line when there are no answer columns
    marks = _Cached(lambda flagged: f"{flagged},{1 if flagged else 0}{last}")  # flags, excluded

    def tag_cells(tags: tuple) -> str:
        month, unit_id, field_id, channel, source, language, version_id = tags
        return ",".join((quoted[month], units.get(unit_id, ""), fields.get(field_id, ""), quoted[channel],
                         quoted[source], quoted[language], versions.get(version_id, "")))

    prefixes = _Cached(tag_cells)
    number, uncoded = 0, (None, "", "")
    for chunk, flags, coded, tails in _chunks(session, export, answers, lambda text: _csv_cell(safe_cell(mask(text))), tail):
        lines, first = [], number + 1
        for number, response in enumerate(chunk, first):  # number goes on from the last chunk's
            rid = response[0]
            _rid, keys, codes = coded.get(rid, uncoded)
            codes = codes.split(",") if codes else []
            codes.extend(tails.get(rid, tail))
            lines.append(f"{number},{prefixes[response[1:]]},{marks[flags.get(rid, 0)]}{','.join(gather(keys, codes))}")
        if len(prefixes) > GATHER_CACHE:
            prefixes.clear()
        yield lines


def _between(first: int, last: int):
    return lambda column: column.between(first, last)


def _among(session: Session, ids: list[int]):
    """column IN ids, with the ids bound as one value: SQLAlchemy renders a bound parameter per
    element of an IN list, which cost more than SQLite's seeks (1.3 s of 5 per 100,000 rows)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        values = func.json_each(json.dumps(ids)).table_valued("value")
        return lambda column: column.in_(select(values.c.value))
    if dialect == "postgresql":
        return lambda column: column == func.any(literal(ids, ARRAY(BigInteger)))
    return lambda column: column.in_(ids)


def _same(value: Any) -> Any:
    return value


CSV_QUOTED = re.compile('[,"\r\n]')  # what makes csv.writer (excel dialect) quote a cell


def _csv_cell(value: Any) -> str:
    """The value as csv.writer writes it inside a row (quoted only when it must be)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str) and not CSV_QUOTED.search(value):
        return value  # most free text: nothing to quote, and csv.writer per cell costs more than the rest of a row
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerow([value])
    return buffer.getvalue()[:-2]


class _Cached(dict):
    """key → make(key), worked out once."""

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: Any) -> Any:
        self[key] = value = self.make(key)
        return value


def _safe(row: list[Any]) -> list[Any]:
    return [safe_cell(v) if isinstance(v, str) else v for v in row]


# ---------------------------------------------------------------- codebook


def codebook_rows(lay: Layout, sel: Selection, count: int) -> Iterator[list[Any]]:
    """One row per column and value label, then what the file covers."""
    for c in lay.columns:
        kind = _(TYPE_VI.get(c.kind if c.kind != "option" else "multiple", c.kind))
        if not c.values:
            yield [c.name, c.item, c.number, c.label, kind, None, None, c.note or None]
        for n, (code, text) in enumerate(c.values):
            yield [c.name, c.item, c.number, c.label if n == 0 else None, kind if n == 0 else None, code, text,
                   (c.note or None) if n == 0 else None]
    yield []
    yield [_("phiếu"), lay.key, None, _("phiên bản {versions}", versions=", ".join(map(str, lay.versions)))]
    yield [_("số dòng"), None, None, count]
    for name, value in describe(sel).items():
        yield [name, None, None, value]


def describe(sel: Selection) -> dict[str, str]:
    """The filters in words, for the codebook and the audit trail."""
    every = _("(tất cả)")
    return {_("từ ngày"): f"{sel.since:%d/%m/%Y}" if sel.since else _("(từ đầu)"),
            _("đến ngày"): f"{sel.until:%d/%m/%Y}" if sel.until else _("(đến nay)"),
            _("đơn vị"): sel.unit or every, _("lĩnh vực"): sel.field or every, _("nguồn"): sel.source or every,
            _("phiếu có cảnh báo chất lượng"): _("có gồm") if sel.include_flagged else _("không gồm (như báo cáo)")}


def codebook_csv(export: Export) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([_(h) for h in CODEBOOK_HEADER])
    for row in codebook_rows(export.layout, export.scope.sel, export.rows):
        writer.writerow(_safe(row))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# ---------------------------------------------------------------- writers


def csv_chunks(session: Session, export: Export) -> Iterator[bytes]:
    """The CSV (UTF-8 with BOM) as byte chunks: the header, then CHUNK rows at a time."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerow(export.layout.header)
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for lines in csv_lines(session, export):
        lines.append("")
        yield "\r\n".join(lines).encode("utf-8")


def check(export: Export, fmt: str) -> None:
    """MicrodataError when the selection has more rows than the format holds (CSV has no limit)."""
    limit = {"xlsx": XLSX_MAX_ROWS, "sav": SAV_MAX_ROWS}.get(fmt)
    if limit is not None and export.rows > limit:
        raise MicrodataError(_("{rows} phiếu được chọn, quá {limit} dòng mà tệp {fmt} chứa được: chọn khoảng thời "
                               "gian ngắn hơn hoặc một đơn vị nhỏ hơn, hoặc tải CSV (không giới hạn).",
                               rows=format_number(export.rows, 0), limit=format_number(limit, 0), fmt=fmt.upper()))


def write_csv(session: Session, export: Export, out: Path) -> None:
    with out.open("wb") as fh:
        for part in csv_chunks(session, export):
            fh.write(part)


def write_xlsx(session: Session, export: Export, out: Path | io.BytesIO) -> None:
    """A workbook: data, then codebook. openpyxl writes the frame (sheets, styles, the bold
    frozen header, the codebook); the data rows are streamed into the data sheet's XML by
    _sheet_rows, as openpyxl would write them but about 20 times faster (its pure-Python XML
    writer took 91 s for 100,000 rows), and never held whole in memory."""
    check(export, "xlsx")
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    data = book.create_sheet(DATA_SHEET)
    data.freeze_panes = "B2"
    bold = Font(bold=True)

    def heading(values) -> list:
        cells = []
        for v in values:
            cell = WriteOnlyCell(data, value=safe_cell(v))
            cell.font = bold
            cells.append(cell)
        return cells

    data.append(heading(export.layout.header))
    codebook = book.create_sheet(CODEBOOK_SHEET)
    codebook.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGH", (16, 16, 8, 60, 24, 10, 30, 50)):
        codebook.column_dimensions[letter].width = width
    codebook.append(heading([_(h) for h in CODEBOOK_HEADER]))
    for row in codebook_rows(export.layout, export.scope.sel, export.rows):
        codebook.append(_safe(row))
    frame = io.BytesIO()
    book.save(frame)
    with zipfile.ZipFile(frame) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename != DATA_SHEET_PART:
                target.writestr(info, content)
                continue
            head, end, tail = content.decode("utf-8").partition("</sheetData>")
            if not end:
                raise RuntimeError("openpyxl wrote the data sheet without <sheetData>")  # a changed openpyxl: tests catch it
            with target.open(DATA_SHEET_PART, "w", force_zip64=True) as sheet:
                sheet.write(head.encode("utf-8"))
                for part in _sheet_rows(rows(session, export), len(export.layout.columns), first=2):
                    sheet.write(part.encode("utf-8"))
                sheet.write((end + tail).encode("utf-8"))


DATA_SHEET_PART = "xl/worksheets/sheet1.xml"  # the first sheet created
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # no XML 1.0 document holds them


def _sheet_rows(values: Iterator[list[Any]], width: int, first: int, rows_per_part: int = 2_000) -> Iterator[str]:
    """SpreadsheetML <row> elements as openpyxl writes them in write-only mode: numbers as
    values, text as inline strings (spaces kept where they lead or trail), empty cells left
    out; characters XML cannot hold become U+FFFD (openpyxl would stop the whole file)."""
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(i) for i in range(1, width + 1)]
    part: list[str] = []
    for number, row in enumerate(values, first):
        r = str(number)
        part.append(f'<row r="{r}">')
        for letter, value in zip(letters, row):
            if value is None:
                continue
            if isinstance(value, str):
                if value == "":
                    part.append(f'<c r="{letter}{r}" t="inlineStr"></c>')
                    continue
                text = escape(XML_ILLEGAL.sub("\ufffd", value))
                space = ' xml:space="preserve"' if value.strip() != value and value.strip() else ""
                part.append(f'<c r="{letter}{r}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
            else:
                part.append(f'<c r="{letter}{r}" t="n"><v>{value}</v></c>')
        part.append("</row>")
        if len(part) > rows_per_part * 40:
            yield "".join(part)
            part.clear()
    yield "".join(part)


def write_sav(session: Session, export: Export, out: Path) -> None:
    """SPSS .sav with variable labels and value labels; one bounded frame (see SAV_MAX_ROWS)."""
    check(export, "sav")
    import numpy as np
    import pandas as pd
    import pyreadstat

    cols = export.layout.columns
    numeric = [c.kind not in ("text", "textarea") and c.name not in ("month", "unit", "field", "channel", "source", "language")
               for c in cols]
    arrays: list[Any] = [np.full(export.rows, np.nan) if is_num else [""] * export.rows for is_num in numeric]
    n = 0
    for row in rows(session, export, spreadsheet=False):
        if n == export.rows:  # responses arrived since the count: the file holds what was counted
            break
        for j, value in enumerate(row):
            if value is not None:
                arrays[j][n] = value
        n += 1
    names = [_spss_name(c.name, j) for j, c in enumerate(cols)]
    frame = pd.DataFrame({names[j]: arrays[j][:n] for j in range(len(cols))})
    labels = {names[j]: f"{c.number + '. ' if c.number else ''}{c.label}"[:250] for j, c in enumerate(cols)}
    value_labels = {names[j]: {float(code): text for code, text in c.values} for j, c in enumerate(cols)
                    if c.values and numeric[j]}
    measure = {names[j]: ("ordinal" if c.kind == "satisfaction" else "scale" if c.kind in ("number", "tag") and numeric[j]
                          else "nominal") for j, c in enumerate(cols)}
    pyreadstat.write_sav(frame, str(out), file_label=f"{export.layout.key}"[:64], column_labels=labels,
                         variable_value_labels=value_labels, variable_measure=measure,
                         note=[f"{k}: {v}" for k, v in describe(export.scope.sel).items()])


SPSS_RESERVED = frozenset({"all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with"})


def _spss_name(name: str, index: int) -> str:
    """The column's name as an SPSS variable: at most 64 bytes and not a reserved word (item keys
    are [a-z0-9_], so only an option column of a very long key or a key such as 'to' needs this)."""
    if name in SPSS_RESERVED:
        return f"{name}_"
    return name if len(name) <= 64 else f"v{index}_{name[:50]}"


def export(session: Session, sel: Selection, fmt: str, out: Path, channel: str | None = None) -> int:
    """Write the selection to `out` in `fmt` (for a CSV also the codebook beside it, see
    codebook_path); returns the number of rows."""
    if fmt not in FORMATS:
        raise MicrodataError(_("Định dạng '{fmt}' không có: dùng {formats}.", fmt=fmt, formats=", ".join(FORMATS)))
    prepared = prepare(session, sel, channel)
    check(prepared, fmt)
    if fmt == "csv":
        write_csv(session, prepared, out)
        codebook_path(out).write_bytes(codebook_csv(prepared))
    elif fmt == "xlsx":
        write_xlsx(session, prepared, out)
    else:
        write_sav(session, prepared, out)
    return prepared.rows


def codebook_path(out: Path) -> Path:
    """Where a CSV export's codebook goes: beside it, '-bang-ma' added to the name."""
    return out.with_name(f"{out.stem}-bang-ma.csv")


def file_name(key: str, since: date | None, until: date | None, fmt: str) -> str:
    span = f"-{since:%Y%m%d}" if since else ""
    span += f"-{until:%Y%m%d}" if until else ""
    return f"du-lieu-vi-mo-{key}{span}.{fmt}"
