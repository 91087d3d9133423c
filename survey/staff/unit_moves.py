"""Moving a unit under another parent (a commune merged into another district, a centre moved
to a new department). Both ends must be inside the user's scope: a unit administrator moves
units only within his subtree, a system administrator anywhere; a move into the unit's own
subtree is refused (it would make a cycle). The tree is rewritten by registry.units.move_unit."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from sqlalchemy import select

from ..db import get_session
from ..i18n import _
from ..models import Unit
from ..registry import units as registry
from . import audit, scope
from .forms import CounterForm, UnitForm
from .registry_pages import _unit_page, bp, me, unit_by_code
from .scope import require


def parent_choices(unit: Unit) -> list[Unit]:
    """Where the user may hang `unit`: units he manages, outside its own subtree."""
    rows = get_session().scalars(scope.visible_units(me(), "manage_registry").where(~Unit.path.startswith(unit.path))
                                 .order_by(Unit.path)).all()
    return [u for u in rows if u.id != unit.parent_id]


@bp.post("/units/<code>/move")
@require("manage_registry", unit=unit_by_code)
def unit_move(code: str):
    db = get_session()
    unit = unit_by_code(db, code)
    target_code = (request.form.get("parent_code") or "").strip()
    target = db.scalar(select(Unit).where(Unit.code == target_code)) if target_code else None
    error = None
    if not target_code:
        error = _("Vui lòng chọn đơn vị cấp trên mới.")
    elif target is None or not scope.may(me(), "manage_registry", target):
        # the same words whether the code exists elsewhere or not: the tree outside one's scope stays unseen
        error = _("Không có đơn vị mã “{code}” trong phạm vi bạn quản lý.", code=target_code)
    elif unit.parent is not None and not scope.may(me(), "manage_registry", unit.parent):
        error = _("Đơn vị {code} là đơn vị gốc trong phạm vi của bạn: chỉ quản trị hệ thống hoặc người quản lý "
                  "đơn vị cấp trên mới chuyển được.", code=unit.code)
    if error is None:
        try:
            previous = registry.move_unit(db, unit, target)
        except registry.MoveError as exc:
            error = str(exc)
    if error is not None:
        db.rollback()
        unit = unit_by_code(db, code)
        return _unit_page(unit, UnitForm(formdata=None, data={"name": unit.name, "kind": unit.kind}),
                          CounterForm(formdata=None), UnitForm(formdata=None), [error], 422)
    audit.record(db, "unit_moved", actor=me(), unit=unit, target=unit.code, before=previous, after=target.code)
    db.commit()
    flash(_("Đã chuyển {name} sang trực thuộc {parent}.", name=unit.name, parent=target.name), "success")
    return redirect(url_for(".unit", code=unit.code))
