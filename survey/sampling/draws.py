"""The draw, reproducible anywhere: each stratum ordered by sha256(seed ":" dossier code), the
first n_h selected, the next ranks the ordered reserve list (analysis.sampling.select says it on a
DataFrame; the draw uses its numpy twin, first_ranks, and reads the frame as bare columns: a
million-row frame draws and verifies in seconds).

A draw records the seed, the algorithm, a checksum of the frame it was drawn from (sha256 of
the frame's lines "dossier|unit|field|YYYY-MM-DD" sorted as strings, joined by newlines, so the
row order of the imported files does not matter), who and when. It is never edited: drawing again makes a
new draw and both are kept. `verify` re-derives a draw from the frame and says whether it matches.
Reserves are kept up to max(n_h, RESERVE_MIN) per stratum; the rest of the order is re-derivable.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import String, cast, func, insert, select
from sqlalchemy.orm import Session

from analysis.sampling import first_ranks, selection_words

from ..db import unindexed
from ..i18n import _
from ..models import Field, FrameDossier, SampleDesign, SampleDraw, SampleMember, Unit
from .design import ANY, Params, allocation

ALGORITHM = "sha256-v1"
RESERVE_MIN = 10


class DrawError(ValueError):
    """A design that cannot be drawn (an empty frame); the message is translated."""


def new_seed() -> str:
    return secrets.token_hex(8)


@dataclass
class Frame:
    """A design's frame as columns, one row per dossier: what the draw and the checksum read and no
    more (as a DataFrame of a million rows of strings it took seconds and a gigabyte)."""

    codes: list[str]  # dossier codes
    strata: np.ndarray  # each row's stratum: an index into `labels`
    labels: list[tuple[str, str]]  # (unit, field) of each stratum, sorted; "*" where the design pools
    lines: list[str]  # "dossier|unit|field|YYYY-MM-DD", what the checksum hashes

    def __len__(self) -> int:
        return len(self.codes)


def frame_of(session: Session, design: SampleDesign) -> Frame:
    """The design's frame in one query that hands back two long strings (the lines, whose first part
    is the code, and the strata, each row feeding both in the same order) instead of a million rows
    of Python objects. On SQLite `unindexed` keeps the planner off the date and unit indexes: a scan reads a
    million rows in 0.4 s, the index lookups took 3 µs a row. Ordering the rows in SQL cost more
    than Python's sort of the lines (which runs of already-sorted rows make cheaper)."""
    unit = session.get(Unit, design.unit_id)
    postgres = session.get_bind().dialect.name == "postgresql"
    day = func.to_char(FrameDossier.completed_on, "YYYY-MM-DD") if postgres else cast(FrameDossier.completed_on, String)
    unit_id, done = unindexed(FrameDossier.unit_id), unindexed(FrameDossier.completed_on)
    width = (session.scalar(select(func.max(Field.id))) or 0) + 1
    line = FrameDossier.dossier_code + "|" + Unit.code + "|" + Field.code + "|" + day
    pair = cast(FrameDossier.unit_id * width + FrameDossier.field_id, String)
    count, text, pairs = session.connection().execute(
        select(func.count(), func.aggregate_strings(line, "\n"), func.aggregate_strings(pair, ","))
        .select_from(FrameDossier).join(Unit, Unit.id == unit_id).join(Field, Field.id == FrameDossier.field_id)
        .where(Unit.path.startswith(unit.path), done >= design.period_start, done <= design.period_end)).one()
    if not count:
        return Frame([], np.zeros(0, dtype=np.int64), [], [])
    lines = text.split("\n")
    if len(lines) != count:  # the import refuses control characters in codes
        raise DrawError(_("Khung mẫu có mã hồ sơ chứa ký tự xuống dòng: hãy sửa mã đó trong khung mẫu rồi rút lại."))
    # Each line's code is what precedes its last three '|' (unit and field codes and dates hold none):
    # cut from the lines rather than aggregated apart, which cost the query 0.7 s at a million rows.
    if text.count("|") == 3 * count:  # no code holds a '|' (the import refuses them)
        codes = [each.partition("|")[0] for each in lines]
    else:
        codes = [each.rsplit("|", 3)[0] for each in lines]
    pairs, inverse = np.unique(np.fromstring(pairs, dtype=np.int64, sep=","), return_inverse=True)
    unit_codes = dict(session.execute(select(Unit.id, Unit.code).where(Unit.path.startswith(unit.path))).all())
    field_codes = dict(session.execute(select(Field.id, Field.code)).all())
    pair_labels = [(ANY if design.strata == "field" else unit_codes[u], ANY if design.strata == "unit" else field_codes[f])
                   for u, f in zip(*(part.tolist() for part in divmod(pairs, width)))]
    labels = sorted(set(pair_labels))
    number = {label: i for i, label in enumerate(labels)}
    strata = np.array([number[label] for label in pair_labels], dtype=np.int64)[inverse.reshape(-1)]
    return Frame(codes, strata, labels, lines)


def frame_checksum(frame: Frame) -> str:
    """sha256 of the frame's lines, sorted: the same frame, whatever its row order (sha256-v1)."""
    return hashlib.sha256("\n".join(sorted(frame.lines)).encode()).hexdigest()


class Pick(NamedTuple):
    """A dossier at the head of its stratum's order: selected (rank ≤ n_h) or a reserve."""

    dossier_code: str
    unit: str
    field: str
    rank: int
    selected: bool
    reserve_rank: int | None


def ranked(frame: Frame, design: SampleDesign, seed: str) -> list[Pick]:
    """The head of each stratum's order, ranks 1..n_h + max(n_h, RESERVE_MIN), by stratum and rank."""
    counts = pd.DataFrame({"unit": [u for u, _f in frame.labels], "field": [f for _u, f in frame.labels],
                           "N": np.bincount(frame.strata, minlength=len(frame.labels))})
    alloc = allocation(counts, Params.of(design))
    wanted = dict(zip(zip(alloc["unit"], alloc["field"]), alloc["n"].tolist()))
    n_h = np.array([wanted[label] for label in frame.labels], dtype=np.int64)
    rows, rank = first_ranks(frame.strata, selection_words(seed, frame.codes), n_h + np.maximum(n_h, RESERVE_MIN))
    quota = n_h[frame.strata[rows]]
    return [Pick(frame.codes[i], *frame.labels[s], k, k <= n, None if k <= n else k - n)
            for i, s, k, n in zip(rows.tolist(), frame.strata[rows].tolist(), rank.tolist(), quota.tolist())]


def dossier_ids(session: Session, codes: list[str]) -> dict[str, int]:
    """frame_dossiers.id of each code, by the unique index (the frame query leaves ids out: only the
    kept few thousand need one)."""
    out: dict[str, int] = {}
    for start in range(0, len(codes), 5000):
        out.update(session.execute(select(FrameDossier.dossier_code, FrameDossier.id)
                                   .where(FrameDossier.dossier_code.in_(codes[start:start + 5000]))).all())
    return out


def draw(session: Session, design: SampleDesign, seed: str | None = None, actor_login: str | None = None) -> SampleDraw:
    """Draw the design's sample and keep it (with the reserve lists). Never commits."""
    seed = seed or new_seed()
    if not seed.isascii() or not seed.isprintable() or not 1 <= len(seed) <= 64:
        raise DrawError(_("Hạt giống (seed): 1–64 ký tự ASCII in được."))
    frame = frame_of(session, design)
    if not len(frame):
        raise DrawError(_("Khung mẫu không có hồ sơ nào trong kỳ và đơn vị đã chọn: hãy nhập danh sách hồ sơ trước."))
    picks = ranked(frame, design, seed)
    row = SampleDraw(design_id=design.id, seed=seed, algorithm=ALGORITHM, frame_sha256=frame_checksum(frame),
                     frame_size=len(frame), selected=sum(p.selected for p in picks), actor_login=actor_login)
    session.add(row)
    session.flush()
    ids = dossier_ids(session, [p.dossier_code for p in picks])
    members = [{"draw_id": row.id, "dossier_id": ids[p.dossier_code], "respondent_code": f"M{row.id}-{i:06d}",
                "stratum": f"{p.unit}|{p.field}", "rank": p.rank, "selected": p.selected,
                "reserve_rank": p.reserve_rank, "status": "drawn"} for i, p in enumerate(picks, 1)]
    for start in range(0, len(members), 5000):  # Core: the ORM's bulk insert split rows with and without a reserve rank
        session.execute(insert(SampleMember.__table__), members[start:start + 5000])
    return row


@dataclass
class Verification:
    matches: bool
    frame_unchanged: bool
    message: str


def verify(session: Session, row: SampleDraw) -> Verification:
    """Re-derive the draw from today's frame and compare it with what was stored."""
    design = session.get(SampleDesign, row.design_id)
    frame = frame_of(session, design)
    same_frame = frame_checksum(frame) == row.frame_sha256
    derived = {(p.dossier_code, p.rank) for p in ranked(frame, design, row.seed) if p.selected}
    stored = {(c, k) for c, k in session.execute(
        select(FrameDossier.dossier_code, SampleMember.rank).join(FrameDossier, FrameDossier.id == SampleMember.dossier_id)
        .where(SampleMember.draw_id == row.id, SampleMember.selected.is_(True)))}
    if derived == stored and same_frame:
        return Verification(True, True, _("Khớp: khung mẫu không đổi và chọn lại cho đúng {n} hồ sơ như lần rút.", n=len(stored)))
    if derived == stored:
        return Verification(True, False, _("Khớp về mẫu được chọn ({n} hồ sơ), nhưng khung mẫu đã thay đổi sau lần rút.",
                                           n=len(stored)))
    return Verification(False, same_frame, _(
        "Không khớp: {missing} hồ sơ đã rút không còn được chọn, {extra} hồ sơ khác được chọn. {frame}",
        missing=len(stored - derived), extra=len(derived - stored),
        frame=_("Khung mẫu không đổi.") if same_frame else _("Khung mẫu đã thay đổi sau lần rút.")))


def strata_summary(session: Session, row: SampleDraw) -> list[dict]:
    """Per stratum: selected and reserves kept."""
    rows = session.execute(select(SampleMember.stratum, SampleMember.selected).where(SampleMember.draw_id == row.id)).all()
    out: dict[str, dict] = {}
    for stratum, selected in rows:
        entry = out.setdefault(stratum, {"stratum": stratum, "selected": 0, "reserve": 0})
        entry["selected" if selected else "reserve"] += 1
    return [out[k] for k in sorted(out)]
