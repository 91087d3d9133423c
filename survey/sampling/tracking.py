"""Fieldwork tracking: the status of each sample member, replacements taken strictly in reserve
order, response rates per stratum; and what the citizen side needs to know: whether a dossier
link belongs to a sampled person (its response is then source='sample', reported apart from
counter feedback) and marking that person answered online. Only the status moves; no response
id is stored on the member, so a response stays anonymous (DOMAIN.md §8)."""
from __future__ import annotations

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session

from ..i18n import N_, _
from ..models import FrameDossier, SampleMember

ANSWERED_ONLINE = "answered_online"


def _members(unit_id: int, dossier_code: str):
    dossier = select(FrameDossier.id).where(FrameDossier.unit_id == unit_id, FrameDossier.dossier_code == dossier_code)
    return (or_(SampleMember.selected.is_(True), SampleMember.status != "drawn"),  # selected, or a reserve taken
            SampleMember.dossier_id.in_(dossier.scalar_subquery()))


def is_sampled(session: Session, unit_id: int, dossier_code: str) -> bool:
    """Is this dossier selected in a draw (any draw: a replaced draw's letters may still come back)?"""
    return bool(session.scalar(select(exists().where(*_members(unit_id, dossier_code)))))


def sampled_member(session: Session, unit_id: int, dossier_code: str) -> SampleMember | None:
    """The in-field member of this dossier in its latest draw (a replaced draw's letter may still
    come back: it then counts in the newest draw that fielded it), or None when not sampled."""
    return session.scalar(select(SampleMember).where(*_members(unit_id, dossier_code))
                          .order_by(SampleMember.draw_id.desc()).limit(1))


def sample_tags(member: SampleMember) -> dict:
    """The Response column values of a sampled person's answer, whatever the channel (online,
    phone, paper): source='sample', the draw and the stratum. Deliberately not the member id or the
    respondent code, so the response stays anonymous (DOMAIN.md §8). Use as Tags(**sample_tags(m), ...)."""
    return {"source": "sample", "sample_draw_id": member.draw_id, "stratum": member.stratum}


def mark_answered_online(session: Session, unit_id: int, dossier_code: str) -> None:
    """Set the members of this dossier to answered online, in the submit transaction."""
    session.execute(update(SampleMember).where(*_members(unit_id, dossier_code)).values(status=ANSWERED_ONLINE)
                    .execution_options(synchronize_session=False))


# --- fieldwork status ------------------------------------------------------------------------

STATUSES = {
    "drawn": N_("Chưa liên hệ"),
    "letter_sent": N_("Đã gửi thư"),
    "answered_online": N_("Đã trả lời trực tuyến"),
    "answered_phone": N_("Đã trả lời qua điện thoại"),
    "paper_returned": N_("Đã nhận phiếu giấy"),
    "refused": N_("Từ chối"),
    "unreachable": N_("Không liên lạc được"),
    "replaced": N_("Đã thay bằng người dự phòng"),
}
SETTABLE = ("letter_sent", "answered_phone", "paper_returned", "refused", "unreachable")
RESPONDED = frozenset({"answered_online", "answered_phone", "paper_returned"})
REPLACEABLE = frozenset({"refused", "unreachable"})


class TrackingError(ValueError):
    """A status change that cannot be made; the message is translated and says why."""


def in_field(member: SampleMember) -> bool:
    """Selected, or a reserve taken into the field (a reserve leaves 'drawn' only when taken)."""
    return member.selected or member.status != "drawn"


def member_by_code(session: Session, draw_id: int, code: str) -> SampleMember:
    member = session.scalar(select(SampleMember).where(SampleMember.draw_id == draw_id,
                                                       SampleMember.respondent_code == code.strip().upper()))
    if member is None:
        raise TrackingError(_("Không có mã người trả lời “{code}” trong lần rút này.", code=code.strip()[:30]))
    return member


def set_status(session: Session, member: SampleMember, status: str) -> None:
    if status not in SETTABLE:
        raise TrackingError(_("Trạng thái không hợp lệ."))
    if not in_field(member):
        raise TrackingError(_("{code} là người dự phòng chưa được dùng: hãy thay người theo thứ tự trước.",
                              code=member.respondent_code))
    if member.status in RESPONDED or member.status == "replaced":
        raise TrackingError(_("{code} đã ở trạng thái “{status}”, không đổi được.", code=member.respondent_code,
                              status=_(STATUSES[member.status])))
    member.status = status


def replace(session: Session, member: SampleMember) -> SampleMember:
    """Take the stratum's next unused reserve, strictly in reserve order, for a refusal or an
    unreachable person; the reserve goes into the field with the letter to send."""
    if not in_field(member) or member.status not in REPLACEABLE:
        raise TrackingError(_("Chỉ thay người đã từ chối hoặc không liên lạc được ({code} đang là “{status}”).",
                              code=member.respondent_code, status=_(STATUSES[member.status])))
    reserve = session.scalar(select(SampleMember).where(
        SampleMember.draw_id == member.draw_id, SampleMember.stratum == member.stratum,
        SampleMember.selected.is_(False), SampleMember.status == "drawn").order_by(SampleMember.reserve_rank).limit(1))
    if reserve is None:
        raise TrackingError(_("Tầng {stratum} đã hết người dự phòng lưu sẵn.", stratum=member.stratum))
    member.status = "replaced"
    reserve.status = "letter_sent"
    session.flush()
    return reserve


def rates(session: Session, draw_id: int) -> list[dict]:
    """Per stratum: in the field (selected + reserves taken), answered, refused, unreachable,
    no answer yet, and AAPOR RR1 = answered ÷ in the field (there are no partial interviews, so
    RR2 equals RR1). A replaced person stays in the denominator as the non-respondent they are."""
    out: dict[str, dict] = {}
    counts = session.execute(  # one GROUP BY: a draw has thousands of members, the page and estimates read this
        select(SampleMember.stratum, SampleMember.selected, SampleMember.status, func.count())
        .where(SampleMember.draw_id == draw_id)
        .group_by(SampleMember.stratum, SampleMember.selected, SampleMember.status))
    for stratum, selected, status, n in counts:
        if not (selected or status != "drawn"):  # in_field
            continue
        row = out.setdefault(stratum, {"stratum": stratum, "fielded": 0, "answered": 0, "refused": 0,
                                       "unreachable": 0, "pending": 0})
        row["fielded"] += n
        if status in RESPONDED:
            row["answered"] += n
        elif status == "refused":
            row["refused"] += n
        elif status == "unreachable":
            row["unreachable"] += n
        elif status != "replaced":
            row["pending"] += n
    for row in out.values():
        row["rr1"] = row["answered"] / row["fielded"] if row["fielded"] else None
    return [out[k] for k in sorted(out)]
