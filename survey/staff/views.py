"""The staff blueprint's shell: log-in and log-out, password change, the start page, users and
roles, the audit trail. Views are thin: check input, call accounts/scope/audit, commit once."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..db import get_session
from ..errors import abort_with, render_error
from ..i18n import _
from ..models import AuditEvent, RoleGrant, StaffUser, Unit
from . import accounts, audit, auth, scope, throttle
from .forms import ActionForm, GrantForm, LoginForm, PasswordForm, UserForm
from .scope import LOGGED_IN, require

bp = Blueprint("staff", __name__, url_prefix="/staff")
AUDIT_PAGE = 100


@bp.after_request
def no_store(response: Response) -> Response:
    """Staff pages show one-time passwords and scoped data: never kept by a shared browser's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(IntegrityError)
def conflict(exc: IntegrityError):
    """Two people saving the same thing at once (a log-in, a code): the second gets a page, not a 500."""
    get_session().rollback()
    return render_error(409, _("Dữ liệu vừa được người khác thay đổi (ví dụ cùng một mã hoặc tên đăng nhập). "
                               "Vui lòng tải lại trang, kiểm tra và thử lại."))


def me() -> StaffUser:
    return current_user._get_current_object()


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host): an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("staff.start")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        db = get_session()
        try:
            user = auth.attempt(db, request, form.login.data or "", form.password.data or "")
        except auth.LoginRefused as refused:
            db.commit()  # the failure counters and the audit row
            errors, status = [refused.message], refused.status
        else:
            db.commit()
            auth.start_session(user)
            if user.must_change_password:
                return redirect(url_for("staff.password"))
            return redirect(_safe_next(request.args.get("next")))
    response = Response(render_template("staff/login.html", form=form, errors=errors), status)
    throttle.ensure_device_cookie(request, response)
    return response


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        db = get_session()
        audit.record(db, "logout", actor=me())
        db.commit()
    auth.end_session()
    flash(_("Bạn đã đăng xuất."), "info")
    return redirect(url_for("staff.login"))


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Change one's own password; the only page open while a first-log-in change is pending."""
    if not current_user.is_authenticated:
        return auth.login_manager.unauthorized()
    form = PasswordForm()
    errors: list[str] = []
    if request.method == "POST":
        db = get_session()
        user = me()
        errors = auth.change_own_password(db, request, user, form.current.data or "", form.new.data or "",
                                          form.confirm.data or "")
        db.commit()  # a change, or a failure's counters and audit row
        if not errors:
            auth.start_session(user)  # the version moved: keep this session, end the others
            flash(_("Đã đổi mật khẩu."), "success")
            return redirect(url_for("staff.start"))
    return render_template("staff/password.html", form=form, errors=errors, forced=current_user.must_change_password), \
        422 if errors else 200


@bp.get("/")
@require(LOGGED_IN)
def start():
    user = me()
    may = {permission: scope.may(user, permission) for permission in scope.PERMISSIONS}
    return render_template("staff/start.html", user=user, may=may, roles=scope.ROLES, role_help=scope.ROLE_HELP)


# --- users and roles (system administrators; unit administrators for their subtree) -------
# Which accounts and grants a unit administrator may touch is decided by scope.may_manage_account
# and scope.may_grant; these views only ask.

def _user_or_404(user_id: int) -> StaffUser:
    """The account, if the current user may manage it (404 when unknown, 403 audited when not his)."""
    db = get_session()
    user = db.get(StaffUser, user_id)
    if user is None:
        abort_with(404, _("Không có tài khoản này."))
    scope.require_account(db, me(), user)
    return user


def _unit_in_scope(code: str) -> tuple[Unit | None, str | None]:
    """The unit of a grant form, or the error to show. Units outside the user's scope are
    reported in the same words as unknown ones, so the form does not reveal the rest of the tree."""
    db = get_session()
    unit = db.scalar(select(Unit).where(Unit.code == code)) if code else None
    if code and (unit is None or not (scope.is_system_admin(me()) or scope.may(me(), "manage_registry", unit))):
        return None, _("Không có đơn vị mã “{code}” trong phạm vi bạn quản lý.", code=code)
    return unit, None


def _grant_refusal(role: str, unit: Unit | None) -> str | None:
    if scope.may_grant(me(), role, unit):
        return None
    if role == "system_admin":
        return _("Chỉ quản trị hệ thống mới cấp hoặc thu hồi được vai trò quản trị hệ thống.")
    if unit is None:
        return _("Vui lòng chọn đơn vị cho vai trò này.")
    return _("Không có đơn vị mã “{code}” trong phạm vi bạn quản lý.", code=unit.code)


@bp.get("/users")
@require("manage_users")
def users():
    rows = scope.manageable_accounts(get_session(), me())
    return render_template("staff/users.html", users=rows, roles=scope.ROLES, action=ActionForm())


@bp.route("/users/new", methods=["GET", "POST"])
@require("manage_users")
def user_new():
    """A new account with a one-time password, and (required of unit administrators, whose scope is
    the accounts holding roles in their subtree) its first role, in one transaction."""
    form = UserForm()
    errors: list[str] = []
    if request.method == "POST":
        db = get_session()
        role, code = form.role.data or "", (form.unit_code.data or "").strip()
        unit, problem = _unit_in_scope(code)
        if problem is None and (role or not scope.is_system_admin(me())):
            problem = _grant_refusal(role, unit) if role in scope.ROLES else _("Vui lòng chọn vai trò cho tài khoản mới.")
        try:
            if problem:
                raise accounts.AccountError(problem)
            user, one_time = accounts.create_user(db, form.login.data or "", form.full_name.data or "")
            new = scope.grant(db, user, role, unit, me()) if role else None
        except (accounts.AccountError, scope.ScopeError) as exc:
            db.rollback()
            errors.append(str(exc))
        else:
            audit.record(db, "user_created", actor=me(), target=user.login)
            if new is not None:
                audit.record(db, "role_granted", actor=me(), unit=unit, target=user.login, role=new.role)
            db.commit()
            return render_template("staff/one_time.html", user=user, password=one_time, created=True)
    return render_template("staff/user_new.html", form=form, errors=errors, roles=scope.grantable_roles(me()),
                           optional=scope.is_system_admin(me())), 422 if errors else 200


@bp.get("/users/<int:user_id>")
@require("manage_users")
def user(user_id: int):
    return _user_page(_user_or_404(user_id), GrantForm(), [])


def _user_page(user: StaffUser, grant_form: GrantForm, errors: list[str], status: int = 200):
    return render_template("staff/user.html", user=user, grant_form=grant_form, errors=errors, roles=scope.ROLES,
                           grantable=scope.grantable_roles(me()), action=ActionForm()), status


@bp.post("/users/<int:user_id>/disable")
@require("manage_users")
def user_disable(user_id: int):
    return _set_active(_user_or_404(user_id), False)


@bp.post("/users/<int:user_id>/enable")
@require("manage_users")
def user_enable(user_id: int):
    return _set_active(_user_or_404(user_id), True)


def _set_active(user: StaffUser, active: bool):
    db = get_session()
    if user.id == me().id and not active:
        abort_with(400, _("Bạn không thể tự khoá tài khoản của mình."))
    accounts.set_active(db, user, active)
    audit.record(db, "user_enabled" if active else "user_disabled", actor=me(), target=user.login)
    db.commit()
    flash(_("Đã mở khoá tài khoản {login}.", login=user.login) if active else
          _("Đã khoá tài khoản {login}. Các phiên đang mở của tài khoản này kết thúc ngay.", login=user.login), "success")
    return redirect(url_for("staff.user", user_id=user.id))


@bp.post("/users/<int:user_id>/reset")
@require("manage_users")
def user_reset(user_id: int):
    db = get_session()
    user = _user_or_404(user_id)
    one_time = accounts.reset_password(db, user)
    audit.record(db, "password_reset", actor=me(), target=user.login)
    db.commit()
    return render_template("staff/one_time.html", user=user, password=one_time, created=False)


@bp.post("/users/<int:user_id>/roles")
@require("manage_users")
def user_grant(user_id: int):
    db = get_session()
    user = _user_or_404(user_id)
    form = GrantForm()
    unit, problem = _unit_in_scope((form.unit_code.data or "").strip())
    if problem is None and form.role.data in scope.ROLES:
        problem = _grant_refusal(form.role.data, unit)
    if problem:
        return _user_page(user, form, [problem], 422)
    try:
        new = scope.grant(db, user, form.role.data or "", unit, me())
    except scope.ScopeError as exc:
        return _user_page(user, form, [str(exc)], 422)
    audit.record(db, "role_granted", actor=me(), unit=unit, target=user.login, role=new.role)
    db.commit()
    flash(_("Đã cấp vai trò."), "success")
    return redirect(url_for("staff.user", user_id=user.id))


@bp.post("/roles/<int:grant_id>/revoke")
@require("manage_users")
def role_revoke(grant_id: int):
    db = get_session()
    grant = db.get(RoleGrant, grant_id)
    if grant is None:  # revoked meanwhile (a second click, another administrator): nothing left to do
        flash(_("Vai trò này đã được thu hồi trước đó."), "info")
        return redirect(url_for("staff.users"))
    user = grant.user
    scope.require_account(db, me(), user)
    if not scope.may_grant(me(), grant.role, grant.unit):
        abort_with(403, _("Chỉ quản trị hệ thống mới cấp hoặc thu hồi được vai trò quản trị hệ thống."))
    if user.id == me().id and grant.role == "system_admin":
        abort_with(400, _("Bạn không thể tự thu hồi quyền quản trị hệ thống của mình."))
    audit.record(db, "role_revoked", actor=me(), unit=grant.unit, target=user.login, role=grant.role)
    scope.revoke(db, grant)
    db.commit()
    flash(_("Đã thu hồi vai trò."), "success")
    return redirect(url_for("staff.user", user_id=user.id))


# --- audit trail (system administrators; read-only) --------------------------------------

@bp.get("/audit")
@require("view_audit")
def audit_log():
    db = get_session()
    action = request.args.get("action") or None
    if action and action not in audit.ACTIONS:
        abort_with(400, _("Loại sự kiện không hợp lệ."))
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        abort_with(400, _("Số trang không hợp lệ."))
    rows = db.scalars(audit.events(action).limit(AUDIT_PAGE + 1).offset((page - 1) * AUDIT_PAGE)).all()
    counted = select(func.count()).select_from(AuditEvent)
    total = db.scalar(counted.where(AuditEvent.action == action) if action else counted) or 0
    return render_template("staff/audit.html", rows=rows[:AUDIT_PAGE], more=len(rows) > AUDIT_PAGE, page=page,
                           action=action, actions=audit.ACTIONS, total=total, local_time=audit.local_time)


@bp.get("/audit.csv")
@require("view_audit")
def audit_csv():
    db = get_session()
    action = request.args.get("action") or None
    if action and action not in audit.ACTIONS:
        abort_with(400, _("Loại sự kiện không hợp lệ."))
    body = audit.to_csv(db.scalars(audit.events(action)))
    audit.record(db, "export", actor=me(), target="audit.csv", action_filter=action)
    db.commit()
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=audit.csv"})


@bp.app_context_processor
def staff_helpers() -> dict:
    def staff_may(permission: str, unit: Unit | None = None) -> bool:
        return bool(current_user.is_authenticated) and scope.may(current_user, permission, unit)

    return {"staff_may": staff_may}
