"""How long the personal data of a sampling frame is kept, and its purge (decree 13/2023/NĐ-CP:
a retention limit; docs/domain.md §8).

A frame dossier's name, address and phone serve the fieldwork of the designs that cover it (the
design's unit subtree and completion dates), so they are kept `days` (FRAME_RETENTION_DAYS, 365)
after the later of the dossier's completion date and the end of the latest design period that
covers it; on the day after, `frame purge` blanks them. The dossier code, unit, field,
completion date, procedure and channel stay: a draw's checksum and order are computed from
code|unit|field|date only (draws.frame_checksum), so `sample verify` still matches after a
purge, and response rates stay countable. What else holds a purged person's data goes too:
paper keyings of their sample members (answers beside a respondent code), when the paper
entry tables exist. Letters and fieldwork lists are never stored by the app (they are written
where the operator says, or streamed), so there is nothing of theirs here to delete.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from ..db import Base
from ..i18n import VIETNAM
from ..models import FrameDossier, FrameImport, SampleDesign, SampleMember, Unit

DEFAULT_DAYS = 365


def days_from(config) -> int:
    """FRAME_RETENTION_DAYS from the app's config (SURVEY_FRAME_RETENTION_DAYS), refused unless a
    whole number of days, 0 or more: a typo must not purge everything, nor nothing, silently."""
    value = config.get("FRAME_RETENTION_DAYS", DEFAULT_DAYS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(value)
    return value


def today() -> date:
    """Today in Vietnam (retention dates are calendar days where the data is kept)."""
    return datetime.now(VIETNAM).date()


def _covered_until():
    """Correlated scalar: the end of the latest design period covering the outer FrameDossier
    (its unit inside the design's subtree, its completion date inside the period), or NULL."""
    owner, top = aliased(Unit), aliased(Unit)
    return (select(func.max(SampleDesign.period_end))
            .join(top, top.id == SampleDesign.unit_id)
            .where(owner.id == FrameDossier.unit_id, owner.path.startswith(top.path),
                   SampleDesign.period_start <= FrameDossier.completed_on,
                   SampleDesign.period_end >= FrameDossier.completed_on)
            .correlate(FrameDossier).scalar_subquery())


def _past(days: int, on: date):
    """Condition on FrameDossier: its retention ended before `on`."""
    cutoff = on - timedelta(days=days)
    owner, top = aliased(Unit), aliased(Unit)
    still_covered = exists(
        select(SampleDesign.id).join(top, top.id == SampleDesign.unit_id)
        .where(owner.id == FrameDossier.unit_id, owner.path.startswith(top.path),
               SampleDesign.period_start <= FrameDossier.completed_on,
               SampleDesign.period_end >= FrameDossier.completed_on, SampleDesign.period_end >= cutoff)
        .correlate(FrameDossier))
    return and_(FrameDossier.completed_on < cutoff, ~still_covered)


PERSONAL = or_(FrameDossier.name.is_not(None), FrameDossier.address.is_not(None), FrameDossier.phone.is_not(None))


def _under(root: Unit | None):
    if root is None:
        return True
    return FrameDossier.unit_id.in_(select(Unit.id).where(Unit.path.startswith(root.path)))


@dataclass(frozen=True)
class ImportRetention:
    """One frame import: until when its personal data is kept, and how many dossiers still hold some."""

    id: int
    unit_code: str
    filename: str
    imported_at: datetime
    kept_until: date | None  # the last day the latest of its dossiers is kept; None when it has no dossier
    holding: int  # dossiers that still hold a name, address or phone


def by_import(session: Session, days: int, root: Unit | None = None) -> list[ImportRetention]:
    """Every import (of root's subtree, or all) with its retention date, newest first."""
    per_dossier = (select(FrameDossier.import_id.label("import_id"),
                          func.coalesce(_covered_until(), FrameDossier.completed_on).label("until"),
                          PERSONAL.label("personal"))
                   .where(_under(root)).subquery())
    rows = session.execute(
        select(FrameImport.id, Unit.code, FrameImport.filename, FrameImport.imported_at, func.max(per_dossier.c.until),
               func.count(per_dossier.c.import_id).filter(per_dossier.c.personal))
        .join(Unit, Unit.id == FrameImport.unit_id)
        .join(per_dossier, per_dossier.c.import_id == FrameImport.id)
        .group_by(FrameImport.id, Unit.code, FrameImport.filename, FrameImport.imported_at)
        .order_by(FrameImport.id.desc())).all()
    return [ImportRetention(i, code, name, at, until + timedelta(days=days) if until else None, int(holding or 0))
            for i, code, name, at, until, holding in rows]


@dataclass
class Purge:
    """What a purge blanked (or, dry, would blank): dossiers per import, keyings deleted."""

    on: date
    days: int
    dry_run: bool
    per_import: dict[int, tuple[str, str, int]] = field(default_factory=dict)  # id → (unit code, file, dossiers)
    keyings: int = 0

    @property
    def dossiers(self) -> int:
        return sum(n for _, _, n in self.per_import.values())


def purge(session: Session, days: int, *, on: date | None = None, root: Unit | None = None,
          dry_run: bool = False) -> Purge:
    """Blank name, address and phone of the frame dossiers past retention (of root's subtree,
    or all) and delete the paper keyings of their sample members. The caller audits and commits."""
    if days < 0:
        raise ValueError("days must be 0 or more")
    on = on or today()
    past = and_(_past(days, on), _under(root))
    result = Purge(on, days, dry_run)
    for import_id, unit_code, filename, n in session.execute(
            select(FrameImport.id, Unit.code, FrameImport.filename, func.count(FrameDossier.id))
            .join(FrameImport, FrameImport.id == FrameDossier.import_id).join(Unit, Unit.id == FrameImport.unit_id)
            .where(past, PERSONAL).group_by(FrameImport.id, Unit.code, FrameImport.filename).order_by(FrameImport.id)):
        result.per_import[import_id] = (unit_code, filename, int(n))
    keyings = Base.metadata.tables.get("paper_keyings")  # the paper entry tables, when installed
    if keyings is not None:
        members = select(SampleMember.id).join(FrameDossier, FrameDossier.id == SampleMember.dossier_id).where(past)
        chosen = keyings.c.member_id.in_(members)
        result.keyings = int(session.scalar(select(func.count()).select_from(keyings).where(chosen)) or 0)
        if not dry_run and result.keyings:
            session.execute(delete(keyings).where(chosen))
    if not dry_run and result.per_import:
        session.execute(update(FrameDossier).where(past, PERSONAL).values(name=None, address=None, phone=None)
                        .execution_options(synchronize_session=False))
    return result
