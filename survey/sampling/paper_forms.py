"""The paper questionnaire as PDF, for one sample member or a whole draw: the questionnaire a
sampled person's link opens (DOSSIER_QUESTIONNAIRE, its latest published version: the official
wording, scale and order, with its sections), boxes to tick, readable in black-and-white print,
and on every page the respondent code in print and as a QR code (for keying the returned form
by respondent code). No name or address is printed on the form: the letter carries those.

The questionnaire is laid out once and each person's code is stamped into every page (`stamping`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app, render_template
from sqlalchemy.orm import Session

from questionnaires.loader import Item, Questionnaire

from .. import catalog
from ..i18n import _
from ..models import SampleDraw
from . import fieldwork, stamping
from .letters import in_vietnamese
from .tracking import in_field


class PaperFormError(LookupError):
    """Nothing to print: the message (translated) says what to do."""


@dataclass(frozen=True)
class Group:
    satisfaction: bool
    items: tuple[Item, ...]


def questionnaire(session: Session) -> Questionnaire:
    key = current_app.config["DOSSIER_QUESTIONNAIRE"]
    row = catalog.latest(session, key)
    if row is None:
        raise PaperFormError(_("Phiếu “{key}” chưa được công bố: quản trị hệ thống công bố phiếu trước khi in.", key=key))
    return catalog.definition(row)


def codes(session: Session, row: SampleDraw, code: str | None = None) -> list[str]:
    """Respondent codes of the people in the field (or the one asked for), in list order."""
    found = [m.respondent_code for m, _d, _u, _f in fieldwork.members(session, row) if in_field(m) and m.status != "replaced"]
    if code is None:
        if not found:
            raise PaperFormError(_("Lần rút này chưa có ai trong danh sách khảo sát."))
        return found
    wanted = code.strip().upper()
    if wanted not in found:
        raise PaperFormError(_("Không có mã người trả lời “{code}” đang khảo sát trong lần rút này.", code=code.strip()[:30]))
    return [wanted]


def _groups(q: Questionnaire) -> dict[str, list[Group]]:
    """Consecutive satisfaction items with the same scale share one grid; other items stand alone."""
    out: dict[str, list[Group]] = {}
    for section in q.sections:
        groups: list[Group] = []
        for item in section.items:
            grid = item.type == "satisfaction"
            last = groups[-1] if groups else None
            if grid and last is not None and last.satisfaction and last.items[0].no_opinion == item.no_opinion:
                groups[-1] = Group(True, last.items + (item,))
            else:
                groups.append(Group(grid, (item,)))
        out[section.key] = groups
    return out


def _condition(q: Questionnaire) -> Callable[[Item], str]:
    order = [i.key for i in q.items]

    def text(item: Item) -> str:
        cond = item.show_if
        source = q.item(cond.item)
        labels = dict(source.choices("vi"))
        answers = "; ".join(labels.get(c, str(c)) for c in cond.codes)
        if q.numbers.get(source.key):
            return _("Chỉ trả lời nếu ở câu {number} Ông/Bà chọn: {answers}.", number=q.numbers[source.key], answers=answers)
        if order.index(source.key) == order.index(item.key) - 1:
            return _("Chỉ trả lời nếu ở câu ngay trên Ông/Bà chọn: {answers}.", answers=answers)
        label = source.label.vi if len(source.label.vi) <= 60 else source.label.vi[:60].rsplit(" ", 1)[0] + "…"
        return _("Chỉ trả lời nếu ở câu “{question}” Ông/Bà chọn: {answers}.", question=label, answers=answers)
    return text


def paper_html(q: Questionnaire, issuer: str) -> str:
    with in_vietnamese():
        return render_template("sampling/paper_form.html", q=q, issuer=issuer, groups=_groups(q), condition=_condition(q))


def write_pdf(q: Questionnaire, issuer: str, respondent_codes: list[str], target: str | Path | IO[bytes],
              progress: Callable[[int], None] | None = None) -> int:
    """Every page of the form once per respondent code; returns the number of pages."""
    stamper = stamping.Stamper({"form": stamping.template(paper_html(q, issuer))})
    for code in respondent_codes:
        stamper.add("form", {"code": code}, {"qr": code})
    return stamper.write(target, progress)
