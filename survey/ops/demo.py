"""A realistic synthetic province for demos and benchmarks.

Units come from the official list (`vietnam-provinces`), responses from a simple model:
each field has its own satisfaction level (land lowest, civil status highest, as in
published provincial results), units and elements shift it a little, and each respondent
has a personal tendency so answers correlate. Bulk inserts go straight to the driver so a
million responses load in minutes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable, Sequence

import numpy as np
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session
from vietnam_provinces import Province, Ward

from questionnaires.loader import Questionnaire

from .. import catalog
from ..models import Answer, CommentReview, Counter, Field, IdempotencyKey, Procedure, Response, ResponseFlag, Unit
from ..registry import units

PROVINCE_CODE = 33  # Hưng Yên, home of the seed plans
COMMUNES = 12

# Share of "hài lòng" + "rất hài lòng" by field: land, construction and investment lowest.
FIELD_LEVEL = {
    "dat-dai": 0.80, "xay-dung": 0.83, "dau-tu": 0.86, "tai-nguyen-moi-truong": 0.85,
    "tu-phap-ho-tich": 0.95, "chung-thuc": 0.96, "lao-dong-tbxh": 0.92, "kinh-doanh": 0.91,
    "giao-thong": 0.88, "nong-nghiep": 0.90, "y-te": 0.86, "giao-duc": 0.89, "cu-tru": 0.93,
}
ELEMENT_SHIFT = {"access": -0.04, "feedback": -0.07, "staff": 0.02, "result": 0.01}
# Shares of the options of choice items where an even split would be implausible (in option order);
# e.g. few people lodge a complaint about their dossier, and most get their result on time.
OPTION_SHARES = {
    "result_time": (0.30, 0.55, 0.05, 0.10), "agencies_contacted": (0.80, 0.15, 0.05),
    "extra_contacts": (0.70, 0.20, 0.07, 0.03), "extra_charges": (0.02, 0.93, 0.05),
    "lodged_petition": (0.05, 0.95), "used_online": (0.40, 0.60), "gave_feedback": (0.15, 0.85),
}
CHANNELS = (("counter", 0.6), ("dossier", 0.25), ("web", 0.1), ("paper", 0.05))
COMMENTS = (
    "Cán bộ nhiệt tình, hướng dẫn rõ ràng.",
    "Thời gian chờ còn lâu, cần thêm ghế ngồi.",
    "Nên niêm yết phí, lệ phí rõ hơn.",
    "Thủ tục nhanh gọn, cảm ơn.",
)
# Every synthetic response carries this in device_hash (real ones hold a 64-hex digest or nothing),
# so demo rows can be counted and deleted without a schema change and without touching any
# column a report groups by (channel, source): the demo still shows realistic breakdowns.
DEMO_MARK = "demo"
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 11, 20, tzinfo=UTC)


@dataclass(frozen=True)
class Place:
    """Where a generated response is tagged: a counter with one of its fields."""

    unit_id: int
    counter_id: int
    field_id: int
    field_code: str
    procedure_ids: tuple[int, ...]
    shift: float


def build_registry(session: Session) -> int:
    """Create the demo province once; returns the number of counters created."""
    units.load_fields(session)
    units.load_procedures(session)
    if session.scalar(select(func.count()).select_from(Unit).where(Unit.code == f"{PROVINCE_CODE:02d}")):
        return 0  # built already (a real registry beside it is fine: the demo province is its own tree)
    fields = {f.code: f for f in session.scalars(select(Field))}
    province = Province.from_code(PROVINCE_CODE)
    root = units.add_unit(session, f"{PROVINCE_CODE:02d}", province.name, "province")
    centre = units.add_unit(session, f"{PROVINCE_CODE:02d}-TTHCC", "Trung tâm Phục vụ hành chính công tỉnh", "centre", root)
    created = 0
    for i, code in enumerate(["dat-dai", "xay-dung", "dau-tu", "kinh-doanh"]):
        units.add_counter(session, centre, f"Q{i + 1:02d}", f"Quầy {i + 1} – {fields[code].name_vi}", "sipas-2017", [fields[code]])
        created += 1
    for ward in list(Ward.iter_by_province(province.code))[:COMMUNES]:
        kind = "ward" if ward.name.startswith("Phường") else "commune"
        unit = units.add_unit(session, f"{int(ward.code):05d}", ward.name, kind, root)
        units.add_counter(session, unit, "MC1", "Bộ phận Một cửa – Quầy 1", "counter-quick",
                             [fields[c] for c in ("dat-dai", "xay-dung", "tai-nguyen-moi-truong")])
        units.add_counter(session, unit, "MC2", "Bộ phận Một cửa – Quầy 2", "sipas-2017",
                             [fields[c] for c in ("tu-phap-ho-tich", "chung-thuc", "lao-dong-tbxh", "cu-tru")])
        created += 2
    hospital = units.add_unit(session, f"{PROVINCE_CODE:02d}-BVDK", "Bệnh viện Đa khoa tỉnh", "hospital", root)
    units.add_counter(session, hospital, "KKB", "Khoa Khám bệnh", "health-outpatient", [fields["y-te"]])
    school = units.add_unit(session, f"{PROVINCE_CODE:02d}-THCS1", "Trường THCS Nguyễn Trãi", "school", root)
    units.add_counter(session, school, "VP", "Văn phòng nhà trường", "education", [fields["giao-duc"]])
    session.flush()
    return created + 2


def _places(session: Session, key: str, rng: np.random.Generator) -> list[Place]:
    procedures: dict[int, list[int]] = {}
    for p in session.scalars(select(Procedure)):
        procedures.setdefault(p.field_id, []).append(p.id)
    places = []
    for counter in session.scalars(select(Counter).where(Counter.questionnaire_key == key).order_by(Counter.id)):
        shift = float(rng.normal(0, 0.03))
        for f in counter.fields:
            places.append(Place(counter.unit_id, counter.id, f.id, f.code, tuple(procedures.get(f.id, ())), shift))
    return places


def generate_responses(
    session: Session, total: int, seed: int = 2026, progress: Callable[[int], None] | None = None, chunk: int = 20_000
) -> int:
    """Insert `total` synthetic responses spread over the published questionnaires in use."""
    rng = np.random.default_rng(seed)
    shares = {"sipas-2017": 0.55, "counter-quick": 0.35, "health-outpatient": 0.05, "education": 0.05}
    plans = []
    for key, share in shares.items():
        row = catalog.latest(session, key)
        places = _places(session, key, rng) if row else []
        if row and places:
            plans.append((row, catalog.definition(row), places, share))
    if not plans:
        raise RuntimeError("publish the bundled questionnaires and build the registry first")
    weights = np.array([p[3] for p in plans]) / sum(p[3] for p in plans)
    counts = rng.multinomial(total, weights)
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    next_id = (session.scalar(select(func.max(Response.id))) or 0) + 1
    done = 0
    for (row, questionnaire, places, _share), n in zip(plans, counts):
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            tables = _chunk(rng, row.id, questionnaire, places, m, next_id, sqlite)
            for table, columns, rows in tables:
                _bulk(conn, table, columns, rows)
            next_id += m
            done += m
            if progress:
                progress(m)
    return done


def _bulk(conn, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """executemany on the DB-API cursor: 10–20× faster than ORM objects for millions of rows."""
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, rows)


def _stamps(sqlite: bool, seconds: np.ndarray) -> list:
    """Times START + seconds. SQLite stores SQLAlchemy's naive text form (UTC by convention);
    PostgreSQL takes aware datetimes."""
    when = np.datetime64(START.replace(tzinfo=None), "us") + (seconds * 1e6).astype("timedelta64[us]")
    if sqlite:
        return [t.replace("T", " ") for t in np.datetime_as_string(when, unit="us").tolist()]
    return [t.replace(tzinfo=UTC) for t in when.astype(datetime).tolist()]


def _pick(rng: np.random.Generator, choices: list[tuple[int, ...]], where: np.ndarray) -> list[int | None]:
    """One random element of choices[where[k]] for each k (None where that tuple is empty)."""
    sizes = np.array([len(c) for c in choices])
    flat = np.array([x for c in choices for x in c] or [0])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    index = offsets[where] + (rng.random(len(where)) * sizes[where]).astype(int)
    picked = flat[np.minimum(index, len(flat) - 1)].tolist()
    return [p if s else None for p, s in zip(picked, sizes[where].tolist())]


def _chunk(rng: np.random.Generator, version_id: int, q: Questionnaire, places: list[Place], m: int, first_id: int,
           sqlite: bool = True) -> list[tuple[str, tuple[str, ...], list[tuple]]]:
    """One chunk of responses as (table, columns, rows): responses, coded answers in response
    order (so a response's answers sit together on disk), text answers, flags."""
    ids = np.arange(first_id, first_id + m)
    where = rng.integers(0, len(places), m)
    level = np.array([FIELD_LEVEL.get(p.field_code, 0.9) + p.shift for p in places])[where]
    person = rng.normal(0, 0.08, m)
    span = (END - START).total_seconds()
    stamps = _stamps(sqlite, np.sort(rng.random(m)) * span)
    channels = rng.choice([c for c, _ in CHANNELS], m, p=[w for _, w in CHANNELS]).tolist()
    durations = rng.lognormal(np.log(150_000), 0.5, m).astype(int).tolist()
    procedures = _pick(rng, [p.procedure_ids for p in places], where)
    columns = ("id", "version_id", "submitted_at", "duration_ms", "channel", "source", "language",
               "unit_id", "counter_id", "field_id", "procedure_id", "device_hash")
    place = [(p.unit_id, p.counter_id, p.field_id) for p in places]
    responses = [
        (rid, version_id, stamp, duration, channel, "feedback", "vi", *place[w], proc, DEMO_MARK)
        for rid, stamp, duration, channel, w, proc in zip(ids.tolist(), stamps, durations, channels, where.tolist(), procedures)
    ]
    coded: list[tuple[np.ndarray, int, np.ndarray]] = []  # (response ids, item index, codes)
    texts: list[tuple] = []
    values: dict[str, np.ndarray] = {}
    keys = [item.key for item in q.items]
    for index, item in enumerate(q.items):
        active = np.ones(m, bool)
        if item.show_if is not None:
            active = np.isin(values[item.show_if.item], item.show_if.codes)
        if item.type == "satisfaction":
            p = np.clip(level + person + ELEMENT_SHIFT.get(item.section, 0.0), 0.02, 0.995)
            u = rng.random(m)
            codes = np.where(u < p, np.where(rng.random(m) < 0.45, 5, 4),
                             rng.choice([3, 2, 1], m, p=[0.6, 0.3, 0.1]))
            if item.no_opinion:
                codes = np.where(rng.random(m) < 0.04, 0, codes)
        elif item.type == "single":
            shares = OPTION_SHARES.get(item.key)
            codes = rng.choice([o.code for o in item.options], m,
                               p=shares if shares and len(shares) == len(item.options) else None)
        elif item.type == "number":
            codes = np.clip(rng.normal((item.min + item.max) / 2, (item.max - item.min) / 6, m), item.min, item.max).astype(int)
        elif item.type == "multiple":
            opts = np.array([o.code for o in item.options])
            chosen = np.minimum(len(opts), 1 + rng.integers(0, 3, m))  # 1–3 options each
            order = np.argsort(rng.random((m, len(opts))), axis=1)  # a random permutation per respondent
            take = (np.arange(len(opts)) < chosen[:, None]) & active[:, None]
            rows, ranks = np.nonzero(take)
            coded.append((ids[rows], index, opts[order[rows, ranks]]))
            continue
        else:
            for k in np.flatnonzero(active & (rng.random(m) < 0.08)).tolist():
                texts.append((int(ids[k]), item.key, COMMENTS[int(rng.integers(len(COMMENTS)))]))
            continue
        if not item.required:  # optional items are skipped by some respondents
            active &= rng.random(m) > 0.15
        values[item.key] = np.where(active, codes, -1)
        coded.append((ids[active], index, codes[active]))
    rid = np.concatenate([c[0] for c in coded])
    idx = np.concatenate([np.full(len(c[0]), c[1]) for c in coded])
    code = np.concatenate([c[2] for c in coded])
    order = np.lexsort((idx, rid))
    answers = list(zip(rid[order].tolist(), [keys[i] for i in idx[order].tolist()], code[order].tolist()))
    # About 3% of responses carry a quality flag, as at real counters (never deleted).
    picked = np.flatnonzero(rng.random(m) < 0.03)
    reasons = rng.choice(["device_repeat", "speeder", "straightline"], len(picked), p=[0.5, 0.3, 0.2]).tolist()
    flags = [(int(ids[k]), reason, "demo", stamps[k]) for k, reason in zip(picked.tolist(), reasons)]
    return [
        (Response.__table__.name, columns, responses),
        (Answer.__table__.name, ("response_id", "item_key", "code"), answers),
        (Answer.__table__.name, ("response_id", "item_key", "text"), texts),
        (ResponseFlag.__table__.name, ("response_id", "reason", "detail", "created_at"), flags),
    ]


def is_demo():
    """SQL condition: the response is synthetic (see DEMO_MARK)."""
    return Response.device_hash == DEMO_MARK


def response_counts(session: Session) -> tuple[int, int]:
    """(demo responses, other responses): `demo load` refuses to mix them unless told to."""
    demo = session.scalar(select(func.count()).select_from(Response).where(is_demo())) or 0
    other = session.scalar(select(func.count()).select_from(Response).where(
        or_(Response.device_hash.is_(None), Response.device_hash != DEMO_MARK))) or 0
    return demo, other


def clear_responses(session: Session) -> int:
    """Delete the synthetic responses (their answers, flags and keys first: SQLite may not cascade).

    The caller refreshes the maintained counts (a deletion below the watermark rebuilds them)
    and commits; units and counters stay, they may be in use.
    """
    ids = select(Response.id).where(is_demo()).scalar_subquery()
    answers = select(Answer.id).where(Answer.response_id.in_(ids)).scalar_subquery()
    session.execute(delete(CommentReview).where(CommentReview.answer_id.in_(answers)))
    for model in (Answer, ResponseFlag, IdempotencyKey):
        session.execute(delete(model).where(model.response_id.in_(ids)))
    return session.execute(delete(Response).where(is_demo())).rowcount or 0
