"""Invitation letters for a draw: one A4 (or A5) page per person in the field (selected, or a
reserve once taken; never someone already replaced), in the administrative layout of Nghị định
30/2020 (national motto, issuing unit, number and date, "Kính gửi", signature block), each with
the person's personal single-use QR code and the short link it carries printed in full
(`shortlinks`: `/m/<respondent code>-<check>`, which redirects to the person's signed dossier link).

Letters are always printed in Vietnamese, whatever the staff page's language: they go to citizens.
Making them mints each person's dossier link (the token row is written: the caller commits), so a
person whose link cannot be made is known before printing; their letter asks for the paper form
instead and `Batch.problems` says why. The page is laid out once per batch and variant (with
or without a link) and each person's values are stamped into it (`stamping`): 10,000 letters
in about a minute instead of most of an hour.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO

from flask import g, has_request_context, render_template
from sqlalchemy.orm import Session

from ..i18n import _, format_date, outside_request
from ..models import SampleDraw, Unit
from ..qr import dossiers
from ..qr.codes import base_url
from . import fieldwork, shortlinks, stamping
from .tracking import in_field

SYNC_LIMIT = 1000  # people in one web request (about 4 s of CPU); more: the CLI (`sample letters`)


@dataclass(frozen=True)
class Size:
    page: str
    margin: str
    text: str
    small: str
    tiny: str
    motto: str
    title: str
    url: str
    qr: str
    gap: str


# Nghị định 30/2020: margins top 20–25, bottom 20–25, left 30–35, right 15–20 mm; text 13–14 pt (A4).
SIZES = {
    "A4": Size("A4", "20mm 20mm 20mm 30mm", "13pt", "12pt", "9pt", "11pt", "14pt", "12pt", "36mm", "12pt"),
    "A5": Size("A5", "12mm 12mm 12mm 18mm", "9pt", "8.5pt", "6.5pt", "7.5pt", "10.5pt", "8.5pt", "27mm", "6pt"),
}


@dataclass(frozen=True)
class Issuer:
    name: str  # the design's unit, e.g. "Phường Phố Hiến"
    parent: str | None
    place: str  # the province's name, for "Hưng Yên, ngày 01 tháng 12 năm 2026"
    day: date

    @property
    def full_name(self) -> str:
        return f"{self.name[:1].upper()}{self.name[1:]}" if self.name else ""

    @property
    def dated(self) -> str:
        # Nghị định 30/2020: a day below 10 and the months 1 and 2 take a leading zero
        month = f"{self.day.month:02d}" if self.day.month < 3 else str(self.day.month)
        return _("{place}, ngày {d} tháng {m} năm {y}", place=self.place, d=f"{self.day.day:02d}", m=month, y=self.day.year)


@dataclass(frozen=True)
class Letter:
    respondent_code: str
    name: str
    address: str
    unit_name: str
    field_name: str
    dossier_code: str
    completed_on: date
    short_url: str | None  # printed in full, without the scheme (a browser adds it)
    qr_url: str | None  # what the QR carries: the same short link, with https://
    expires: datetime | None


@dataclass
class Batch:
    issuer: Issuer
    letters: list[Letter]
    problems: list[tuple[str, str]] = field(default_factory=list)  # (respondent code, why no link)


def _place(unit: Unit) -> str:
    top = unit
    while top.parent is not None:
        top = top.parent
    for prefix in ("Thành phố ", "Tỉnh "):
        if top.name.startswith(prefix):
            return top.name[len(prefix):]
    return top.name


def issuer_of(unit: Unit, day: date | None = None) -> Issuer:
    return Issuer(unit.name, unit.parent.name if unit.parent is not None else None, _place(unit), day or date.today())


def batch(session: Session, row: SampleDraw, *, base: str | None = None, codes: set[str] | None = None,
          day: date | None = None) -> Batch:
    """The letters of a draw (or of the members whose respondent codes are given), minting each
    person's dossier link. Caller commits and audits."""
    root = base_url(base)
    out = Batch(issuer_of(row.design.unit, day), [])
    members = [m for m in fieldwork.members(session, row)
               if (codes is None or m[0].respondent_code in codes) and in_field(m[0]) and m[0].status != "replaced"]
    links = shortlinks.prepare(session, members)
    for member, dossier, unit, fld in members:
        link = links.get(member.id, shortlinks.Prepared(None, "conflict"))
        short = f"{root}/m/{shortlinks.short_code(member.respondent_code)}" if link.problem is None else None
        if link.problem is not None:
            out.problems.append((member.respondent_code, problem_text(link.problem, unit)))
        out.letters.append(Letter(
            member.respondent_code, dossier.name or "", dossier.address or "", unit.name, fld.name_vi, dossier.dossier_code,
            dossier.completed_on, short.split("://", 1)[-1] if short else None, short, link.expires_at))
    return out


def problem_text(problem: str, unit: Unit) -> str:
    return {
        "no_key": _("đơn vị {unit} chưa có khoá ký liên kết: quản trị đơn vị cấp khoá API rồi in lại", unit=unit.code),
        "used": _("hồ sơ này đã được đánh giá qua liên kết trên giấy biên nhận"),
        "conflict": _("hồ sơ đã có liên kết đánh giá trên giấy biên nhận: dùng liên kết đó hoặc phiếu giấy"),
        "bad_code": _("mã hồ sơ có ký tự không dùng được trong liên kết: thư mời dùng phiếu giấy"),
    }[problem]


@contextmanager
def in_vietnamese() -> Iterator[None]:
    """Letters and forms go to citizens: Vietnamese even when the staff page is in English."""
    if not has_request_context():
        with outside_request("vi"):
            yield
        return
    saved = g.get("locale")
    g.locale = "vi"
    try:
        yield
    finally:
        if saved is None:
            g.pop("locale", None)
        else:
            g.locale = saved


def letters_html(issuer: Issuer, size: str, variant: str) -> str:
    with in_vietnamese():
        return render_template("sampling/letters.html", issuer=issuer, size=SIZES[size], variant=variant)


def _values(letter: Letter) -> dict[str, str]:
    values = {
        "number": _("Số: {number}/TM-KSHL", number=letter.respondent_code),
        "to": _("Kính gửi: Ông/Bà {name}", name=letter.name) if letter.name else _("Kính gửi: Ông/Bà"),
        "address": _("Địa chỉ: {address}", address=letter.address) if letter.address else "",
        "dossier": letter.dossier_code, "field": letter.field_name, "unit": letter.unit_name,
        "completed": format_date(letter.completed_on),
        "foot": _("Mã người trả lời: {code}. Khi gọi điện hỏi về khảo sát, Ông/Bà chỉ cần đọc mã này.", code=letter.respondent_code),
    }
    if letter.short_url:
        values["url"] = letter.short_url
    if letter.expires:  # the last valid day, Vietnam time
        values["expires"] = _("Đường dẫn dùng được đến hết ngày {day}.",
                              day=format_date((letter.expires - timedelta(seconds=1)).astimezone(dossiers.VIETNAM)))
    return values


def write_pdf(batch_: Batch, size: str, target: str | Path | IO[bytes],
              progress: Callable[[int], None] | None = None) -> int:
    """Lay the letter out once per variant, stamp each person's values and QR code, write one PDF;
    progress(n) is called as letters are stamped. Returns the number of pages."""
    if not batch_.letters:
        raise ValueError("no letters to print")
    variants = {("online" if letter.qr_url else "paper") for letter in batch_.letters}
    stamper = stamping.Stamper({v: stamping.template(letters_html(batch_.issuer, size, v)) for v in sorted(variants)})
    with in_vietnamese():
        for done, letter in enumerate(batch_.letters, 1):
            if letter.qr_url:
                stamper.add("online", _values(letter), {"qr": letter.qr_url})
            else:
                stamper.add("paper", _values(letter))
            if progress and (done % 100 == 0 or done == len(batch_.letters)):  # the QR codes are most of the time
                progress(100 if done % 100 == 0 else done % 100)
    return stamper.write(target)
