"""Citizen blueprint: questionnaire links, the form, the thank-you page.

Counter and dossier QR entry points reuse `serve_form` with their own tags.
"""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from questionnaires.loader import Questionnaire

from .. import catalog
from ..db import get_session
from ..errors import abort_with
from ..i18n import _, get_locale
from ..qr import dossiers
from ..registry import counters
from ..responses import BeforeCommit, Pending, Stored, Submission, Tags, already_submitted, store
from ..sampling import shortlinks, tracking
from ..security import csrf
from ..writes import group_commit
from . import abuse, submission, tickets
from .forms import QuestionnaireForm, build_form
from .quality import submission_flags

bp = Blueprint("public", __name__)
csrf.exempt(bp)  # checked in serve_form, so that a stale token keeps the visitor's answers

VERSION = re.compile(r"[0-9]{1,9}")
MAX_CACHED_VERSIONS = 1024


@bp.get("/")
def index():
    session = get_session()
    versions = [(row, catalog.definition(row)) for row in catalog.list_latest(session)]
    return render_template("public/index.html", versions=versions)


@bp.route("/q/<key>", methods=["GET", "POST"])
def questionnaire(key: str):
    published = _version_for(get_session(), key)
    device = abuse.Device.from_request()
    place = f"q:{published.key}"
    resp = serve_form(
        published, Tags(channel="web", device_hash=device.hash(place)), thanks_url=url_for("public.thanks", key=key),
        before_commit=lambda s, response: abuse.check_submission(s, response, place), device=device,
    )
    return device.remember(resp)


@bp.get("/q/<key>/cam-on")
def thanks(key: str):
    row = catalog.latest(get_session(), key)
    if row is None:
        abort(404)
    return render_template("public/thanks.html", questionnaire=catalog.definition(row))


def _version_for(session: Session, key: str) -> catalog.Published:
    """The version the visitor answers: the one the form was rendered with (POST), else the latest.

    A published (key, version) never changes, so a submit finds its version in this app's
    memory instead of asking the database every time. Only versions that exist are kept,
    under their number (not the spelling the visitor sent), and the memory is bounded.
    """
    posted = request.form.get("v") if request.method == "POST" else request.args.get("v")
    if posted is None:
        row = catalog.latest(session, key)
        if row is None:
            abort(404)
        return catalog.Published.of(row)
    if not VERSION.fullmatch(posted):  # ASCII digits only: '²', '١' or '１' are not version numbers
        abort(404)
    number = int(posted)
    known = current_app.extensions.setdefault("published_versions", {})
    found = known.get((key, number))
    if found is None:
        row = catalog.get_version(session, key, number)
        if row is None:
            abort(404)
        if len(known) >= MAX_CACHED_VERSIONS:
            known.clear()
        found = known[(key, number)] = catalog.Published.of(row)
    return found


def serve_form(
    published: catalog.Published,
    tags: Tags,
    thanks_url: str,
    context: dict | None = None,
    before_commit: BeforeCommit | None = None,
    device: abuse.Device | None = None,
):
    """Render the questionnaire (GET) or store one response and redirect (POST).

    Every render carries a new ticket (survey.citizen.tickets) bound to this page. A post
    whose CSRF token or ticket has gone stale (a form left open too long, a server restarted
    with another key) is not thrown away: the form comes back with every answer kept, a fresh
    token and ticket, and a short message; nothing is stored until it is sent again.
    """
    questionnaire = published.questionnaire
    lang = get_locale()
    if request.method == "POST":
        try:
            posted = submission.read(questionnaire, request.form, lang)
        except submission.BadSubmission as exc:
            abort_with(400, str(exc))
        ticket, stale = _admit(posted.submission_id)
        if ticket is not None and not posted.errors:
            _store(published, posted, ticket, tags, lang, before_commit)
            return redirect(thanks_url, code=303)
        form = build_form(questionnaire, lang).shown_again(request.form, posted)
        if stale:
            form.submission_id.data = tickets.issue(request.path)
        status = 400 if stale else 422
    else:
        # Only the hidden fields are rendered per request; the questions come pre-rendered.
        form = QuestionnaireForm()
        form.submission_id.data = tickets.issue(request.path)
        form.v.data = str(published.version)
        stale = None
        status = 200
        if device is not None and not device.new and tags.device_hash:
            context = {**(context or {}), "recent": abuse.recent_answer(get_session(), tags.device_hash),
                       "thanks_url": thanks_url}
    form.lang.data = lang
    pristine = _pristine_items(questionnaire, lang) if status == 200 else None
    page = render_template(
        "public/form.html", form=form, questionnaire=questionnaire, lang=lang, pristine_items=pristine,
        notice=stale, **(context or {}),
    )
    resp = make_response(page, status)
    # Never in a shared cache, always revalidated, but allowed in the browser's back-forward
    # cache: Back after sending then restores this very form, whose ticket has been used, so
    # sending it again stores nothing new (no-store would make Back fetch a fresh form).
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


def _admit(submission_id: str) -> tuple[tickets.Ticket | None, str | None]:
    """(the post's ticket, None) when its CSRF token and ticket hold; else (None, why, for the visitor)."""
    try:
        csrf.protect()
    except CSRFError:
        return None, _("Phiên làm việc đã hết hạn nên phiếu chưa được gửi. Các câu trả lời của Ông/Bà vẫn được giữ "
                       "nguyên bên dưới: vui lòng kiểm tra và bấm “Gửi phiếu” lại.")
    try:
        return tickets.check(submission_id, request.path), None
    except (tickets.InvalidTicket, tickets.ExpiredTicket):
        return None, _("Phiếu này đã mở quá lâu hoặc không còn hợp lệ nên chưa được gửi. Các câu trả lời của Ông/Bà "
                       "vẫn được giữ nguyên bên dưới: vui lòng kiểm tra và bấm “Gửi phiếu” lại.")


def _store(published: catalog.Published, posted: submission.Posted, ticket: tickets.Ticket, tags: Tags, lang: str,
           before_commit: BeforeCommit | None) -> None:
    """One response, exactly once: the ticket's unique key answers a double tap, a retry or a
    concurrent twin at insert or commit time (no "already stored?" query first).
    Concurrent submits share a commit (writes.GroupCommit); each is acknowledged after it."""
    duration = ticket.elapsed_ms()
    sub = Submission(
        version_id=published.id, questionnaire=published.questionnaire, answers=posted.answers,
        idempotency_key=ticket.value, language=lang, duration_ms=duration, tags=tags,
        flags=submission_flags(published.questionnaire, posted.answers, duration, posted.honeypot),
    )

    try:
        group_commit(store, Pending(sub, before_commit))
    except IntegrityError:
        session = get_session()
        session.rollback()
        if not already_submitted(session, ticket.value):
            raise


def _pristine_items(questionnaire: Questionnaire, lang: str) -> Markup:
    """The questions without answers or errors, rendered once per version and language.

    They are ~90% of the page and the same for every visitor; rendering 30 items through
    the macro on every request cost more than everything else a GET does.
    """
    cache = current_app.extensions.setdefault("pristine_items", {})
    key = (questionnaire.checksum, lang)
    if key not in cache:
        blank = build_form(questionnaire, lang)(formdata=None)
        cache[key] = Markup(render_template("public/_items.html", form=blank, questionnaire=questionnaire, lang=lang))
    return cache[key]


@bp.route("/c/<code>", methods=["GET", "POST"])
def counter_form(code: str):
    """A counter's QR: its questionnaire tagged with unit, counter and field (picked first if several)."""
    session = get_session()
    counter = counters.by_public_code(session, code)
    if counter is None:
        abort(404)
    field = counters.chosen_field(counter, request.args.get("f"))
    lang = get_locale()
    if field is None and counter.fields:
        if request.method == "POST":
            abort_with(400, _("Vui lòng chọn lĩnh vực trước khi gửi phiếu."))
        return render_template("public/pick_field.html", counter=counter, lang=lang, field_name=counters.field_name,
                               tag_lines=counters.tag_lines(counter.unit, lang, counter))
    published = _version_for(session, counter.questionnaire_key)
    device = abuse.Device.from_request()
    tags = Tags(channel="counter", unit_id=counter.unit_id, counter_id=counter.id,
                field_id=field.id if field else None, device_hash=device.hash(f"c{counter.id}"))
    resp = serve_form(
        published, tags, thanks_url=url_for("public.thanks", key=published.key),
        context={"tag_lines": counters.tag_lines(counter.unit, lang, counter, field)},
        before_commit=lambda s, response: abuse.check_submission(s, response, f"c{counter.id}"), device=device,
    )
    return device.remember(resp)


@bp.route("/d/<token>", methods=["GET", "POST"])
def dossier_form(token: str):
    """A receipt's single-use QR: answers once, expires, refuses forged or altered links."""
    session = get_session()
    try:
        link = dossiers.open_link(session, token, current_app.config["DOSSIER_LINK_DAYS"])
    except dossiers.InvalidLink:
        abort_with(404, _("Mã QR hoặc đường dẫn này không hợp lệ. Vui lòng quét lại mã in trên giấy hẹn trả kết quả."))
    key = current_app.config["DOSSIER_QUESTIONNAIRE"]
    thanks_url = url_for("public.thanks", key=key)
    if link.used:
        if request.method == "POST" and already_submitted(session, request.form.get("submission_id", "")):
            return redirect(thanks_url, code=303)  # a double tap on "Gửi phiếu": the first one counted
        return _dossier_notice("used")
    if link.expired:
        return _dossier_notice("expired")
    published = _version_for(session, key)
    lang = get_locale()
    device = abuse.Device.from_request()
    member = tracking.sampled_member(session, link.unit.id, link.data.dossier_code)  # the periodic survey, never pooled
    sampled = member is not None
    tags = Tags(channel="dossier", unit_id=link.unit.id, field_id=link.field.id if link.field else None,
                procedure_id=link.procedure.id if link.procedure else None, device_hash=device.hash(f"u{link.unit.id}"),
                **(tracking.sample_tags(member) if member else {}))

    def spend(s: Session, response: Stored) -> None:
        dossiers.spend(s, link)
        if sampled:
            tracking.mark_answered_online(s, link.unit.id, link.data.dossier_code)
        abuse.check_submission(s, response, f"u{link.unit.id}")

    try:
        resp = serve_form(
            published, tags, thanks_url=thanks_url, before_commit=spend,
            context={"tag_lines": counters.tag_lines(link.unit, lang, None, link.field, link.procedure, link.data.dossier_code),
                     "privacy_note": _("Mã hồ sơ chỉ dùng để mỗi hồ sơ được đánh giá một lần. Câu trả lời được lưu cùng "
                                       "đơn vị, lĩnh vực và thủ tục; không lưu mã hồ sơ, họ tên, số điện thoại hay số "
                                       "giấy tờ tùy thân của Ông/Bà.")},
        )
    except dossiers.AlreadyUsed:
        session.rollback()  # a simultaneous submit for the same dossier won
        return _dossier_notice("used")
    return device.remember(resp)


@bp.get("/m/<code>")
def letter_link(code: str):
    """The short link typed from an invitation letter (M12-000034-K7PQRX): on to the person's
    single-use dossier link, which answers once and says when it was used or has expired."""
    session = get_session()
    try:
        token = shortlinks.resolve(session, code)
    except shortlinks.UnknownShortLink:
        abort_with(404, _("Đường dẫn này không đúng. Vui lòng kiểm tra lại từng ký tự in trên thư mời, hoặc quét mã QR trên thư."))
    session.commit()  # the link's row, made at the first visit if the letter was printed before it
    resp = redirect(url_for("public.dossier_form", token=token), code=303)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _dossier_notice(kind: str):
    """The polite page for a dossier link that was used already (409) or has expired (410)."""
    resp = make_response(render_template("public/dossier_notice.html", kind=kind), 409 if kind == "used" else 410)
    resp.headers["Cache-Control"] = "no-store"
    return resp
