"""Paper forms and phone interviews of the sampled survey (issue #15 items 5–6).

A returned paper form is keyed by its respondent code, through the citizen form's own reader
(survey.citizen.submission), and stored with survey.responses.store: channel "paper", the
member's sample tags (never the member or the code), the keyer's login beside it in
staff_entries, and the member marked paper_returned, all in the caller's transaction.

Double entry (an option per draw): two different staff key the same form; the keyings wait in
paper_keyings, beside the member, out of the responses table. Agreeing keyings become one
response; disagreeing ones wait for a third person, who sees them item by item and settles.
A phone interviewer fills the same form for a member: channel "phone", their login recorded.
Nothing here commits.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from questionnaires.loader import Item, Questionnaire

from .. import catalog
from ..citizen.quality import submission_flags
from ..i18n import _
from ..models import DrawEntryOption, PaperKeying, SampleMember, StaffEntry
from ..responses import Pending, Submission, Tags, store
from . import tracking

PAPER, PHONE = "paper", "phone"
FIRST, SECOND, SETTLE = "first", "second", "settle"


class EntryError(ValueError):
    """A keying that cannot be taken; the message is translated and says why. `status` is the
    HTTP status a page answers with (409 for a form already entered, 422 otherwise)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def published(session: Session, key: str) -> catalog.Published:
    row = catalog.latest(session, key)
    if row is None:
        raise EntryError(_("Chưa xuất bản phiếu “{key}”: quản trị hệ thống cần xuất bản phiếu trước.", key=key), 503)
    return catalog.Published.of(row)


def find_member(session: Session, code: str) -> SampleMember:
    """The member with this respondent code, in any draw (the view checks it may be managed)."""
    code = (code or "").strip().upper()
    if not code:
        raise EntryError(_("Vui lòng nhập mã người trả lời in trên phiếu."))
    member = session.scalar(select(SampleMember).where(SampleMember.respondent_code == code))
    if member is None:
        raise EntryError(_("Không có mã người trả lời “{code}”: hãy kiểm tra lại mã in trên phiếu.", code=code[:30]))
    return member


def check_open(member: SampleMember, draw_id: int) -> None:
    """May this member's form still be entered in this draw?"""
    if member.draw_id != draw_id:
        raise EntryError(_("Mã {code} thuộc lần rút mẫu #{draw}, không thuộc lần rút này: hãy mở trang nhập phiếu "
                           "của lần rút #{draw}.", code=member.respondent_code, draw=member.draw_id))
    if not tracking.in_field(member):
        raise EntryError(_("{code} là người dự phòng chưa được dùng: hãy thay người theo thứ tự trước.",
                           code=member.respondent_code))
    if member.status in tracking.RESPONDED or member.status == "replaced":
        raise EntryError(_("Phiếu của {code} đã được ghi nhận trước đó (“{status}”), không nhập lại.",
                           code=member.respondent_code, status=_(tracking.STATUSES[member.status])), 409)


def double_entry(session: Session, draw_id: int) -> bool:
    option = session.get(DrawEntryOption, draw_id)
    return bool(option and option.double_entry)


def set_double_entry(session: Session, draw_id: int, on: bool, login: str) -> None:
    option = session.get(DrawEntryOption, draw_id)
    if option is None:
        option = DrawEntryOption(draw_id=draw_id)
        session.add(option)
    option.double_entry, option.actor_login = on, login


def store_response(session: Session, form: catalog.Published, member: SampleMember, answers: dict[str, Any], *,
                   channel: str, login: str, idempotency_key: str, lang: str = "vi") -> int:
    """Store the answers as a sampled response, record who entered it, and move the member's status."""
    dossier = member.dossier
    sub = Submission(version_id=form.id, questionnaire=form.questionnaire, answers=answers,
                     idempotency_key=idempotency_key, language=lang,
                     tags=Tags(channel=channel, unit_id=dossier.unit_id, field_id=dossier.field_id,
                               **tracking.sample_tags(member)),
                     flags=submission_flags(form.questionnaire, answers, None, None))
    status = "paper_returned" if channel == PAPER else "answered_phone"
    # Conditional, so two people keying the same code at once store one form: the loser's
    # transaction is rolled back by the view with this 409.
    moved = session.execute(update(SampleMember).where(SampleMember.id == member.id,
                                                       SampleMember.status.not_in([*tracking.RESPONDED, "replaced"]))
                            .values(status=status).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise EntryError(_("Phiếu của {code} đã được ghi nhận trước đó (“{status}”), không nhập lại.",
                           code=member.respondent_code, status=_(tracking.STATUSES[status])), 409)
    [stored] = store(session, [Pending(sub)])
    session.add(StaffEntry(response_id=stored.id, channel=channel, staff_login=login))
    session.flush()
    session.expire(member, ["status"])
    return stored.id


# --- double entry -------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What a keying led to: 'stored' (a response), 'first' (waits for the second keying) or
    'disagree' (waits for a third person)."""

    kind: str
    response_id: int | None = None


def keyings(session: Session, member: SampleMember) -> dict[str, PaperKeying]:
    return {k.round: k for k in session.scalars(select(PaperKeying).where(PaperKeying.member_id == member.id))}


def _decoded(keying: PaperKeying) -> dict[str, Any]:
    return json.loads(keying.answers)


def disagreements(questionnaire: Questionnaire, first: dict[str, Any], second: dict[str, Any]) -> list[tuple[Item, Any, Any]]:
    """(item, first value, second value) for every item the two keyings read differently."""
    out = []
    for item in questionnaire.items:
        a, b = first.get(item.key), second.get(item.key)
        if item.type == "multiple":
            a, b = sorted(a or []), sorted(b or [])
        if a != b and not (a in (None, []) and b in (None, [])):
            out.append((item, a, b))
    return out


def key_paper(session: Session, form: catalog.Published, member: SampleMember, answers: dict[str, Any], *, login: str,
              idempotency_key: str, lang: str = "vi") -> Outcome:
    """Take one keying of a paper form: stored at once in single-entry mode; in double-entry
    mode kept until a second person's keying agrees with it (then stored) or disagrees."""
    if not double_entry(session, member.draw_id):
        return Outcome("stored", store_response(session, form, member, answers, channel=PAPER, login=login,
                                                idempotency_key=idempotency_key, lang=lang))
    found = keyings(session, member)
    if FIRST not in found:
        session.add(PaperKeying(member_id=member.id, round=FIRST, version_id=form.id, keyer_login=login,
                                answers=json.dumps(answers, ensure_ascii=False)))
        session.flush()
        return Outcome(FIRST)
    first = found[FIRST]
    if SECOND not in found and first.keyer_login == login and _decoded(first) == json.loads(json.dumps(answers)):
        return Outcome(FIRST)  # the same keying sent twice (a double click): nothing new
    if SECOND in found:
        raise EntryError(_("Phiếu {code} đã được nhập hai lần và đang chờ người thứ ba đối chiếu.",
                           code=member.respondent_code), 409)
    if first.keyer_login == login:
        raise EntryError(_("Lần nhập thứ hai của phiếu {code} phải do một người khác nhập (lần thứ nhất do {login}).",
                           code=member.respondent_code, login=login), 409)
    if first.version_id != form.id:
        raise EntryError(_("Lần nhập thứ nhất dùng phiên bản phiếu khác: hãy nhờ người thứ ba đối chiếu."), 409)
    session.add(PaperKeying(member_id=member.id, round=SECOND, version_id=form.id, keyer_login=login,
                            answers=json.dumps(answers, ensure_ascii=False)))
    session.flush()
    if disagreements(form.questionnaire, _decoded(first), answers):
        return Outcome("disagree")
    return Outcome("stored", store_response(session, form, member, answers, channel=PAPER, login=login,
                                            idempotency_key=idempotency_key, lang=lang))


def to_settle(session: Session, draw_id: int) -> list[SampleMember]:
    """Members whose two keyings disagree and who have no response yet, by respondent code."""
    keyed = select(PaperKeying.member_id).where(PaperKeying.round == SECOND)
    return list(session.scalars(select(SampleMember).where(SampleMember.draw_id == draw_id, SampleMember.id.in_(keyed),
                                                           SampleMember.status.not_in(tracking.RESPONDED))
                                .order_by(SampleMember.respondent_code)))


def pending_settlement(session: Session, form: catalog.Published, member: SampleMember):
    """(first answers, second answers, the disagreements) of a form waiting to be settled."""
    found = keyings(session, member)
    if SECOND not in found or member.status in tracking.RESPONDED:
        raise EntryError(_("Phiếu {code} không có hai lần nhập đang chờ đối chiếu.", code=member.respondent_code))
    first, second = _decoded(found[FIRST]), _decoded(found[SECOND])
    return first, second, disagreements(form.questionnaire, first, second), found


def settle(session: Session, form: catalog.Published, member: SampleMember, answers: dict[str, Any], *, login: str,
           idempotency_key: str, lang: str = "vi") -> int:
    """A third person's reading of a disagreeing form becomes its response."""
    _first, _second, _diffs, found = pending_settlement(session, form, member)
    if login in (found[FIRST].keyer_login, found[SECOND].keyer_login):
        raise EntryError(_("Người đối chiếu phải khác hai người đã nhập phiếu {code}.", code=member.respondent_code), 403)
    session.add(PaperKeying(member_id=member.id, round=SETTLE, version_id=form.id, keyer_login=login,
                            answers=json.dumps(answers, ensure_ascii=False)))
    return store_response(session, form, member, answers, channel=PAPER, login=login,
                          idempotency_key=idempotency_key, lang=lang)
