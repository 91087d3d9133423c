"""`flask --app wsgi sample estimate ID`: the draw's weighted estimates as the staff pages show them
(survey.sampling.estimates), tab-separated, Vietnamese unless the locale asks for English.
Kept apart from commands/sampling.py so the `sample` group gains the command on import."""
from __future__ import annotations

import click

from .. import db
from ..i18n import _, format_number, format_pct
from ..models import SampleDraw
from ..sampling import estimates
from .messages import say
from .sampling import sample_cli


def _pct(value: float | None) -> str:
    return format_pct(value) if value is not None else "–"


@sample_cli.command("estimate")
@click.argument("draw_id", type=int)
def sample_estimate(draw_id: int) -> None:
    """Weighted % satisfied of a draw (Korn–Graubard 95%), design effect, effective n, response rates."""
    session = db.get_session()
    row = session.get(SampleDraw, draw_id)
    if row is None:
        raise click.ClickException(say(f"không có lần rút mẫu {draw_id}", f"no draw {draw_id}"))
    est = estimates.for_draw(session, row)
    click.echo(_("Khảo sát chọn mẫu (ước lượng có trọng số)") + f" — #{row.id}")
    if est.instrument:
        click.echo(_("Phiếu: {title}. Chỉ tiêu: {item}", title=est.instrument, item=est.item_label or "–"))
    click.echo("\t".join([_("Tầng"), "N_h", "n_h", "r_h", "RR1", "RR2", _("Trọng số thiết kế"), _("Trọng số cuối"),
                          _("Gộp phương sai")]))
    for s in est.strata:
        rr = _pct(s.rr1 * 100) if s.rr1 is not None else "–"
        click.echo("\t".join([s.stratum, format_number(s.N, 0), str(s.fielded), str(s.respondents), rr, rr,
                              format_number(s.w_design, 2), format_number(s.w_final, 2), s.collapsed_with or ""]))
    if not est.empty:
        click.echo("\t".join([_("Phạm vi"), _("Số trả lời"), _("Tỷ lệ hài lòng"),
                              _("Tỷ lệ hài lòng có trọng số, khoảng tin cậy Korn–Graubard 95%"),
                              _("Hiệu ứng thiết kế"), _("Cỡ mẫu hiệu dụng")]))
        for e in [est.overall, *est.fields]:
            ci = f"{_pct(e.ci_low)} – {_pct(e.ci_high)}" if e.ci_low is not None else _("chưa tính được")
            click.echo("\t".join([e.label, str(e.n), _pct(e.pct), ci, format_number(e.deff, 2), format_number(e.n_eff, 1)]))
    for note in est.notes:
        click.echo(note)
