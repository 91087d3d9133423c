"""The reports dashboard (survey.reporting.dashboard.build) and its Excel workbook at 100,000 and
1,000,000 responses, on the demo province.

    python -m bench.bench_dashboard [--sizes 100000 1000000] [--keep DIR] [--db sqlite|postgresql] [--profile]

Databases are built as in bench.bench_analysis_db (demo province, demo responses, count refresh;
reused with --keep). Then, each in a fresh process and three times (first and best printed with
the peak RSS): the dashboard of the whole province for the year 2025 (every instrument with
responses, previous year beside it, field table with verdicts, elements and criteria, units),
and the same followed by the workbook (charts included); wall time and the CPU time of the process
(SQLite runs inside it, so CPU is the figure that compares on a shared machine), with the load
average at the end. Goals: dashboard ≤ 1 s at 1M and
≤ 1.5× its 100k time; workbook ≤ 10 s. `--profile` adds, per size, where one warm build spends
its time (cProfile, the survey/ and analysis/ functions by cumulative time). Not part of the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from bench.bench_analysis_db import ROOT, app_for, build, databases, peak_rss_mb

GOALS = {"dashboard_s": 1.0, "ratio": 1.5, "workbook_s": 10.0}


def measure(url: str, what: str) -> dict:
    from survey.db import get_session
    from survey.reporting import dashboard, workbook

    app = app_for(url)
    times, cpu = [], []
    with app.test_request_context():
        session = get_session()
        f = dashboard.Filters(dashboard.parse_period("year", "2025"), "33")
        for _ in range(3):
            start, start_cpu = time.perf_counter(), time.process_time()
            board = dashboard.build(session, f)
            size = len(workbook.build(board, datetime.now(UTC))) if what == "xlsx" else 0
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            session.rollback()
    return {"first_s": times[0], "best_s": min(times), "cpu_s": min(cpu), "load": os.getloadavg()[0], "rss_mb": peak_rss_mb(), "rows": len(board.fields),
            "units": len(board.units), "bytes": size}


def profile(url: str, top: int = 25) -> str:
    """Where a warm dashboard build spends its time: our own functions by cumulative seconds."""
    import cProfile
    import io
    import pstats

    from survey.db import get_session
    from survey.reporting import dashboard

    app = app_for(url)
    with app.test_request_context():
        session = get_session()
        f = dashboard.Filters(dashboard.parse_period("year", "2025"), "33")
        dashboard.build(session, f)
        session.rollback()
        profiler = cProfile.Profile()
        profiler.enable()
        dashboard.build(session, f)
        profiler.disable()
        session.rollback()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"(survey|analysis)/", top)
    return out.getvalue()


def ensure_indexes(url: str) -> None:
    """A kept database built before an index was added (migration 0015) gets it, as `flask db upgrade` would."""
    from survey.db import engine
    from survey.models import AnswerCount

    with app_for(url).app_context():
        for index in AnswerCount.__table__.indexes:
            index.create(engine(), checkfirst=True)
        engine().dispose()


def run_measure(url: str, what: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_dashboard", "--measure", url, what],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", type=str)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--profile", action="store_true", help="print where one warm build spends its time")
    parser.add_argument("--measure", nargs=2, metavar=("URL", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        if args.measure[1] == "profile":
            print(profile(args.measure[0]))
            return 0
        print(json.dumps(measure(*args.measure)))
        return 0
    from pathlib import Path

    from bench.common import machine

    print(machine(), f"database: {args.db}", flush=True)
    results: dict[int, dict] = {}
    with databases(args.db, Path(args.keep) if args.keep else None) as url_for:
        for size in args.sizes:
            url, kept = url_for(size)
            print(f"\n{size:,} responses → {url}{' (kept)' if kept else ''}", flush=True)
            if not kept:
                build(url, size)
            else:
                ensure_indexes(url)
            for what, label in (("page", "dashboard"), ("xlsx", "dashboard + Excel workbook")):
                r = results.setdefault(size, {})[what] = run_measure(url, what)
                print(f"  {label}: first {r['first_s']:.2f} s, best {r['best_s']:.2f} s (CPU {r['cpu_s']:.2f} s, load "
                      f"{r['load']:.1f}), peak RSS {r['rss_mb']:.0f} MB "
                      f"({r['rows']} field rows, {r['units']} unit rows{', ' + format(r['bytes'], ',') + ' bytes' if r['bytes'] else ''})",
                      flush=True)
            if args.profile:
                print(subprocess.run([sys.executable, "-m", "bench.bench_dashboard", "--measure", url, "profile"],
                                     cwd=ROOT, capture_output=True, text=True, check=True).stdout, flush=True)
    if len(args.sizes) > 1:
        small, large = min(args.sizes), max(args.sizes)
        for figure, name in (("best_s", "wall"), ("cpu_s", "CPU")):
            a, b = results[small]["page"][figure], results[large]["page"][figure]
            print(f"dashboard {name}: {a:.2f} s at {small:,} → {b:.2f} s at {large:,}, ratio {b / a:.2f} "
                  f"(goal ≤ {GOALS['dashboard_s']} s and ≤ {GOALS['ratio']}×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
