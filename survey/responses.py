"""The write path: one validated submission becomes one stored response, exactly once."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from questionnaires.loader import Questionnaire

from .db import FastInsert
from .models import Answer, IdempotencyKey, Response, ResponseFlag
from .models._time import utcnow


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
    version_id: int
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


@dataclass
class Stored:
    """A response written in the open transaction: what before-commit hooks may read, and
    flags they may add (written by `add_flags`)."""

    id: int
    device_hash: str | None
    flags: list[tuple[str, str]]


_RESPONSE = FastInsert(Response.__table__, ["version_id", "submitted_at", "duration_ms", "language", "channel", "source",
                                             "unit_id", "counter_id", "field_id", "procedure_id", "device_hash"],
                       returning="id")
_KEY = FastInsert(IdempotencyKey.__table__, ["key", "response_id", "created_at"])
_ANSWER = FastInsert(Answer.__table__, ["response_id", "item_key", "code", "text"])
_FLAG = FastInsert(ResponseFlag.__table__, ["response_id", "reason", "detail", "created_at"])


def store(session: Session, sub: Submission) -> Stored:
    """Write the response, its idempotency key and its answers in the session's transaction
    (the caller commits, after `add_flags`).

    Three INSERTs compiled once (db.FastInsert), the answers as one executemany: this is the
    hot path of every submit. The idempotency key's primary key makes a duplicate fail with
    IntegrityError here, before the answers, or at commit for a concurrent twin; the caller
    treats that as "already stored".
    """
    conn = session.connection()
    tags, now = sub.tags, utcnow()
    response_id = _RESPONSE.one(conn, {
        "version_id": sub.version_id, "submitted_at": now, "duration_ms": sub.duration_ms, "language": sub.language,
        "channel": tags.channel, "source": tags.source, "unit_id": tags.unit_id, "counter_id": tags.counter_id,
        "field_id": tags.field_id, "procedure_id": tags.procedure_id, "device_hash": tags.device_hash,
    })
    _KEY.one(conn, {"key": sub.idempotency_key, "response_id": response_id, "created_at": now})
    rows = answer_rows(sub.questionnaire, sub.answers)
    if rows:
        for row in rows:
            row["response_id"] = response_id
        _ANSWER.many(conn, rows)
    return Stored(response_id, tags.device_hash, list(sub.flags))


def add_flags(session: Session, stored: Stored) -> None:
    """Write the flags the submission and the hooks decided (nothing is deleted, ever)."""
    if stored.flags:
        now = utcnow()
        _FLAG.many(session.connection(), [
            {"response_id": stored.id, "reason": reason, "detail": detail, "created_at": now}
            for reason, detail in stored.flags
        ])
