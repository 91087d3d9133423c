"""The write path: one validated submission becomes one stored response, exactly once."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from questionnaires.loader import Questionnaire

from .models import Answer, IdempotencyKey, QuestionnaireVersion, Response, ResponseFlag


@dataclass(frozen=True)
class Tags:
    """Where a response came from; filled by the entry point (link, counter QR, dossier QR, paper)."""

    channel: str = "web"
    source: str = "feedback"
    unit_id: int | None = None
    counter_id: int | None = None
    field_id: int | None = None
    procedure_id: int | None = None
    device_hash: str | None = None


@dataclass
class Submission:
    version: QuestionnaireVersion
    questionnaire: Questionnaire
    answers: dict[str, Any]
    idempotency_key: str
    language: str = "vi"
    duration_ms: int | None = None
    tags: Tags = field(default_factory=Tags)
    flags: list[tuple[str, str]] = field(default_factory=list)


def already_submitted(session: Session, key: str) -> bool:
    return session.get(IdempotencyKey, key) is not None


def answer_rows(questionnaire: Questionnaire, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """Raw codes: one row per answered item, one per chosen option of a multiple-choice item."""
    rows: list[dict[str, Any]] = []
    for item in questionnaire.items:
        value = answers.get(item.key)
        if value is None or value == []:
            continue
        if item.type == "multiple":
            rows.extend({"item_key": item.key, "code": int(code), "text": None} for code in sorted(set(value)))
        elif item.type in ("text", "textarea"):
            rows.append({"item_key": item.key, "code": None, "text": str(value)})
        else:
            rows.append({"item_key": item.key, "code": int(value), "text": None})
    return rows


def store(session: Session, sub: Submission) -> Response:
    """Add the response, its answers, flags and idempotency key to the session (caller commits).

    The idempotency key's primary key makes a duplicate fail with IntegrityError (here, or
    at commit for a concurrent twin); the caller treats that as "already stored". Answers (about 30 per response)
    go in as one executemany, not as ORM objects: this is the hot path of every submit.
    """
    response = Response(
        version_id=sub.version.id, duration_ms=sub.duration_ms, language=sub.language,
        channel=sub.tags.channel, source=sub.tags.source, unit_id=sub.tags.unit_id,
        counter_id=sub.tags.counter_id, field_id=sub.tags.field_id, procedure_id=sub.tags.procedure_id,
        device_hash=sub.tags.device_hash,
    )
    response.flags = [ResponseFlag(reason=r, detail=d) for r, d in sub.flags]
    session.add(response)
    session.flush()
    rows = answer_rows(sub.questionnaire, sub.answers)
    if rows:
        session.execute(insert(Answer), [{"response_id": response.id, **row} for row in rows])
    session.add(IdempotencyKey(key=sub.idempotency_key, response_id=response.id))
    session.flush()  # a duplicate submission id fails here, before any later work in the transaction
    return response
