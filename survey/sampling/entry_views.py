"""Paper entry, double-entry settlement, phúc tra and phone interviews (`/staff/sampling/draws/<id>/…`).

Thin views over survey.sampling.entry and .recheck: the questionnaire is read by the citizen
form's reader (survey.citizen.submission) and each render carries a ticket (survey.citizen.tickets)
that becomes the response's idempotency key, so a double click stores one response. Every route
is scoped to the draw's unit with `scope.require`; a respondent code of another subtree is a 403.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, StringField

from .. import catalog
from ..citizen import submission, tickets
from ..db import get_session
from ..errors import abort_with
from ..i18n import _, get_locale
from ..models import FrameDossier, SampleDraw, SampleMember
from ..responses import already_submitted
from ..staff import audit, scope
from ..staff.scope import require
from . import entry, recheck, tracking
from .views import unit_of_draw

bp = Blueprint("staff_entry", __name__, url_prefix="/staff/sampling/draws")


class EntryForm(FlaskForm):
    respondent_code = StringField()


class ModeForm(FlaskForm):
    double_entry = HiddenField()


class RecheckForm(FlaskForm):
    size = StringField(default="10%")
    seed = StringField()


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def me():
    return current_user._get_current_object()


def _draw(draw_id: int) -> SampleDraw:
    return get_session().get(SampleDraw, draw_id)


def _form() -> catalog.Published:
    try:
        return entry.published(get_session(), current_app.config["DOSSIER_QUESTIONNAIRE"])
    except entry.EntryError as exc:
        abort_with(exc.status, str(exc))


def _answers_posted() -> MultiDict:
    """The post without the entry page's own field, for the citizen form's reader."""
    return MultiDict([(k, v) for k, v in request.form.items(multi=True) if k != "respondent_code"])


def _asked_code() -> str:
    """The respondent code asked for (query or form); '' when none, which only a GET may leave out
    (it shows the page that asks for one): a POST without it is a 400."""
    code = (request.values.get("respondent_code") or "").strip()
    if not code and request.method == "POST":
        abort_with(400, _("Vui lòng nhập mã người trả lời in trên phiếu."))
    return code


def _member(code: str, draw: SampleDraw) -> SampleMember:
    """The member with this code; 403 when it belongs to a subtree this account may not manage."""
    member = entry.find_member(get_session(), code)
    if not scope.may(me(), "manage_samples", member.dossier.unit):
        abort_with(403, _("Mã {code} thuộc đơn vị ngoài phạm vi được giao của tài khoản này.", code=member.respondent_code))
    entry.check_open(member, draw.id)
    return member


def _not_applicable(form: catalog.Published, posted: submission.Posted) -> dict[str, str]:
    """Answers keyed for questions the form's own answers say do not apply (a paper form can
    hold them; the reader would drop them): named, so nothing keyed is dropped unseen."""
    return {item.key: _("Câu này chỉ trả lời khi câu trước chọn đáp án phù hợp: hãy xoá đáp án này hoặc sửa câu trước.")
            for item in form.questionnaire.items
            if item.key not in posted.answers and any(v.strip() for v in request.form.getlist(item.key))}


def _item_errors(form: catalog.Published, errors: dict[str, str], lang: str) -> list[str]:
    """One line per item to fix, naming the item as the paper form does."""
    items = {i.key: i for i in form.questionnaire.items}
    return [_("Câu “{label}”: {why}", label=items[k].label.get(lang), why=why) for k, why in errors.items()]


def _progress(draw_id: int) -> dict:
    rows = tracking.rates(get_session(), draw_id)
    fielded = sum(r["fielded"] for r in rows)
    answered = sum(r["answered"] for r in rows)
    return {"fielded": fielded, "answered": answered, "rr1": answered / fielded if fielded else None}


def _page(template: str, draw: SampleDraw, form: catalog.Published, *, values: dict | None = None,
          item_errors: dict | None = None, errors: list[str] | None = None, status: int = 200, **context):
    lang = get_locale()
    entry_form = context.pop("entry_form", None) or EntryForm(formdata=None)
    page = render_template(template, draw=draw, design=draw.design, questionnaire=form.questionnaire, lang=lang,
                           values=values or {}, item_errors=item_errors or {}, errors=errors or [], form=entry_form,
                           ticket=tickets.issue(request.path), version=form.version, progress=_progress(draw.id),
                           **context)
    return page, status


def _read(form: catalog.Published, lang: str) -> submission.Posted:
    """The posted answers, read as the citizen side reads them; 400 for a post no rendered form could send."""
    try:
        return submission.read(form.questionnaire, _answers_posted(), lang)
    except submission.BadSubmission as exc:
        abort_with(400, str(exc))


def _checked(template: str, draw: SampleDraw, form: catalog.Published, posted: submission.Posted, lang: str, **context):
    """(ticket, None) when the post may be stored; else (None, the page again): 400 with a note when its
    ticket went stale, 422 naming every item with a problem."""
    try:
        ticket = tickets.check(posted.submission_id, request.path)
    except (tickets.InvalidTicket, tickets.ExpiredTicket):
        return None, _page(template, draw, form, values=posted.answers, status=400, errors=[_("Trang nhập đã mở quá lâu: phiếu chưa được lưu. Kiểm tra lại và bấm “Lưu phiếu” lần nữa.")],
                           **context)
    problems = {**posted.errors, **_not_applicable(form, posted)}
    if problems:
        return None, _page(template, draw, form, values=posted.answers, item_errors=problems,
                           errors=_item_errors(form, problems, lang), status=422, **context)
    return ticket, None


# --- paper entry --------------------------------------------------------------------------------

@bp.route("/<int:draw_id>/entry", methods=["GET", "POST"])
@require("manage_samples", unit=unit_of_draw)
def entry_page(draw_id: int):
    """Key in a returned paper form by its respondent code (keyboard only with entry.js)."""
    db = get_session()
    draw = _draw(draw_id)
    form = _form()
    double = entry.double_entry(db, draw.id)
    context = {"double": double, "mode_form": ModeForm(formdata=None), "waiting": len(entry.to_settle(db, draw.id))}
    if request.method == "GET":
        return _page("staff/sampling/entry.html", draw, form, **context)
    entry_form = EntryForm()
    lang = get_locale()
    posted = _read(form, lang)
    values = posted.answers
    try:
        member = _member(entry_form.respondent_code.data or "", draw)
    except entry.EntryError as exc:
        return _page("staff/sampling/entry.html", draw, form, values=values, entry_form=entry_form, status=exc.status,
                     errors=[str(exc)], **context)
    ticket, page = _checked("staff/sampling/entry.html", draw, form, posted, lang, entry_form=entry_form, **context)
    if page:
        return page
    try:
        outcome = entry.key_paper(db, form, member, posted.answers, login=me().login, idempotency_key=ticket.value,
                                  lang=lang)
        db.commit()
    except entry.EntryError as exc:
        db.rollback()
        return _page("staff/sampling/entry.html", draw, form, values=values, entry_form=entry_form, status=exc.status,
                     errors=[str(exc)], **context)
    except IntegrityError:
        db.rollback()
        if not already_submitted(db, ticket.value):
            raise
        outcome = entry.Outcome("stored")  # a double click: the first one counted
    code = member.respondent_code
    if outcome.kind == "stored":
        flash(_("{code}: đã lưu phiếu giấy.", code=code), "success")
    elif outcome.kind == entry.FIRST:
        flash(_("{code}: đã lưu lần nhập thứ nhất; cần một người khác nhập lại phiếu này.", code=code), "success")
    else:
        flash(_("{code}: hai lần nhập khác nhau; người thứ ba cần đối chiếu.", code=code), "warning")
    return redirect(url_for("staff_entry.entry_page", draw_id=draw.id), code=303)


@bp.post("/<int:draw_id>/entry-mode")
@require("manage_samples", unit=unit_of_draw)
def entry_mode(draw_id: int):
    """Switch double entry on or off for this draw."""
    db = get_session()
    form = ModeForm()
    if form.double_entry.data not in ("0", "1"):
        abort_with(400, _("Chế độ nhập không hợp lệ."))
    entry.set_double_entry(db, draw_id, form.double_entry.data == "1", me().login)
    db.commit()
    flash(_("Đã bật nhập hai lần.") if form.double_entry.data == "1" else _("Đã tắt nhập hai lần."), "success")
    return redirect(url_for("staff_entry.entry_page", draw_id=draw_id), code=303)


# --- settling disagreements -----------------------------------------------------------------------

@bp.route("/<int:draw_id>/settle", methods=["GET", "POST"])
@require("manage_samples", unit=unit_of_draw)
def settle(draw_id: int):
    """Without ?code: the forms whose two keyings disagree. With it: the disagreements item by
    item and the form to settle them (by a third person)."""
    db = get_session()
    draw = _draw(draw_id)
    form = _form()
    code = _asked_code()
    if not code:
        return render_template("staff/sampling/entry_settle_list.html", draw=draw, members=entry.to_settle(db, draw.id))
    try:
        member = _member(code, draw)
        first, second, diffs, _found = entry.pending_settlement(db, form, member)
    except entry.EntryError as exc:
        abort_with(404 if exc.status == 422 else exc.status, str(exc))
    lang = get_locale()
    agreed = {k: v for k, v in first.items() if k not in {item.key for item, _a, _b in diffs}}
    context = {"member": member, "diffs": diffs, "first": first, "second": second}
    if request.method == "GET":
        return _page("staff/sampling/entry_settle.html", draw, form, values=agreed, **context)
    posted = _read(form, lang)
    ticket, page = _checked("staff/sampling/entry_settle.html", draw, form, posted, lang, **context)
    if page:
        return page
    try:
        entry.settle(db, form, member, posted.answers, login=me().login, idempotency_key=ticket.value, lang=lang)
    except entry.EntryError as exc:
        db.rollback()
        return _page("staff/sampling/entry_settle.html", draw, form, values=posted.answers, errors=[str(exc)],
                     status=exc.status, **context)
    db.commit()
    flash(_("{code}: đã đối chiếu và lưu phiếu.", code=member.respondent_code), "success")
    return redirect(url_for("staff_entry.settle", draw_id=draw.id), code=303)


# --- phúc tra -------------------------------------------------------------------------------------

@bp.route("/<int:draw_id>/recheck", methods=["GET", "POST"])
@require("personal_data", unit=unit_of_draw)
def recheck_page(draw_id: int):
    """Draw a re-check subsample of the returned paper forms (POST), and list the subsamples
    with whom to contact (personal data: the view is audited)."""
    db = get_session()
    draw = _draw(draw_id)
    form = RecheckForm() if request.method == "POST" else RecheckForm(formdata=None)
    errors: list[str] = []
    if request.method == "POST":
        try:
            row = recheck.draw(db, draw.id, form.size.data or "", form.seed.data, me().login)
        except recheck.RecheckError as exc:
            db.rollback()
            errors.append(str(exc))
        else:
            audit.record(db, "recheck_drawn", actor=me(), unit=draw.design.unit, target=f"draw {draw.id}",
                         seed=row.seed, size=row.size, returned=row.returned, picked=len(recheck.picked(row)))
            db.commit()
            flash(_("Đã chọn {n} phiếu để phúc tra.", n=len(recheck.picked(row))), "success")
            return redirect(url_for("staff_entry.recheck_page", draw_id=draw.id), code=303)
    rows = recheck.rechecks(db, draw.id)
    codes = {c for r in rows for c in recheck.picked(r)}
    people = {m.respondent_code: d for m, d in db.execute(
        select(SampleMember, FrameDossier).join(FrameDossier, FrameDossier.id == SampleMember.dossier_id)
        .where(SampleMember.draw_id == draw.id, SampleMember.respondent_code.in_(codes)))} if codes else {}
    audit.record(db, "personal_data_viewed", actor=me(), unit=draw.design.unit, target=request.path, what="recheck",
                 rows=len(people))
    db.commit()
    return render_template("staff/sampling/entry_recheck.html", draw=draw, form=form, errors=errors, rechecks=rows,
                           picked=recheck.picked, people=people,
                           returned=len(recheck.returned_codes(db, draw.id))), 422 if errors else 200


# --- phone interviews -----------------------------------------------------------------------------

@bp.route("/<int:draw_id>/phone", methods=["GET", "POST"])
@require("personal_data", unit=unit_of_draw)
def phone(draw_id: int):
    """An interviewer fills the form on a member's behalf (channel "phone", their login kept
    beside the response). Shows the member's name and phone: every view is audited."""
    db = get_session()
    draw = _draw(draw_id)
    form = _form()
    code = _asked_code()
    if not code:
        return render_template("staff/sampling/entry_phone_pick.html", draw=draw, form=EntryForm(formdata=None))
    try:
        member = _member(code, draw)
    except entry.EntryError as exc:
        return render_template("staff/sampling/entry_phone_pick.html", draw=draw, errors=[str(exc)],
                               form=EntryForm(formdata=None, data={"respondent_code": code[:30]})), exc.status
    context = {"member": member, "dossier": member.dossier}
    lang = get_locale()
    if request.method == "GET":
        audit.record(db, "personal_data_viewed", actor=me(), unit=draw.design.unit, target=request.path,
                     what="phone_interview", rows=1)
        db.commit()
        return _page("staff/sampling/entry_phone.html", draw, form, **context)
    posted = _read(form, lang)
    ticket, page = _checked("staff/sampling/entry_phone.html", draw, form, posted, lang, **context)
    if page:
        return page
    try:
        entry.store_response(db, form, member, posted.answers, channel=entry.PHONE, login=me().login,
                             idempotency_key=ticket.value, lang=lang)
        db.commit()
    except entry.EntryError as exc:  # answered meanwhile (another interviewer, a paper form)
        db.rollback()
        abort_with(exc.status, str(exc))
    except IntegrityError:
        db.rollback()
        if not already_submitted(db, ticket.value):
            raise
    flash(_("{code}: đã lưu phiếu phỏng vấn qua điện thoại.", code=member.respondent_code), "success")
    return redirect(url_for("staff_sampling.draw", draw_id=draw.id), code=303)
