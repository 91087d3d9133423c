"""`report export --format xlsx|pdf`: the dashboard's workbook or PDF report for the same filters
as the reports page (period kind and value or a day range, unit, field, questionnaire, channel,
source, procedure), written with the bytes the page's download gives (survey.reporting.files). Audited as
`export` by `cli`, like `responses export`."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from .. import db
from ..models import Unit
from ..reporting import dashboard, files
from ..staff import audit
from .messages import say, speaking


def export_file(fmt: str, *, key: str | None, since: date | None, until: date | None, unit: str | None,
                field: str | None, source: str | None, channel: str | None, period: str, period_value: str,
                number: str | None, out: Path | None, procedure: str | None = None) -> None:
    if not unit:
        raise click.UsageError(say("--format xlsx và pdf cần --unit: mã đơn vị của báo cáo (gồm các đơn vị cấp dưới).",
                                   "--format xlsx and pdf need --unit: the code of the report's unit (with its subtree)."))
    if (since is None) != (until is None):
        raise click.UsageError(say("cần cả --from và --to cho một khoảng ngày, hoặc bỏ cả hai và dùng --period.",
                                   "give both --from and --to for a day range, or neither and use --period."))
    session = db.get_session()
    with speaking():
        try:
            if since is not None:
                kind, extra = "custom", {"since": f"{since:%d/%m/%Y}", "until": f"{until:%d/%m/%Y}"}
            else:
                kind, extra = period, {"value": period_value or ""}
            f = dashboard.Filters(dashboard.parse_period(kind, **extra), unit, field=field or None,
                                  questionnaire=key or None, channel=channel or None, source=source or None,
                                  procedure=procedure or None)
            board = dashboard.build_cached(session, f)
        except dashboard.DashboardError as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from None
        cut = files.cutoff(session, board)
        body = files.xlsx(board, cut) if fmt == "xlsx" else files.pdf(session, board, cut, files.today(), number)
    period = {"period": f.period.kind, "since": f"{f.period.since:%d/%m/%Y}", "until": f"{f.period.until:%d/%m/%Y}"}
    audit.record(session, "export", actor_login="cli", unit=session.get(Unit, board.unit.id),
                 target=f"report export {out.name if out else '-'}", format=fmt, **period,
                 **{k: v for k, v in (("field", field), ("questionnaire", key), ("channel", channel), ("source", source),
                                                   ("procedure", procedure)) if v})
    session.commit()  # the audit row, and the maintained counts if the report brought them up to date
    if out is None:
        click.echo(body, nl=False)
        return
    out.write_bytes(body)
    click.echo(say(f"Đã ghi {out} ({len(body):,} byte) cho {board.unit.name}, {f.period.label}.",
                   f"{out} written ({len(body):,} bytes) for {board.unit.name}, {f.period.label}."), err=True)
