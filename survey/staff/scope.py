"""Roles and scope: THE one place that decides "may this user do X on unit U".

A role is granted on a unit and covers that unit and every unit below it (a unit's `path`
starts with its ancestor's). A system administrator's grant has no unit and covers the whole
tree. Views declare what they need with `@require(permission, unit=resolver)`; queries are
limited with `visible_units()`. Nothing else in the app tests roles.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session, selectinload

from ..db import get_session
from ..i18n import N_, _
from ..models import RoleGrant, StaffUser, Unit
from . import audit
from .auth import login_manager

ROLES = {
    "system_admin": N_("Quản trị hệ thống"),
    "unit_admin": N_("Quản trị đơn vị"),
    "coordinator": N_("Điều phối khảo sát"),
    "reader": N_("Xem báo cáo"),
}
ROLE_HELP = {
    "system_admin": N_("Tài khoản, vai trò, danh mục phiếu, nhật ký, toàn bộ cây đơn vị."),
    "unit_admin": N_("Đơn vị, quầy, mã QR và khoá API của đơn vị mình và cấp dưới."),
    "coordinator": N_("Khung mẫu, chọn mẫu, nhập phiếu giấy và dữ liệu cá nhân của đơn vị mình và cấp dưới."),
    "reader": N_("Chỉ xem báo cáo; không xem dữ liệu cá nhân."),
}

# permission → the roles that hold it. Personal data is the coordinator's alone (least access,
# decree 13/2023/NĐ-CP): a system administrator who needs it grants himself the role, audited.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view_reports": frozenset({"system_admin", "unit_admin", "coordinator", "reader"}),
    "manage_registry": frozenset({"system_admin", "unit_admin"}),
    "manage_samples": frozenset({"coordinator"}),
    "personal_data": frozenset({"coordinator"}),
    # accounts: a system administrator manages all; a unit administrator those whose every role lies in
    # his subtree, and grants only roles below system administrator on units of his subtree (may_manage_account)
    "manage_users": frozenset({"system_admin", "unit_admin"}),
    "manage_catalogue": frozenset({"system_admin"}),
    "view_audit": frozenset({"system_admin"}),
}
LOGGED_IN = "logged_in"  # any enabled account whose password is not pending a change


class ScopeError(ValueError):
    """A grant that cannot be made; the message is already translated."""


def covers(grant: RoleGrant, unit: Unit) -> bool:
    """A grant on a unit covers the unit and its subtree; a grant without a unit covers all."""
    return grant.unit is None or unit.path.startswith(grant.unit.path)


def may(user: StaffUser, permission: str, unit: Unit | None = None) -> bool:
    """May `user` do `permission` on `unit` (or, without a unit, on at least one unit)?"""
    if not user.active:
        return False
    if permission == LOGGED_IN:
        return True
    roles = PERMISSIONS[permission]
    grants = [g for g in user.roles if g.role in roles]
    if unit is None:
        return bool(grants)
    return any(covers(g, unit) for g in grants)


def visible_units(user: StaffUser, permission: str = "view_reports") -> Select[tuple[Unit]]:
    """The units `user` may act on with `permission`, as a query to refine and order."""
    grants = [g for g in user.roles if g.role in PERMISSIONS[permission]] if user.active else []
    stmt = select(Unit)
    if any(g.unit is None for g in grants):
        return stmt
    if not grants:
        return stmt.where(false())
    return stmt.where(or_(*(Unit.path.startswith(g.unit.path) for g in grants)))


def is_system_admin(user: StaffUser) -> bool:
    return user.active and any(g.role == "system_admin" for g in user.roles)


def _admin_grants(user: StaffUser) -> list[RoleGrant]:
    return [g for g in user.roles if g.role == "unit_admin" and g.unit is not None] if user.active else []


def may_manage_account(actor: StaffUser, target: StaffUser) -> bool:
    """May `actor` see, reset, disable or grant roles to `target`? A system administrator: any
    account. A unit administrator: an account that has roles, every one of them on a unit of his
    subtree (never a system administrator, never someone who also works above or beside him)."""
    if is_system_admin(actor):
        return True
    admin = _admin_grants(actor)
    return bool(admin) and bool(target.roles) and all(
        g.unit is not None and any(covers(a, g.unit) for a in admin) for g in target.roles)


def may_grant(actor: StaffUser, role: str, unit: Unit | None) -> bool:
    """May `actor` grant (or revoke) `role` on `unit`? Unit administrators: not system
    administrator, and only on a unit of their subtree."""
    if is_system_admin(actor):
        return True
    return role in ROLES and role != "system_admin" and unit is not None and any(covers(a, unit) for a in _admin_grants(actor))


def grantable_roles(actor: StaffUser) -> dict[str, str]:
    return {k: v for k, v in ROLES.items() if k != "system_admin" or is_system_admin(actor)}


def manageable_accounts(session: Session, actor: StaffUser) -> list[StaffUser]:
    """The accounts `actor` manages, by log-in."""
    rows = session.scalars(select(StaffUser).options(selectinload(StaffUser.roles).selectinload(RoleGrant.unit))
                           .order_by(StaffUser.login)).all()
    return [u for u in rows if may_manage_account(actor, u)]


def require_account(session: Session, actor: StaffUser, target: StaffUser) -> None:
    """403 (audited) unless `actor` may manage `target`'s account."""
    if not may_manage_account(actor, target):
        audit.record(session, "access_denied", actor=actor, target=request.path, account=target.login)
        session.commit()
        abort(403)


def grant(session: Session, user: StaffUser, role: str, unit: Unit | None, by: StaffUser | None) -> RoleGrant:
    if role not in ROLES:
        raise ScopeError(_("Vai trò không hợp lệ."))
    if role == "system_admin" and unit is not None:
        raise ScopeError(_("Vai trò quản trị hệ thống áp dụng cho toàn bộ hệ thống, không gắn với một đơn vị."))
    if role != "system_admin" and unit is None:
        raise ScopeError(_("Vui lòng chọn đơn vị cho vai trò này."))
    if any(g.role == role and g.unit_id == (unit.id if unit else None) for g in user.roles):
        raise ScopeError(_("Tài khoản đã có vai trò này trên đơn vị này."))
    new = RoleGrant(role=role, unit=unit, granted_by_id=by.id if by else None)
    user.roles.append(new)
    session.flush()
    return new


def revoke(session: Session, grant: RoleGrant) -> None:
    grant.user.roles.remove(grant)
    session.flush()


UnitResolver = Callable[..., Unit | None]


def require(permission: str, unit: UnitResolver | None = None):
    """Guard a staff view: log-in (302 to the log-in page), a pending password change (302 to
    it), then the permission on the unit `unit(session, **view_args)` resolves (404 when it
    resolves to nothing; 403, audited, when the user's scope does not cover it)."""
    if permission != LOGGED_IN and permission not in PERMISSIONS:
        raise ValueError(f"unknown permission '{permission}'")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(**kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.must_change_password:
                return redirect(url_for("staff.password"))
            session = get_session()
            target = unit(session, **kwargs) if unit is not None else None
            if unit is not None and target is None:
                abort(404)
            if not may(current_user, permission, target):
                audit.record(session, "access_denied", actor=current_user._get_current_object(), unit=target,
                             target=request.path, permission=permission)
                session.commit()
                abort(403)
            return view(**kwargs)

        guarded.staff_permission = permission  # read by the route-walk test
        return guarded

    return decorate

