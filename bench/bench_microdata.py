"""Microdata exports (survey.reporting.microdata): 1,000,000 responses of one questionnaire to
CSV, and 100,000 to XLSX and SPSS .sav.

    python -m bench.bench_microdata [--sizes 100000 1000000] [--keep DIR] [--db sqlite|postgresql]

Each database holds the demo province and `size` synthetic responses of sipas-2017 alone
(survey.ops.demo's generator, bulk inserted, about 3% flagged, 8% with a comment), kept and
reused with --keep. Each export runs in a fresh process that streams the whole questionnaire
(flagged responses included, so every row is written) to a file; its wall time, its peak RSS
(VmHWM: Python, SQLAlchemy and openpyxl/pyreadstat included), its CPU time (SQLite runs in
the process, so the CPU time is the comparable figure on a loaded machine) and the file size are printed.
The load average before and after each export is printed: on the shared machine wall time
follows it, CPU time does not. Goals (issue 14): CSV of 1,000,000 responses ≤ 60 s and ≤ 300 MB.
Not part of the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_analysis_db import ROOT, app_for, databases, peak_rss_mb

KEY = "sipas-2017"
GOALS = {"csv_s": 60.0, "rss_mb": 300}


def build(url: str, size: int) -> None:
    """Schema, demo province, `size` responses of KEY only, bulk inserted in chunks of 20,000."""
    import numpy as np

    from questionnaires.loader import bundled_paths, load_file
    from survey import catalog
    from survey.db import Base, engine, get_session
    from survey.ops import demo

    app = app_for(url)
    with app.app_context():
        Base.metadata.create_all(engine())
        session = get_session()
        for definition in bundled_paths():
            catalog.publish(session, load_file(definition))
        demo.build_registry(session)
        row = catalog.latest(session, KEY)
        questionnaire = catalog.definition(row)
        rng = np.random.default_rng(2026)
        places = demo._places(session, KEY, rng)
        conn = session.connection()
        sqlite = conn.dialect.name == "sqlite"
        start = time.perf_counter()
        for first in range(0, size, 20_000):
            m = min(20_000, size - first)
            for table, columns, rows in demo._chunk(rng, row.id, questionnaire, places, m, first + 1, sqlite):
                demo._bulk(conn, table, columns, rows)
            if (first // 20_000) % 10 == 9:
                print(f"    {first + m:>9,} / {size:,} responses  {time.perf_counter() - start:6.1f} s", flush=True)
        session.commit()
        print(f"  generated and committed {size:,} responses in {time.perf_counter() - start:.1f} s", flush=True)
        engine().dispose()


def measure(url: str, fmt: str) -> dict:
    """One export of the whole questionnaire into a temporary file, in this (fresh) process."""
    from survey.db import get_session
    from survey.reporting import microdata
    from survey.reporting.selection import Selection

    app = app_for(url)
    with app.app_context(), tempfile.TemporaryDirectory() as tmp:
        session = get_session()
        out = Path(tmp) / f"microdata.{fmt}"
        start, cpu = time.perf_counter(), time.process_time()
        rows = microdata.export(session, Selection(KEY, include_flagged=True), fmt, out)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        session.rollback()
    return {"seconds": seconds, "cpu_s": cpu, "rss_mb": peak_rss_mb(), "rows": rows, "bytes": size}


def run_measure(url: str, fmt: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_microdata", "--measure", url, fmt],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", type=Path, help="SQLite: keep the databases here and reuse them on the next run")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--formats", nargs="+", default=None, help="default: csv xlsx sav at the smallest size, csv at the others")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--measure", nargs=2, metavar=("URL", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return 0
    from bench.common import machine

    print(machine(), f"database: {args.db}", flush=True)
    with databases(args.db, args.keep) as url_for:
        for size in sorted(args.sizes):
            url, kept = url_for(size)
            print(f"\n{size:,} responses of {KEY} → {url}{' (kept)' if kept else ''}", flush=True)
            if not kept:
                build(url, size)
            if args.build_only:
                continue
            formats = args.formats or (["csv", "xlsx", "sav"] if size == min(args.sizes) else ["csv"])
            for fmt in formats:
                load = os.getloadavg()[0]
                r = run_measure(url, fmt)
                goal = ""
                if fmt == "csv" and size >= 1_000_000:
                    ok = r["seconds"] <= GOALS["csv_s"] and r["rss_mb"] <= GOALS["rss_mb"]
                    goal = (f" (goal ≤ {GOALS['csv_s']:.0f} s, ≤ {GOALS['rss_mb']} MB: {'met' if ok else 'NOT met'} in wall time; "
                            f"CPU {'within' if r['cpu_s'] <= GOALS['csv_s'] else 'over'} it)")
                print(f"  {fmt}: {r['rows']:,} rows in {r['seconds']:.1f} s ({r['rows'] / r['seconds']:,.0f} rows/s; "
                      f"CPU {r['cpu_s']:.1f} s, this process, SQLite included), "
                      f"peak RSS {r['rss_mb']:.0f} MB, {r['bytes'] / 1e6:,.1f} MB written, load average {load:.1f} → "
                      f"{os.getloadavg()[0]:.1f}{goal}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
