"""The draw, reproducible anywhere: each stratum ordered by sha256(seed ":" dossier code), the
first n_h selected, the next ranks the ordered reserve list (analysis.sampling.select).

A draw records the seed, the algorithm, a checksum of the frame it was drawn from (sha256 of
the frame's lines "dossier|unit|field|YYYY-MM-DD" sorted by dossier code, so the row order of
the imported files does not matter), who and when. It is never edited: drawing again makes a
new draw and both are kept. `verify` re-derives a draw from the frame and says whether it matches.
Reserves are kept up to max(n_h, RESERVE_MIN) per stratum; the rest of the order is re-derivable.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from analysis.sampling import select as ordered_selection

from ..i18n import _
from ..models import Field, FrameDossier, SampleDesign, SampleDraw, SampleMember, Unit
from .design import ANY, Params, allocation

ALGORITHM = "sha256-v1"
RESERVE_MIN = 10


class DrawError(ValueError):
    """A design that cannot be drawn (an empty frame); the message is translated."""


def new_seed() -> str:
    return secrets.token_hex(8)


def frame_of(session: Session, design: SampleDesign) -> pd.DataFrame:
    """The design's frame, one row per dossier: id, dossier_code, unit, field (stratum keys), line."""
    unit = session.get(Unit, design.unit_id)
    rows = session.connection().execute(  # Core rows: the ORM's row loading doubled the time
        select(FrameDossier.id, FrameDossier.dossier_code, Unit.code, Field.code, FrameDossier.completed_on)
        .join(Unit, Unit.id == FrameDossier.unit_id).join(Field, Field.id == FrameDossier.field_id)
        .where(Unit.path.startswith(unit.path), FrameDossier.completed_on >= design.period_start,
               FrameDossier.completed_on <= design.period_end)
    ).all()
    names = ["id", "dossier_code", "unit_code", "field_code", "completed_on"]
    columns = list(zip(*rows)) or [()] * len(names)  # by column: a DataFrame from a million Row objects takes seconds
    frame = pd.DataFrame({name: pd.Series(list(values), dtype="int64" if name == "id" else object)
                          for name, values in zip(names, columns)})
    return frame.assign(unit=ANY if design.strata == "field" else frame["unit_code"],
                        field=ANY if design.strata == "unit" else frame["field_code"])


def frame_checksum(frame: pd.DataFrame) -> str:
    """sha256 of the frame's lines sorted by dossier code: the same frame, whatever its row order."""
    lines = sorted(f"{c}|{u}|{f}|{d.isoformat()}" for c, u, f, d in
                   zip(*(frame[k].tolist() for k in ("dossier_code", "unit_code", "field_code", "completed_on"))))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def ranked(frame: pd.DataFrame, design: SampleDesign, seed: str) -> pd.DataFrame:
    """Every dossier of the frame with its stratum rank, `selected` and `reserve_rank`."""
    counts = frame.groupby(["unit", "field"], as_index=False).size().rename(columns={"size": "N"})
    alloc = allocation(counts, Params.of(design))
    return ordered_selection(frame, alloc, seed=seed, by=["unit", "field"], id_column="dossier_code", size="n")


def draw(session: Session, design: SampleDesign, seed: str | None = None, actor_login: str | None = None) -> SampleDraw:
    """Draw the design's sample and keep it (with the reserve lists). Never commits."""
    seed = seed or new_seed()
    if not seed.isascii() or not seed.isprintable() or not 1 <= len(seed) <= 64:
        raise DrawError(_("Hạt giống (seed): 1–64 ký tự ASCII in được."))
    frame = frame_of(session, design)
    if frame.empty:
        raise DrawError(_("Khung mẫu không có hồ sơ nào trong kỳ và đơn vị đã chọn: hãy nhập danh sách hồ sơ trước."))
    result = ranked(frame, design, seed)
    n_h = result.groupby(["unit", "field"])["selected"].transform("sum")
    keep = result["selected"] | (result["reserve_rank"].fillna(0).astype(int) <= n_h.clip(lower=RESERVE_MIN))
    kept = result[keep].sort_values(["unit", "field", "rank"], ignore_index=True)
    row = SampleDraw(design_id=design.id, seed=seed, algorithm=ALGORITHM, frame_sha256=frame_checksum(frame),
                     frame_size=len(frame), selected=int(result["selected"].sum()), actor_login=actor_login)
    session.add(row)
    session.flush()
    reserve = kept["reserve_rank"].astype(object).where(kept["reserve_rank"].notna(), None).tolist()
    members = [
        {"draw_id": row.id, "dossier_id": int(d), "respondent_code": f"M{row.id}-{i:06d}", "stratum": f"{u}|{f}",
         "rank": int(k), "selected": bool(s), "reserve_rank": None if r is None else int(r), "status": "drawn"}
        for i, (d, u, f, k, s, r) in enumerate(zip(kept["id"].tolist(), kept["unit"].tolist(), kept["field"].tolist(),
                                                   kept["rank"].tolist(), kept["selected"].tolist(), reserve), 1)
    ]
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
    result = ranked(frame, design, row.seed) if not frame.empty else frame.assign(rank=[], selected=[], reserve_rank=[])
    derived = {(c, int(k)) for c, k, s in zip(result["dossier_code"], result["rank"], result["selected"]) if s}
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
