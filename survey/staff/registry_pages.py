"""Staff pages for the registry and what hangs off it: the unit tree with counters (add, edit,
disable, the fields a counter serves), poster PDFs and QR images (the same output as
`flask qr posters` / `qr code`), unit API credentials shown once, and the questionnaire
catalogue. Every route is scoped with `scope.require`; lists come from `scope.visible_units`.

Posters are laid out synchronously up to STAFF_POSTER_SYNC_LIMIT counters per request
(200 ≈ 6–7 s of one worker); any subtree can also be made as a background job with progress
(poster_job_pages.py, jobs.py), so no request holds a worker for minutes.
"""
from __future__ import annotations

import io

import yaml
from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from questionnaires.loader import QuestionnaireError, load_dict

from .. import catalog
from ..db import get_session
from ..errors import abort_with
from ..i18n import N_, _, get_locale
from ..models import Counter, Field, QuestionnaireVersion, Response as SurveyResponse, Unit, UnitCredential
from ..qr import codes, credentials, posters
from ..registry import units as registry
from ..registry.counters import field_name
from . import audit, jobs, scope
from .forms import ActionForm, CounterForm, UnitForm
from .scope import require
from .views import conflict

bp = Blueprint("staff_registry", __name__, url_prefix="/staff")
POSTER_SYNC_LIMIT = 200
KIND_LABELS = {
    "province": N_("Tỉnh, thành phố"), "district": N_("Huyện (trước 2025)"), "commune": N_("Xã"), "ward": N_("Phường"),
    "department": N_("Sở, ngành"), "centre": N_("Trung tâm phục vụ hành chính công"), "hospital": N_("Bệnh viện"),
    "school": N_("Trường học"), "other": N_("Khác"),
}
MAX_UPLOAD = 60 * 1024  # a questionnaire definition is a few KB; the app's body limit is 64 KB


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


bp.register_error_handler(IntegrityError, conflict)


def unit_by_code(session: Session, code: str, **_: object) -> Unit | None:
    return session.scalar(select(Unit).where(Unit.code == code))


def unit_of_counter(session: Session, counter_id: int, **_: object) -> Unit | None:
    counter = session.get(Counter, counter_id)
    return counter.unit if counter is not None else None


def me():
    return current_user._get_current_object()


# --- the unit tree ----------------------------------------------------------------------

@bp.get("/units")
@require("manage_registry")
def units():
    db = get_session()
    rows = db.scalars(scope.visible_units(me(), "manage_registry").order_by(Unit.path)).all()
    counts = dict(db.execute(select(Counter.unit_id, func.count()).where(Counter.active.is_(True))
                             .group_by(Counter.unit_id)).all())
    top_depth = min((r.path.count("/") for r in rows), default=0)
    return render_template("staff/units.html", units=rows, counts=counts, top_depth=top_depth, kinds=KIND_LABELS)


def _unit_page(unit: Unit, unit_form: UnitForm, counter_form: CounterForm, child_form: UnitForm,
               errors: list[str], status: int = 200, secret: tuple[UnitCredential, str] | None = None):
    db = get_session()
    children = db.scalars(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.code)).all()
    counters = db.scalars(select(Counter).where(Counter.unit_id == unit.id).options(selectinload(Counter.fields))
                          .order_by(Counter.code)).all()
    live_keys = db.scalars(select(UnitCredential).where(UnitCredential.unit_id == unit.id,
                                                        UnitCredential.revoked_at.is_(None))).all()
    subtree = db.scalar(select(func.count()).select_from(Counter).join(Unit).where(
        Unit.path.startswith(unit.path), Unit.active.is_(True), Counter.active.is_(True))) or 0
    return render_template(
        "staff/unit.html", unit=unit, children=children, counters=counters, unit_form=unit_form,
        counter_form=counter_form, child_form=child_form, errors=errors, kinds=KIND_LABELS,
        questionnaires=_questionnaire_keys(db), fields=_fields(db), field_name=field_name, lang=get_locale(),
        live_keys=live_keys, secret=secret, action=ActionForm(), subtree_counters=subtree,
        poster_limit=_poster_limit(), poster_jobs=jobs.recent(db, unit), job_states=jobs.STATES,
        move_choices=unit_moves.parent_choices(unit), parent_visible=unit.parent is not None and scope.may(me(), "manage_registry", unit.parent),
    ), status


def _questionnaire_keys(db: Session) -> list[str]:
    return [row.key for row in catalog.list_latest(db)]


def _fields(db: Session) -> list[Field]:
    if not db.scalar(select(func.count()).select_from(Field)):
        registry.load_fields(db)  # the shipped reference list, as `counters import` does
    return list(db.scalars(select(Field).order_by(Field.code)))


def _poster_limit() -> int:
    return int(current_app.config.get("STAFF_POSTER_SYNC_LIMIT", POSTER_SYNC_LIMIT))


@bp.get("/units/<code>")
@require("manage_registry", unit=unit_by_code)
def unit(code: str):
    u = unit_by_code(get_session(), code)
    form = UnitForm(data={"code": u.code, "name": u.name, "kind": u.kind})
    return _unit_page(u, form, CounterForm(formdata=None), UnitForm(formdata=None), [])


@bp.post("/units/<code>")
@require("manage_registry", unit=unit_by_code)
def unit_edit(code: str):
    db = get_session()
    u = unit_by_code(db, code)
    form = UnitForm()
    name, kind = (form.name.data or "").strip(), form.kind.data or ""
    active = request.form.get("active") == "y"
    errors = []
    if not name or len(name) > 200:
        errors.append(_("Tên đơn vị: 1–200 ký tự."))
    if kind not in registry.UNIT_KINDS:
        errors.append(_("Loại đơn vị không hợp lệ."))
    if not active and any(g.unit_id == u.id for g in me().roles):
        errors.append(_("Bạn không thể ngừng sử dụng chính đơn vị mình được giao quản trị."))
    if errors:
        return _unit_page(u, form, CounterForm(formdata=None), UnitForm(formdata=None), errors, 422)
    before = {"name": u.name, "kind": u.kind, "active": u.active}
    u.name, u.kind, u.active = name, kind, active
    audit.record(db, "unit_updated", actor=me(), unit=u, target=u.code, before=before,
                 after={"name": name, "kind": kind, "active": active})
    db.commit()
    flash(_("Đã lưu đơn vị."), "success")
    return redirect(url_for(".unit", code=u.code))


@bp.post("/units/<code>/children")
@require("manage_registry", unit=unit_by_code)
def unit_add_child(code: str):
    db = get_session()
    parent = unit_by_code(db, code)
    form = UnitForm(prefix="child")
    new_code, name, kind = (form.code.data or "").strip(), (form.name.data or "").strip(), form.kind.data or ""
    errors = []
    if not new_code or len(new_code) > 32 or not all(c.isalnum() or c in "-_." for c in new_code):
        errors.append(_("Mã đơn vị: 1–32 ký tự chữ, số, dấu chấm hoặc gạch ngang."))
    elif unit_by_code(db, new_code) is not None:
        errors.append(_("Mã đơn vị “{code}” đã được dùng.", code=new_code))
    if not name or len(name) > 200:
        errors.append(_("Tên đơn vị: 1–200 ký tự."))
    if kind not in registry.UNIT_KINDS:
        errors.append(_("Loại đơn vị không hợp lệ."))
    if errors:
        return _unit_page(parent, UnitForm(formdata=None, data={"name": parent.name, "kind": parent.kind}),
                          CounterForm(formdata=None), form, errors, 422)
    child = registry.add_unit(db, new_code, name, kind, parent)
    audit.record(db, "unit_created", actor=me(), unit=child, target=child.code, parent=parent.code)
    db.commit()
    flash(_("Đã thêm đơn vị {name}.", name=name), "success")
    return redirect(url_for(".unit", code=child.code))


# --- counters --------------------------------------------------------------------------

def _counter_input(db: Session, form: CounterForm) -> tuple[dict, list[str]]:
    errors = []
    name = (form.name.data or "").strip()
    key = form.questionnaire.data or ""
    chosen = set(form.fields.data or [])
    if not name or len(name) > 200:
        errors.append(_("Tên quầy: 1–200 ký tự."))
    if key not in _questionnaire_keys(db):
        errors.append(_("Vui lòng chọn một phiếu khảo sát đã xuất bản."))
    fields = [f for f in _fields(db) if f.code in chosen]
    if len(fields) != len(chosen):
        errors.append(_("Có lĩnh vực không hợp lệ."))
    return {"name": name, "questionnaire_key": key, "fields": fields}, errors


@bp.post("/units/<code>/counters")
@require("manage_registry", unit=unit_by_code)
def counter_add(code: str):
    db = get_session()
    u = unit_by_code(db, code)
    form = CounterForm(prefix="counter")
    values, errors = _counter_input(db, form)
    counter_code = (form.code.data or "").strip()
    if not counter_code or len(counter_code) > 40:
        errors.insert(0, _("Mã quầy: 1–40 ký tự."))
    elif db.scalar(select(Counter).where(Counter.unit_id == u.id, Counter.code == counter_code)) is not None:
        errors.insert(0, _("Đơn vị đã có quầy mã “{code}”.", code=counter_code))
    if errors:
        return _unit_page(u, UnitForm(formdata=None, data={"name": u.name, "kind": u.kind}), form,
                          UnitForm(formdata=None), errors, 422)
    counter = registry.add_counter(db, u, counter_code, values["name"], values["questionnaire_key"], values["fields"])
    audit.record(db, "counter_created", actor=me(), unit=u, target=f"{u.code}/{counter.code}",
                 fields=[f.code for f in values["fields"]], questionnaire=values["questionnaire_key"])
    db.commit()
    flash(_("Đã thêm quầy {name}.", name=counter.name), "success")
    return redirect(url_for(".counter", counter_id=counter.id))


def _counter_page(counter: Counter, form: CounterForm, errors: list[str], status: int = 200):
    db = get_session()
    return render_template("staff/counter.html", counter=counter, form=form, errors=errors,
                           questionnaires=_questionnaire_keys(db), fields=_fields(db), field_name=field_name,
                           lang=get_locale(), url=codes.counter_url(counter.public_code), sizes=sorted(posters.SIZES)), status


@bp.get("/counters/<int:counter_id>")
@require("manage_registry", unit=unit_of_counter)
def counter(counter_id: int):
    c = get_session().get(Counter, counter_id)
    form = CounterForm(formdata=None, data={"code": c.code, "name": c.name, "questionnaire": c.questionnaire_key,
                                            "fields": [f.code for f in c.fields], "active": c.active})
    return _counter_page(c, form, [])


@bp.post("/counters/<int:counter_id>")
@require("manage_registry", unit=unit_of_counter)
def counter_edit(counter_id: int):
    db = get_session()
    c = db.get(Counter, counter_id)
    form = CounterForm()
    values, errors = _counter_input(db, form)
    if errors:
        return _counter_page(c, form, errors, 422)
    before = {"name": c.name, "questionnaire": c.questionnaire_key, "fields": [f.code for f in c.fields], "active": c.active}
    c.name, c.questionnaire_key, c.fields, c.active = (values["name"], values["questionnaire_key"], values["fields"],
                                                      bool(form.active.data))
    audit.record(db, "counter_updated", actor=me(), unit=c.unit, target=f"{c.unit.code}/{c.code}", before=before,
                 after={"name": c.name, "questionnaire": c.questionnaire_key,
                        "fields": [f.code for f in values["fields"]], "active": c.active})
    db.commit()
    flash(_("Đã lưu quầy."), "success")
    return redirect(url_for(".counter", counter_id=c.id))


def _size() -> str:
    size = request.args.get("size", "a6")
    if size not in posters.SIZES:
        abort_with(400, _("Khổ giấy không hợp lệ: chọn A4 hoặc A6."))
    return size


def _pdf(items: list[posters.Poster], size: str, filename: str) -> Response:
    buffer = io.BytesIO()
    posters.write_pdf(items, size, buffer)
    return Response(buffer.getvalue(), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/counters/<int:counter_id>/poster.pdf")
@require("manage_registry", unit=unit_of_counter)
def counter_poster(counter_id: int):
    db = get_session()
    c = db.get(Counter, counter_id)
    size = _size()
    audit.record(db, "export", actor=me(), unit=c.unit, target=f"{c.unit.code}/{c.code}", kind="poster", size=size)
    db.commit()
    return _pdf([posters.poster_for(c, codes.base_url())], size, f"poster-{c.unit.code}-{c.code}-{size}.pdf")


@bp.get("/counters/<int:counter_id>/qr.<fmt>")
@require("manage_registry", unit=unit_of_counter)
def counter_qr(counter_id: int, fmt: str):
    if fmt not in ("svg", "png"):
        abort_with(404, _("Định dạng ảnh không hợp lệ: chọn SVG hoặc PNG."))
    db = get_session()
    c = db.get(Counter, counter_id)
    url = codes.counter_url(c.public_code)
    audit.record(db, "export", actor=me(), unit=c.unit, target=f"{c.unit.code}/{c.code}", kind=f"qr-{fmt}")
    db.commit()
    name = f"qr-{c.unit.code}-{c.code}.{fmt}"
    if fmt == "svg":
        return Response(codes.qr_svg(url), mimetype="image/svg+xml", headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return Response(codes.qr_png(url), mimetype="image/png", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/units/<code>/posters.pdf")
@require("manage_registry", unit=unit_by_code)
def unit_posters(code: str):
    db = get_session()
    u = unit_by_code(db, code)
    size = _size()
    counters = posters.counters_under(db, u)
    if not counters:
        abort_with(404, _("Đơn vị này và các đơn vị cấp dưới chưa có quầy nào đang hoạt động."))
    if len(counters) > _poster_limit():
        abort_with(422, _("Đơn vị này có {n} quầy; mỗi lần tải trên web tối đa {limit} áp phích. "
                          "Vui lòng tải theo từng đơn vị cấp dưới, hoặc nhờ quản trị hệ thống in bằng lệnh “qr posters”.",
                          n=len(counters), limit=_poster_limit()))
    audit.record(db, "export", actor=me(), unit=u, target=u.code, kind="posters", size=size, counters=len(counters))
    db.commit()
    base = codes.base_url()
    return _pdf([posters.poster_for(c, base) for c in counters], size, f"posters-{u.code}-{size}.pdf")


# --- unit API credentials --------------------------------------------------------------

@bp.post("/units/<code>/credentials")
@require("manage_registry", unit=unit_by_code)
def unit_credentials(code: str):
    """Issue a new key (shown once) and revoke the unit's older ones: rotation."""
    db = get_session()
    u = unit_by_code(db, code)
    credential, api_key = credentials.issue(db, u, revoke_others=True)
    audit.record(db, "credential_rotated", actor=me(), unit=u, target=u.code, key_id=credential.key_id)
    db.commit()
    return _unit_page(u, UnitForm(formdata=None, data={"name": u.name, "kind": u.kind}), CounterForm(formdata=None),
                      UnitForm(formdata=None), [], secret=(credential, api_key))


# --- the questionnaire catalogue -------------------------------------------------------

def _catalogue_page(errors: list[str], status: int = 200, published: QuestionnaireVersion | None = None):
    db = get_session()
    counts = dict(db.execute(select(SurveyResponse.version_id, func.count()).group_by(SurveyResponse.version_id)).all())
    rows = db.scalars(select(QuestionnaireVersion).order_by(QuestionnaireVersion.key, QuestionnaireVersion.version)).all()
    items = [(row, catalog.definition(row), counts.get(row.id, 0)) for row in rows]
    return render_template("staff/questionnaires.html", items=items, errors=errors, action=ActionForm(),
                           lang=get_locale(), published=published), status


@bp.get("/questionnaires")
@require("manage_catalogue")
def questionnaires():
    return _catalogue_page([])


@bp.post("/questionnaires")
@require("manage_catalogue")
def questionnaire_publish():
    """Publish an uploaded definition after the same checks as `flask questionnaire check`."""
    db = get_session()
    upload = request.files.get("definition")
    if upload is None or not upload.filename:
        return _catalogue_page([_("Vui lòng chọn tệp định nghĩa phiếu (.yaml).")], 422)
    raw = upload.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        return _catalogue_page([_("Tệp quá lớn (tối đa {n} KB).", n=MAX_UPLOAD // 1024)], 413)
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
        questionnaire = load_dict(data, upload.filename)
        row, status = catalog.publish(db, questionnaire)
    except UnicodeDecodeError:
        return _catalogue_page([_("Tệp phải được lưu bằng mã UTF-8.")], 422)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _("dòng {n}", n=mark.line + 1) if mark else ""
        return _catalogue_page([_("Tệp không phải YAML hợp lệ ({where}): {problem}", where=where,
                                  problem=getattr(exc, "problem", "") or "")], 422)
    except (QuestionnaireError, catalog.PublishError) as exc:
        db.rollback()
        problem = exc.in_language(get_locale()) if isinstance(exc, QuestionnaireError) else str(exc)
        return _catalogue_page([_("Phiếu chưa hợp lệ: {problem}", problem=problem)], 422)
    if status == "unchanged":
        flash(_("Phiếu {key} phiên bản {v} đã được xuất bản trước đây với nội dung y hệt; không có gì thay đổi.",
                key=row.key, v=row.version), "info")
        return redirect(url_for(".questionnaires"))
    audit.record(db, "questionnaire_published", actor=me(), target=f"{row.key} v{row.version}", checksum=row.checksum)
    db.commit()
    flash(_("Đã xuất bản phiếu {key} phiên bản {v}.", key=row.key, v=row.version), "success")
    return redirect(url_for(".questionnaires"))


from . import poster_job_pages, unit_moves  # noqa: E402,F401  (their routes hang on this blueprint)
