"""Published questionnaire versions: publish a definition, find the one a request needs."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from questionnaires.loader import Questionnaire, load_dict

from .i18n import _
from .models import QuestionnaireVersion


class PublishError(ValueError):
    """A version that cannot be published as it is; the message is translated and names the fix."""


@dataclass(frozen=True)
class Published:
    """A published version as a request uses it: never changes once published (see publish)."""

    id: int
    key: str
    version: int
    questionnaire: Questionnaire

    @classmethod
    def of(cls, row: QuestionnaireVersion) -> Published:
        return cls(row.id, row.key, row.version, definition(row))


def publish(session: Session, questionnaire: Questionnaire) -> tuple[QuestionnaireVersion, str]:
    """Store a definition as an immutable version. Returns (row, 'new' | 'unchanged').

    Changed content under an already-published version number is refused: responses
    must keep meaning what they meant when they were given.
    """
    existing = session.scalar(
        select(QuestionnaireVersion).filter_by(key=questionnaire.key, version=questionnaire.version)
    )
    if existing is not None:
        if existing.checksum == questionnaire.checksum:
            return existing, "unchanged"
        latest = latest_version_number(session, questionnaire.key)
        raise PublishError(_(
            "{key}: phiên bản {version} đã được công bố với nội dung khác; ghi 'version: {next}' trong tệp "
            "để công bố thay đổi", key=questionnaire.key, version=questionnaire.version, next=latest + 1))
    latest = latest_version_number(session, questionnaire.key)
    if questionnaire.version < latest:
        raise PublishError(_(
            "{key}: phiên bản {version} cũ hơn phiên bản đã công bố {latest}; dùng 'version: {next}'",
            key=questionnaire.key, version=questionnaire.version, latest=latest, next=latest + 1))
    row = QuestionnaireVersion(
        key=questionnaire.key, version=questionnaire.version,
        checksum=questionnaire.checksum, definition=questionnaire.canonical_json,
    )
    session.add(row)
    session.flush()
    return row, "new"


def latest_version_number(session: Session, key: str) -> int:
    return session.scalar(select(func.max(QuestionnaireVersion.version)).filter_by(key=key)) or 0


def latest(session: Session, key: str) -> QuestionnaireVersion | None:
    return session.scalar(
        select(QuestionnaireVersion).filter_by(key=key).order_by(QuestionnaireVersion.version.desc()).limit(1)
    )


def get_version(session: Session, key: str, version: int) -> QuestionnaireVersion | None:
    return session.scalar(select(QuestionnaireVersion).filter_by(key=key, version=version))


def list_latest(session: Session) -> list[QuestionnaireVersion]:
    newest = (
        select(QuestionnaireVersion.key, func.max(QuestionnaireVersion.version).label("v"))
        .group_by(QuestionnaireVersion.key).subquery()
    )
    return list(session.scalars(
        select(QuestionnaireVersion)
        .join(newest, (QuestionnaireVersion.key == newest.c.key) & (QuestionnaireVersion.version == newest.c.v))
        .order_by(QuestionnaireVersion.key)
    ))


def definition(row: QuestionnaireVersion) -> Questionnaire:
    """The frozen questionnaire of a stored version (parsed once per process per checksum)."""
    return _parse(row.checksum, row.definition)


@lru_cache(maxsize=128)
def _parse(checksum: str, text: str) -> Questionnaire:
    return load_dict(json.loads(text), f"stored version {checksum[:12]}")
