"""What the citizen side needs to know about the sample: whether a dossier link belongs to a
sampled person (its response is then source='sample', reported apart from counter feedback) and
marking that person answered online. Only the status moves; no response id is stored on the
member, so a response stays anonymous (DOMAIN.md §8)."""
from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from ..models import FrameDossier, SampleMember

ANSWERED_ONLINE = "answered_online"


def _members(unit_id: int, dossier_code: str):
    dossier = select(FrameDossier.id).where(FrameDossier.unit_id == unit_id, FrameDossier.dossier_code == dossier_code)
    return SampleMember.selected.is_(True), SampleMember.dossier_id.in_(dossier.scalar_subquery())


def is_sampled(session: Session, unit_id: int, dossier_code: str) -> bool:
    """Is this dossier selected in a draw (any draw: a replaced draw's letters may still come back)?"""
    return bool(session.scalar(select(exists().where(*_members(unit_id, dossier_code)))))


def mark_answered_online(session: Session, unit_id: int, dossier_code: str) -> None:
    """Set the members of this dossier to answered online, in the submit transaction."""
    session.execute(update(SampleMember).where(*_members(unit_id, dossier_code)).values(status=ANSWERED_ONLINE)
                    .execution_options(synchronize_session=False))
