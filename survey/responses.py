"""The write path: one validated submission becomes one stored response, exactly once."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from questionnaires.loader import Questionnaire

from .models import Answer, IdempotencyKey, Response, ResponseFlag
from .models._time import utcnow
from .writes import FastInsert, new_ids


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
    sample_draw_id: int | None = None  # a sampled person's answer: see sampling.tracking.sample_tags
    stratum: str | None = None


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


def answer_values(questionnaire: Questionnaire, answers: dict[str, Any]) -> list[tuple[str, int | None, str | None]]:
    """Raw codes as (item_key, code, text): one per answered item, one per chosen option of a
    multiple-choice item."""
    values: list[tuple[str, int | None, str | None]] = []
    for item in questionnaire.items:
        value = answers.get(item.key)
        if value is None or value == []:
            continue
        if item.type == "multiple":
            values.extend((item.key, int(code), None) for code in sorted(set(value)))
        elif item.type in ("text", "textarea"):
            values.append((item.key, None, str(value)))
        else:
            values.append((item.key, int(value), None))
    return values


def answer_rows(questionnaire: Questionnaire, answers: dict[str, Any]) -> list[dict[str, Any]]:
    """answer_values as dicts by column name."""
    return [{"item_key": k, "code": c, "text": t} for k, c, t in answer_values(questionnaire, answers)]


@dataclass
class Stored:
    """A response written in the open transaction: what before-commit hooks may read, and
    flags they may add (written after the hooks)."""

    id: int
    device_hash: str | None
    flags: list[tuple[str, str]]


BeforeCommit = Callable[[Session, Stored], None]


@dataclass(frozen=True)
class Pending:
    """A submission on its way to the database, with what to check inside the transaction
    (e.g. spend a single-use dossier link, count a device's answers)."""

    submission: Submission
    before_commit: BeforeCommit | None = None


_RESPONSE = FastInsert(Response.__table__, ["id", "version_id", "submitted_at", "duration_ms", "language", "channel",
                                             "source", "unit_id", "counter_id", "field_id", "procedure_id", "device_hash",
                                             "sample_draw_id", "stratum"])
_KEY = FastInsert(IdempotencyKey.__table__, ["key", "response_id", "created_at"])
_ANSWER = FastInsert(Answer.__table__, ["response_id", "item_key", "code", "text"])
_FLAG = FastInsert(ResponseFlag.__table__, ["response_id", "reason", "detail", "created_at"])


def store(session: Session, batch: list[Pending]) -> list[Stored]:
    """Write a batch of submissions in the session's transaction (the caller commits).

    This is the hot path of every submit (see writes.GroupCommit, which hands it the submits
    waiting for a commit): one statement per table, whatever the batch size, through
    writes.FastInsert. The idempotency keys go in before the answers: a duplicate submission id
    fails there with IntegrityError (or at commit for a concurrent twin), which the caller
    treats as "already stored". Hooks run once every row is in; their flags are written last.
    """
    conn = session.connection()
    now = utcnow()
    ids = new_ids(conn, Response.__table__, len(batch))
    subs = [p.submission for p in batch]
    _RESPONSE.many(conn, [{
        "id": rid, "version_id": sub.version_id, "submitted_at": now, "duration_ms": sub.duration_ms,
        "language": sub.language, "channel": sub.tags.channel, "source": sub.tags.source, "unit_id": sub.tags.unit_id,
        "counter_id": sub.tags.counter_id, "field_id": sub.tags.field_id, "procedure_id": sub.tags.procedure_id,
        "device_hash": sub.tags.device_hash, "sample_draw_id": sub.tags.sample_draw_id, "stratum": sub.tags.stratum,
    } for rid, sub in zip(ids, subs)])
    _KEY.many(conn, [{"key": sub.idempotency_key, "response_id": rid, "created_at": now} for rid, sub in zip(ids, subs)])
    _ANSWER.many_values(conn, [(rid, *value) for rid, sub in zip(ids, subs)
                               for value in answer_values(sub.questionnaire, sub.answers)])
    stored = [Stored(rid, sub.tags.device_hash, list(sub.flags)) for rid, sub in zip(ids, subs)]
    for pending, written in zip(batch, stored):
        if pending.before_commit is not None:
            pending.before_commit(session, written)
    flags = [{"response_id": s.id, "reason": reason, "detail": detail, "created_at": now}
             for s in stored for reason, detail in s.flags]
    if flags:
        _FLAG.many(conn, flags)
    return stored
