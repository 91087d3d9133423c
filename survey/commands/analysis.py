"""Command groups for analysis: `targets` (plan targets), `responses` (bulk import) and
`report` (export, refresh). Each command commits once at its end; every expected failure is
one line naming the file, row, column or option and the fix, never a trace."""
from __future__ import annotations

import io
import json
import sys
import time
from datetime import date
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from analysis.report import format_pct_vi, to_csv
from analysis.targets import TargetError

from .. import catalog, db
from ..i18n import format_number
from ..models import Unit
from ..registry import units
from ..reporting import (
    counts,
    import_template,
    microdata,
    response_imports,
    standard,
    targets,
)
from ..reporting.selection import LEVELS, SOURCES, ReportError, Selection
from ..sheets import safe_frame, write_rows
from ..staff import audit
from .messages import say, speaking

targets_cli = AppGroup("targets", help="Plan targets (chỉ tiêu): load the YAML files into the database, list them.")
responses_cli = AppGroup("responses", help="Responses in bulk: import paper forms or an earlier system's export.")
report_cli = AppGroup("report", help="Satisfaction reports: export the figures, refresh the maintained counts.")

INDICATOR_VI = {
    "sipas_service": "Sự phục vụ của CQHCNN",
    "tthc": "Giải quyết TTHC",
    "field_satisfaction": "TTHC theo lĩnh vực",
    "digital": "Dịch vụ công trực tuyến",
    "health": "Dịch vụ y tế công",
    "education": "Dịch vụ giáo dục công",
}
PERIOD_CHOICES = {"month": "M", "quarter": "Q", "year": "Y"}
CONCURRENT = ("another import stored some of these rows at the same moment: nothing from this run was kept; "
              "run the command again (rows already stored are skipped)")


class _Day(click.ParamType):
    name = "date"

    def convert(self, value, param, ctx) -> date:
        if isinstance(value, date):
            return value
        try:
            return response_imports.parse_day(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


# ---------------------------------------------------------------- targets


@targets_cli.command("load")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def targets_load(files: tuple[Path, ...]) -> None:
    """Validate target FILES (default: the bundled targets/*.yaml) and store them in the database.

    A changed target is updated, an unchanged one left alone, one no longer in its file removed.
    One invalid file stores nothing.
    """
    session = db.get_session()
    try:
        changes = targets.load(session, list(files) or targets.bundled_files())
    except TargetError as exc:
        session.rollback()
        raise click.ClickException(f"{exc}. " + say("Không nạp gì; sửa tệp rồi chạy lại lệnh.",
                                                    "Nothing was loaded; fix the file and run the command again.")) from None
    session.commit()
    marks = {"new": "+", "updated": "~", "removed": "-"}
    status_vi = {"new": "mới", "updated": "cập nhật", "removed": "xoá"}
    for change in changes:
        if change.status != "unchanged":
            click.echo(f"{marks[change.status]} {change.target_id} ({change.file}): "
                       f"{say(status_vi[change.status], change.status)}")
    tally = {s: sum(c.status == s for c in changes) for s in ("new", "updated", "removed", "unchanged")}
    click.echo(say(f"Chỉ tiêu: {tally['new']} mới, {tally['updated']} cập nhật, {tally['removed']} xoá, "
                   f"{tally['unchanged']} không đổi.",
                   f"Targets: {tally['new']} new, {tally['updated']} updated, {tally['removed']} removed, "
                   f"{tally['unchanged']} unchanged."))


def _condition(comparator: str, threshold: float | None) -> str:
    if comparator == "higher_than_previous":
        return "cao hơn kỳ trước"
    return f"{'≥' if comparator == '>=' else '>'} {format_pct_vi(threshold)}"


@targets_cli.command("list")
@click.option("--sources", is_flag=True, help="Also print the document sentence each target comes from.")
def targets_list(sources: bool) -> None:
    """The targets reports judge against (threshold as 90,0%)."""
    session = db.get_session()
    rows = targets.stored(session)
    if not rows:
        click.echo(say("Chưa có chỉ tiêu nào trong cơ sở dữ liệu: báo cáo đang dùng các tệp targets/*.yaml. "
                       "Nạp chúng: flask --app wsgi targets load",
                       "No targets stored yet; reports use the bundled files. Load them: flask --app wsgi targets load"))
        return
    header = ("Mã chỉ tiêu", "Chỉ số", "Phạm vi", "Lĩnh vực", "Mức", "Kỳ", "Tệp")
    table = [(t.id, INDICATOR_VI.get(t.indicator, t.indicator), t.scope if t.scope != "all" else "toàn bộ",
              t.field if t.field != "all" else "tất cả", _condition(t.comparator, t.threshold), t.period, row.source_file)
             for t, row in rows]
    widths = [max(len(str(r[i])) for r in (header, *table)) for i in range(len(header))]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for (target, _row), line in zip(rows, table):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip())
        if sources:
            click.echo(f"    {target.source}")
    click.echo(say(f"{len(rows)} chỉ tiêu.", f"{len(rows)} target(s)."))


# ---------------------------------------------------------------- responses


def _version(session, key: str, number: int | None):
    row = catalog.get_version(session, key, number) if number else catalog.latest(session, key)
    if row is None:
        published = ", ".join(f"{r.key} v{r.version}" for r in catalog.list_latest(session)) or say("chưa có", "none")
        what = (say(f"'{key}' phiên bản {number}", f"'{key}' version {number}") if number else f"'{key}'")
        raise click.ClickException(say(f"phiếu {what} chưa được công bố (các bản mới nhất đã công bố: {published}); "
                                       "xem flask --app wsgi questionnaire list",
                                       f"questionnaire {what} is not published (latest published: {published}); "
                                       "see flask --app wsgi questionnaire list"))
    return row


@responses_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--questionnaire", "key", required=True, help="Key of the questionnaire the forms answer, e.g. sipas-2017.")
@click.option("--version", "number", type=int, help="Published version the forms answer (default: the latest).")
@click.option("--date", "default_day", type=_Day(), metavar="DD/MM/YYYY",
              help="Date for rows whose submitted_at is blank (without it such rows are refused: the date decides "
                   "the period and the target).")
@click.option("--all-or-nothing", is_flag=True, help="Import nothing if any row is bad.")
@click.option("--dry-run", is_flag=True, help="Check every row and report, but store nothing.")
def responses_import(file: Path, key: str, number: int | None, default_day: date | None, all_or_nothing: bool,
                     dry_run: bool) -> None:
    """Import FILE (CSV in UTF-8 or XLSX): one row per respondent, one column per item key.

    Tag columns: form_id, submitted_at (dd/mm/yyyy or yyyy-mm-dd; required unless --date),
    unit, counter, field (code such as dat-dai or Vietnamese name such as Đất đai), procedure,
    channel (default paper), source (feedback or sample). Good rows are stored and every bad
    row is listed with its line and column; the exit status is 1 if any row was bad.
    Importing the same rows again stores nothing twice.
    """
    session = db.get_session()
    row = _version(session, key, number)
    questionnaire = catalog.definition(row)
    if default_day is not None and default_day > date.today():
        raise click.ClickException(say(f"--date {default_day:%d/%m/%Y} là ngày trong tương lai",
                                       f"--date {default_day:%d/%m/%Y} is in the future"))
    units.load_reference_data(session)  # fields and procedures are national lists: present before the first import
    try:
        with speaking():  # the file's refusals and row reasons (survey.sheets) in the shell's language
            result = response_imports.import_file(session, file, row, questionnaire, all_or_nothing=all_or_nothing,
                                                  default_day=default_day)
    except response_imports.ImportFileError as exc:
        session.rollback()
        raise click.ClickException(f"{exc}. " + say("Không nhập gì.", "Nothing was imported.")) from None
    except IntegrityError:
        session.rollback()
        raise click.ClickException(CONCURRENT) from None
    for problem in result.problems:
        click.secho(str(problem), fg="red", err=True)
    for line, response_id in result.duplicates:
        click.echo(say(f"dòng {line}: đã nhập trước đây (phiếu {response_id}); bỏ qua",
                       f"line {line}: already imported (response {response_id}); skipped"), err=True)
    bad = len(result.bad_lines)
    if all_or_nothing and bad:
        session.rollback()
        raise click.ClickException(say(
            f"{bad} dòng lỗi trong {file.name}: không nhập gì (--all-or-nothing). Sửa các dòng nêu trên rồi nhập lại tệp.",
            f"{bad} bad row(s) in {file.name}: nothing imported (--all-or-nothing). "
            "Fix the rows listed above and import the file again."))
    if dry_run:
        session.rollback()
        click.echo(say(f"Chạy thử, không lưu gì: {result.imported} dòng sẽ được nhập, {len(result.duplicates)} đã nhập "
                       f"trước đây, {bad} dòng lỗi.",
                       f"Dry run, nothing stored: {result.imported} row(s) would be imported, "
                       f"{len(result.duplicates)} already imported, {bad} bad."))
    else:
        _refresh(session, say("Đang cập nhật số liệu báo cáo", "Refreshing report counts"))
        try:
            session.commit()
        except IntegrityError:  # the same rows committed by a concurrent import
            session.rollback()
            raise click.ClickException(CONCURRENT) from None
        notes = []
        if result.duplicates:
            notes.append(say(f"{len(result.duplicates)} đã nhập trước đây, bỏ qua", f"{len(result.duplicates)} already imported, skipped"))
        if result.flagged:
            notes.append(say(f"{result.flagged} bị đánh dấu khi kiểm tra chất lượng (vẫn lưu, mặc định không tính vào báo cáo)",
                             f"{result.flagged} flagged by quality checks (kept, excluded from reports by default)"))
        if result.dated_by_option:
            notes.append(say(f"{result.dated_by_option} dòng không có submitted_at, lấy ngày {default_day:%d/%m/%Y} (--date)",
                             f"{result.dated_by_option} without submitted_at, dated {default_day:%d/%m/%Y} (--date)"))
        if result.blank_lines:
            notes.append(say(f"bỏ qua {result.blank_lines} dòng trống", f"{result.blank_lines} blank line(s) ignored"))
        detail = f" ({'; '.join(notes)})" if notes else ""
        click.echo(say(f"Đã nhập {result.imported} phiếu từ {file.name} vào {row.key} v{row.version}{detail}.",
                       f"Imported {result.imported} response(s) from {file.name} into {row.key} v{row.version}{detail}."))
    if bad:
        click.echo(say(f"{bad} dòng lỗi chưa được nhập: sửa trong tệp rồi nhập lại (các dòng đã nhập sẽ được bỏ qua).",
                       f"{bad} bad row(s) not imported: fix them in the file and import it again "
                       "(rows already imported are skipped)."), err=True)
        click.get_current_context().exit(1)


@responses_cli.command("template")
@click.option("--questionnaire", "key", required=True, help="Key of the questionnaire, e.g. sipas-2017.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write; .csv gives a CSV (default: mau-nhap-KEY-vN.xlsx in the current folder).")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv"]), default=None,
              help="xlsx (default: codebook sheet and drop-down lists of valid codes) or csv (header only; "
                   "standard output unless --out).")
def responses_template(key: str, out: Path | None, fmt: str | None) -> None:
    """The file to key paper forms into, for `responses import`: an XLSX whose coded columns only
    accept valid codes, with a codebook sheet saying what each code means; or a CSV header."""
    session = db.get_session()
    row = _version(session, key, None)
    questionnaire = catalog.definition(row)
    fmt = fmt or ("csv" if out is not None and out.suffix.lower() == ".csv" else "xlsx")
    if fmt == "csv":
        text = io.StringIO(newline="")
        write_rows(text, response_imports.template_header(questionnaire), [])
        _write(text.getvalue(), out, bom=True)
        if out is not None:
            click.echo(say(f"Đã ghi mẫu CSV vào {out}.", f"CSV template written to {out}."), err=True)
        return
    out = out or Path(f"mau-nhap-{row.key}-v{row.version}.xlsx")
    units.load_reference_data(session)
    fields = [(f.code, f.name_vi) for f in units.FieldLookup(session).fields]
    session.commit()
    path = import_template.write_template(questionnaire, out, fields)
    click.echo(say(f"Đã ghi mẫu nhập liệu {row.key} v{row.version} vào {path.resolve()} (trang '{import_template.DATA_SHEET}' "
                   f"để nhập, trang '{import_template.CODEBOOK_SHEET}' giải thích các mã).",
                   f"Keying template for {row.key} v{row.version} written to {path.resolve()} (sheet "
                   f"'{import_template.DATA_SHEET}' to key into, sheet '{import_template.CODEBOOK_SHEET}' explains the codes)."))


@responses_cli.command("export")
@click.option("--questionnaire", "key", required=True, help="Questionnaire key, e.g. sipas-2017 (every published version).")
@click.option("--format", "fmt", type=click.Choice(microdata.FORMATS), default="csv", show_default=True,
              help="csv (UTF-8 with BOM; the codebook beside it as NAME-bang-ma.csv), xlsx (codebook sheet) or "
                   "sav (SPSS, variable and value labels).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--from", "since", type=_Day(), help="First day (dd/mm/yyyy or yyyy-mm-dd), Vietnam time.")
@click.option("--to", "until", type=_Day(), help="Last day, included.")
@click.option("--unit", help="Unit code: the unit and every unit below it.")
@click.option("--field", help="Field code, e.g. dat-dai.")
@click.option("--source", type=click.Choice(SOURCES), help="Counter feedback or the sampled survey.")
@click.option("--include-flagged", is_flag=True, help="Include responses with quality flags (left out by default, as in reports).")
def responses_export(key: str, fmt: str, out: Path, since: date | None, until: date | None, unit: str | None,
                     field: str | None, source: str | None, include_flagged: bool) -> None:
    """Anonymised microdata: one row per respondent, one column per item (one 0/1 column per option
    of a multiple-choice item), with a codebook. No database ids, exact times or device hashes;
    phone numbers, ID numbers and e-mail addresses in free text are masked. Audited."""
    session = db.get_session()
    sel = Selection(questionnaire=key, since=since, until=until, unit=unit, field=field, source=source,
                    include_flagged=include_flagged)
    try:
        prepared = microdata.prepare(session, sel)
        microdata.check(prepared, fmt)
    except (ReportError, microdata.MicrodataError) as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    scope_unit = session.scalar(select(Unit).where(Unit.code == unit)) if unit else None
    audit.record(session, "export", actor_login="cli", unit=scope_unit, target=f"responses export {out.name}",
                 questionnaire=key, format=fmt, rows=prepared.rows, include_flagged=include_flagged,
                 **{k: v for k, v in (("since", since), ("until", until), ("unit_code", unit), ("field", field),
                                      ("source", source)) if v})
    session.commit()
    start = time.perf_counter()
    try:
        if fmt == "csv":
            microdata.write_csv(session, prepared, out)
            microdata.codebook_path(out).write_bytes(microdata.codebook_csv(prepared))
        elif fmt == "xlsx":
            microdata.write_xlsx(session, prepared, out)
        else:
            microdata.write_sav(session, prepared, out)
    except OSError as exc:
        raise click.ClickException(say(f"không ghi được {out}: {exc.strerror or exc}",
                                       f"cannot write {out}: {exc.strerror or exc}")) from None
    finally:
        session.rollback()
    seconds = time.perf_counter() - start
    extra = say(f" và bảng mã vào {microdata.codebook_path(out)}", f" and the codebook to {microdata.codebook_path(out)}") \
        if fmt == "csv" else ""
    click.echo(say(f"Đã ghi {format_number(prepared.rows, 0)} phiếu của {key} vào {out}{extra} "
                   f"({format_number(seconds, 1)} giây).",
                   f"{prepared.rows:,} response(s) of {key} written to {out}{extra} ({seconds:.1f} s)."))
    if not prepared.rows:
        click.echo(say("Không có phiếu nào phù hợp: tệp chỉ có dòng tiêu đề.",
                       "No response matches: the file holds the header only."), err=True)


# ---------------------------------------------------------------- report


def _refresh(session, label: str, full: bool = False) -> int:
    months = counts.pending_months(session, full)
    if not months:
        return counts.refresh(session, full=full)
    with click.progressbar(length=len(months), label=label, file=sys.stderr) as bar:
        return counts.refresh(session, full=full, progress=bar.update)


def _write(text: str, out: Path | None, bom: bool = False) -> None:
    data = (("\ufeff" if bom else "") + text).encode("utf-8")
    if out is None:
        click.echo(data, nl=False)  # bytes go to the binary stream: UTF-8 whatever the terminal's locale
    else:
        out.write_bytes(data)


@report_cli.command("export")
@click.option("--questionnaire", "key", help="Questionnaire key, e.g. sipas-2017 (required for json and csv).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "xlsx", "pdf"]), default="json", show_default=True,
              help="json/csv: the figures; xlsx/pdf: the reports page's workbook or PDF report, same bytes.")
@click.option("--from", "since", type=_Day(), help="First day (dd/mm/yyyy or yyyy-mm-dd), Vietnam time.")
@click.option("--to", "until", type=_Day(), help="Last day, included.")
@click.option("--unit", help="Unit code: the unit and every unit below it.")
@click.option("--field", help="Field code, e.g. dat-dai.")
@click.option("--source", type=click.Choice(SOURCES), help="Counter feedback or the sampled survey (never pooled).")
@click.option("--by", default="unit,field,period", show_default=True,
              help="Comma list: unit, field, period, source, version (maintained counts) or channel, counter, "
                   "procedure, language, an item key such as gender (grouped from the raw answers).")
@click.option("--period", type=click.Choice(list(PERIOD_CHOICES)), default="month", show_default=True)
@click.option("--period-value", default="", help="xlsx/pdf: the period as the page writes it (2025-03, 2025-Q1, 2025); "
              "default the current one. --from/--to make a day range instead.")
@click.option("--channel", help="xlsx/pdf: one channel (counter, dossier, web, paper, phone, post).")
@click.option("--procedure", help="xlsx/pdf: one procedure code of the registry (the exact, slower path).")
@click.option("--number", help="xlsx/pdf: the document number printed in the PDF header, e.g. 'Số: 12/BC-UBND'.")
@click.option("--include-flagged", is_flag=True, help="Count responses with quality flags too (excluded by default).")
@click.option("--level", type=click.Choice(list(LEVELS)), default="all", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: standard output).")
def report_export(key: str, fmt: str, since: date | None, until: date | None, unit: str | None, field: str | None,
                  source: str | None, by: str, period: str, include_flagged: bool, level: str, out: Path | None,
                  period_value: str = "", channel: str | None = None, number: str | None = None,
                  procedure: str | None = None) -> None:
    """Write the report's figures (with Wilson intervals), verdicts against the targets and the
    flagged responses left out, as JSON or as CSV (UTF-8 with BOM for Excel: the figures in --out,
    the verdicts beside it in NAME-chi-tieu.csv). Verdicts need 'period' in --by: a target
    applies to its own period only. --format xlsx|pdf writes the reports page's workbook or PDF
    report for --unit and the period (the page's filters), byte for byte what the page gives."""
    if fmt in ("xlsx", "pdf"):
        from .report_files import export_file

        export_file(fmt, key=key, since=since, until=until, unit=unit, field=field, source=source, channel=channel,
                    procedure=procedure, period=period, period_value=period_value, number=number, out=out)
        return
    if not key:
        raise click.UsageError(say("--format json và csv cần --questionnaire (mã phiếu, ví dụ sipas-2017).",
                                   "--format json and csv need --questionnaire (a questionnaire key, e.g. sipas-2017)."))
    session = db.get_session()
    sel = Selection(
        questionnaire=key, since=since, until=until, unit=unit, field=field, source=source,
        include_flagged=include_flagged, by=tuple(b.strip() for b in by.split(",") if b.strip()),
        period=PERIOD_CHOICES[period],
    )
    try:
        export = standard.export(session, sel, level)
    except ReportError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()  # the maintained counts, if the report brought them up to date
    for message in export.messages:
        click.echo(message, err=True)
    if fmt == "csv":
        _write(to_csv(safe_frame(export.figures)), out, bom=True)  # a unit name may begin with "="
        if out is not None:
            verdicts_out = verdicts_path(out)
            _write(to_csv(safe_frame(export.verdicts)), verdicts_out, bom=True)
            click.echo(say(f"Đã ghi {len(export.figures)} dòng số liệu vào {out} và {len(export.verdicts)} kết luận "
                           f"theo chỉ tiêu vào {verdicts_out}.",
                           f"{len(export.figures)} figure row(s) written to {out}, {len(export.verdicts)} verdict(s) "
                           f"to {verdicts_out}."), err=True)
        elif len(export.verdicts):
            click.echo(say(f"Standard output chỉ có bảng số liệu; {len(export.verdicts)} kết luận theo chỉ tiêu được ghi "
                           "thành tệp thứ hai khi có --out.",
                           f"Standard output holds the figures only; the {len(export.verdicts)} verdict(s) go to a "
                           "second file when --out is given."), err=True)
    else:
        _write(json.dumps(export.as_json(), ensure_ascii=False, indent=1) + "\n", out)
        if out is not None:
            click.echo(say(f"Đã ghi {len(export.figures)} dòng số liệu và {len(export.verdicts)} kết luận vào {out}.",
                           f"{len(export.figures)} figure row(s), {len(export.verdicts)} verdict(s) written to {out}."),
                       err=True)


def verdicts_path(out: Path) -> Path:
    """Where a CSV export puts its verdicts: beside the figures, '-chi-tieu' added to the name."""
    return out.with_name(f"{out.stem}-chi-tieu{out.suffix or '.csv'}")


@report_cli.command("refresh")
@click.option("--full", is_flag=True, help="Rebuild every month, not only those with new responses or flags.")
def report_refresh(full: bool) -> None:
    """Bring the maintained counts (what reports read) up to date with the stored responses."""
    session = db.get_session()
    start = time.perf_counter()
    months = _refresh(session, say("Đang tính lại số liệu theo tháng", "Rebuilding monthly counts"), full)
    session.commit()
    if months:
        seconds = time.perf_counter() - start
        click.echo(say(f"Đã tính lại {months} tháng trong {format_number(seconds, 1)} giây.",
                       f"{months} month(s) rebuilt in {seconds:.1f} s."))
    else:
        click.echo(say("Số liệu báo cáo đã cập nhật đầy đủ.", "Report counts are up to date."))


def init_app(app: Flask) -> None:
    for group in (targets_cli, responses_cli, report_cli):
        app.cli.add_command(group)

