"""The report files: the Excel workbook and the PDF report (survey.reporting.files, what the page's
downloads and `report export --format xlsx|pdf` write) for the demo province, year 2025.

    python -m bench.bench_report_files [--sizes 100000 1000000] [--keep DIR] [--db sqlite|postgresql]

Databases are built as in bench.bench_analysis_db (reused with --keep). Each measurement runs in a
fresh process, three times (first and best printed, with the peak RSS): the dashboard alone, then
the workbook and the PDF from that dashboard (the file's own time, the dashboard excluded).
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


def measure(url: str, what: str) -> dict:
    from survey.db import get_session
    from survey.reporting import dashboard, files

    app = app_for(url)
    times, size = [], 0
    with app.test_request_context():
        session = get_session()
        f = dashboard.Filters(dashboard.parse_period("year", "2025"), "33")
        board = dashboard.build(session, f)
        cut = files.cutoff(session, board)
        for _ in range(3):
            start = time.perf_counter()
            if what == "dashboard":
                board = dashboard.build(session, f)
            elif what == "xlsx":
                size = len(files.xlsx(board, cut))
            else:
                size = len(files.pdf(session, board, cut, files.today()))
            times.append(time.perf_counter() - start)
            session.rollback()
    return {"first_s": times[0], "best_s": min(times), "rss_mb": peak_rss_mb(), "bytes": size}


def run_measure(url: str, what: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_report_files", "--measure", url, what],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", type=str)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
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
                                ("pdf", "PDF report")):
                r = run_measure(url, what)
                verdict = "" if what == "dashboard" else f" (goal ≤ {GOAL_S:.0f} s: {'met' if r['best_s'] <= GOAL_S else 'NOT met'})"
                print(f"  {label}: first {r['first_s']:.2f} s, best {r['best_s']:.2f} s, peak RSS {r['rss_mb']:.0f} MB"
                      f"{', ' + format(r['bytes'], ',') + ' bytes' if r['bytes'] else ''}{verdict}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
