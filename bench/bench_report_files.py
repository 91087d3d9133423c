"""The report files: the Excel workbook and the PDF report (survey.reporting.files, what the page's
downloads and `report export --format xlsx|pdf` write) for the demo province, year 2025.

    python -m bench.bench_report_files [--sizes 100000 1000000] [--keep DIR] [--db sqlite|postgresql]

Databases are built as in bench.bench_analysis_db (reused with --keep). Each measurement runs in a
fresh process, three times (first and best printed, wall and this process's CPU, with the peak RSS
and the load average): the dashboard alone, then the workbook and the PDF from that dashboard (the
file's own time, the dashboard excluded; the first includes importing WeasyPrint or openpyxl), and
the PDF through the staff route (`GET /staff/reports/<unit>/bao-cao.pdf` as a logged-in reader of the
province: the first request builds the dashboard too, the next ones find it and the charts cached).
CPU is the figure that compares on a shared machine; wall is CPU stretched by the other jobs.
Goal: ≤ 10 s each. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.bench_analysis_db import ROOT, app_for, build, databases, peak_rss_mb

GOAL_S = 10.0


READER = "bench.doc.bao.cao"


def measure_route(url: str) -> dict:
    """Three downloads of the province's PDF through the staff route, by a reader of the province."""
    import re

    from sqlalchemy import select

    from survey.db import get_session
    from survey.models import StaffUser, Unit
    from survey.staff import accounts, scope

    app = app_for(url)
    password = "bench-report-files-passphrase"
    with app.app_context():
        session = get_session()
        if session.scalar(select(StaffUser).where(StaffUser.login == READER)) is None:
            user, _ = accounts.create_user(session, READER, "Cán bộ đo thời gian")
            user.password_hash = accounts.hash_password(password)
            user.must_change_password = False
            scope.grant(session, user, "reader", session.scalar(select(Unit).where(Unit.code == "33")), None)
            session.commit()
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/staff/login", data={"login": READER, "password": password, "csrf_token": token})
    times, cpu, size = [], [], 0
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        resp = client.get("/staff/reports/33/bao-cao.pdf", query_string={"ky": "year", "gia_tri": "2025"})
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        assert resp.status_code == 200 and resp.data.startswith(b"%PDF"), resp.status_code
        size = len(resp.data)
    return {"first_s": times[0], "best_s": min(times), "first_cpu_s": cpu[0], "best_cpu_s": min(cpu),
            "rss_mb": peak_rss_mb(), "bytes": size}


def measure(url: str, what: str) -> dict:
    from survey.db import get_session
    from survey.reporting import dashboard, files

    if what == "route":
        return measure_route(url)
    app = app_for(url)
    times, cpu, size = [], [], 0
    with app.test_request_context():
        session = get_session()
        f = dashboard.Filters(dashboard.parse_period("year", "2025"), "33")
        board = dashboard.build(session, f)
        cut = files.cutoff(session, board)
        for _ in range(3):
            start, start_cpu = time.perf_counter(), time.process_time()
            if what == "dashboard":
                board = dashboard.build(session, f)
            elif what == "xlsx":
                size = len(files.xlsx(board, cut))
            else:
                size = len(files.pdf(session, board, cut, files.today()))
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            session.rollback()
    return {"first_s": times[0], "best_s": min(times), "first_cpu_s": cpu[0], "best_cpu_s": min(cpu),
            "rss_mb": peak_rss_mb(), "bytes": size}


def run_measure(url: str, what: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_report_files", "--measure", url, what],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(label: str, what: str, r: dict) -> None:
    import os

    goal = r["first_s"] if what == "route" else r["best_s"]  # a download's own time: dashboard included
    verdict = "" if what == "dashboard" else f" (goal ≤ {GOAL_S:.0f} s: {'met' if goal <= GOAL_S else 'NOT met'})"
    print(f"  {label}: first {r['first_s']:.2f} s wall / {r['first_cpu_s']:.2f} s CPU, best {r['best_s']:.2f} s wall / "
          f"{r['best_cpu_s']:.2f} s CPU, peak RSS {r['rss_mb']:.0f} MB"
          f"{', ' + format(r['bytes'], ',') + ' bytes' if r['bytes'] else ''}{verdict}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", type=str)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--only", nargs="+", default=[], choices=("dashboard", "xlsx", "pdf", "route"))
    parser.add_argument("--measure", nargs=2, metavar=("URL", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return 0
    from pathlib import Path

    from bench.common import machine

    print(machine(), f"database: {args.db}", flush=True)
    with databases(args.db, Path(args.keep) if args.keep else None) as url_for:
        for size in args.sizes:
            url, kept = url_for(size)
            print(f"\n{size:,} responses → {url}{' (kept)' if kept else ''}", flush=True)
            if not kept:
                build(url, size)
            for what, label in (("dashboard", "dashboard (for reference)"), ("xlsx", "Excel workbook"),
                                ("pdf", "PDF report"), ("route", "PDF through the staff route")):
                if what in args.only or not args.only:
                    report(label, what, run_measure(url, what))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
