"""The standard report and ad-hoc breakdowns read from SQLite or PostgreSQL at 100,000 and 1,000,000 responses.

    python -m bench.bench_analysis_db [--sizes 100000 1000000] [--keep DIR] [--db sqlite|postgresql]

For each size: a fresh database (SQLite: temp dir, or DIR/<size>.sqlite3 kept and reused with
--keep; PostgreSQL: one database per size in a throwaway cluster, VACUUM ANALYZE after loading
as autovacuum would do) gets the demo province and that many responses from
survey.ops.demo.generate_responses (progress printed), the maintained counts and signatures are
refreshed (time printed), then the standard report of sipas-2017 (every unit of the tree ×
every field × 5 elements × 22 criteria + the overall item, Wilson intervals, verdicts against
the targets) is timed by year and by month, and at the largest size the ad-hoc breakdown by
gender, from the maintained signatures and, for reference, from the raw answers alone. Each
measurement runs in a fresh process, so its peak RSS (VmHWM; resource.getrusage elsewhere) is
the measurement's own, Python and libraries included; it runs 3 times and the first (cold)
and best are printed. Goals: report ≤ 2 s at 1M and ≤ 1.5× its 100k time, peak memory
≤ 1 GB, breakdown ≤ 10 s. Delete kept databases when the schema changes. Not part of the
test suite.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"report_s": 2.0, "ratio": 1.5, "rss_mb": 1024, "breakdown_s": 10.0}


def app_for(url: str):
    from survey import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url})


def build(url: str, size: int) -> None:
    """Schema, demo province, `size` responses, then the count refresh (both timed)."""
    from sqlalchemy import text

    from bench.common import demo_province
    from survey.db import engine, get_session
    from survey.ops import demo
    from survey.reporting import counts

    app = app_for(url)
    with app.app_context():
        session = get_session()
        demo_province(session)
        done, start, step = 0, time.perf_counter(), max(size // 10, 1)

        def progress(n: int) -> None:
            nonlocal done
            done += n
            if done % step < n or done == size:
                print(f"    {done:>9,} / {size:,} responses  {time.perf_counter() - start:6.1f} s", flush=True)

        demo.generate_responses(session, size, seed=2026, progress=progress)
        session.commit()
        print(f"  generated and committed {size:,} responses in {time.perf_counter() - start:.1f} s", flush=True)
        postgresql = engine().dialect.name == "postgresql"
        if postgresql:
            vacuum(text("VACUUM ANALYZE"))
        start = time.perf_counter()
        months = counts.refresh(session)
        session.commit()
        print(f"  count refresh (answer_counts + response_signatures): {months} months rebuilt in "
              f"{time.perf_counter() - start:.1f} s", flush=True)
        if postgresql:
            vacuum(text("VACUUM ANALYZE"))
        engine().dispose()


def vacuum(statement) -> None:
    """VACUUM cannot run inside a transaction: its own autocommit connection."""
    from survey.db import engine

    with engine().connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(statement)


def measure(url: str, what: str) -> dict:
    """One measurement, three runs, in this (fresh) process."""
    from analysis import figures
    from survey.db import get_session
    from survey.reporting.breakdowns import breakdown
    from survey.reporting.selection import Selection
    from survey.reporting.standard import standard_report

    app = app_for(url)
    times = []
    with app.app_context():
        session = get_session()
        for _ in range(3):
            start = time.perf_counter()
            if what in ("gender", "gender-raw"):
                cells = breakdown(session, Selection("sipas-2017"), ["gender"], maintained=what == "gender")
                result = figures.criterion_figures(cells, ["gender"])
                shape = {"cells": len(cells), "figure_rows": len(result)}
            else:
                report = standard_report(session, Selection("sipas-2017", by=("unit", "field", "period"), period=what))
                shape = {"figure_rows": len(report.figures), "verdict_rows": len(report.verdicts),
                         "units": report.figures["unit"].nunique(), "fields": report.figures["field"].nunique()}
            times.append(time.perf_counter() - start)
            session.rollback()
    return {"first_s": times[0], "best_s": min(times), "rss_mb": peak_rss_mb(), **shape}


def peak_rss_mb() -> float:
    """This process's peak RSS. On Linux VmHWM, because getrusage's ru_maxrss survives fork and
    exec, so a child started by a big parent would report the parent's size."""
    try:
        status = Path("/proc/self/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_measure(url: str, what: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.bench_analysis_db", "--measure", url, what],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", type=Path, help="SQLite: keep the databases here and reuse them on the next run")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--measure", nargs=2, metavar=("URL", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return 0
    from bench.common import machine

    print(machine(), f"database: {args.db}", flush=True)
    with databases(args.db, args.keep) as url_for:
        results: dict[int, dict[str, dict]] = {}
        for size in args.sizes:
            url, kept = url_for(size)
            print(f"\n{size:,} responses → {url}", flush=True)
            if kept:
                print("  (database kept from an earlier run)")
            else:
                build(url, size)
            results[size] = {}
            for what, label in (("Y", "standard report by unit × field × year"),
                                ("M", "standard report by unit × field × month")):
                r = results[size][what] = run_measure(url, what)
                print(f"  {label}: first {r['first_s']:.2f} s, best {r['best_s']:.2f} s, peak RSS {r['rss_mb']:.0f} MB "
                      f"({r['figure_rows']:,} figure rows, {r['verdict_rows']:,} verdicts, {r['units']} units, {r['fields']} fields)",
                      flush=True)
        largest = max(args.sizes)
        url, _ = url_for(largest)
        print()
        for what, label in (("gender", "maintained signatures"), ("gender-raw", "raw answers alone, for reference")):
            g = results[largest][what] = run_measure(url, what)
            print(f"ad-hoc breakdown by gender over {largest:,} responses ({label}): first {g['first_s']:.2f} s, "
                  f"best {g['best_s']:.2f} s, peak RSS {g['rss_mb']:.0f} MB (goal ≤ {GOALS['breakdown_s']:.0f} s)", flush=True)
    if len(args.sizes) > 1:
        small = min(args.sizes)
        for what, label in (("Y", "by year"), ("M", "by month")):
            a, b = results[small][what]["best_s"], results[largest][what]["best_s"]
            ok = b <= GOALS["report_s"] and b / a <= GOALS["ratio"]
            print(f"report {label}: {a:.2f} s at {small:,} → {b:.2f} s at {largest:,}, ratio {b / a:.2f} "
                  f"(goal ≤ {GOALS['report_s']:.0f} s and ≤ {GOALS['ratio']}×): {'met' if ok else 'NOT met'}")
    peak = max(r["rss_mb"] for size in results.values() for r in size.values())
    print(f"peak RSS of any measurement process: {peak:.0f} MB (goal ≤ {GOALS['rss_mb']} MB); "
          f"of this process (building the databases): {peak_rss_mb():.0f} MB")
    return 0


@contextmanager
def databases(kind: str, keep: Path | None):
    """A function size → (database URL, kept from an earlier run?) for the run's databases."""
    if kind == "postgresql":
        from bench.pgcluster import PostgresCluster

        cluster = PostgresCluster.find(fast=True)  # fsync off: loading is not what is measured
        if cluster is None:
            raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
        created: set[int] = set()

        def url_for(size: int) -> tuple[str, bool]:
            if size not in created:
                from sqlalchemy import create_engine, text

                admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f"CREATE DATABASE sipas_{size}"))
                admin.dispose()
                created.add(size)
                return cluster.url(f"sipas_{size}"), False
            return cluster.url(f"sipas_{size}"), True

        with cluster:
            yield url_for
        return
    folder = keep or Path(tempfile.mkdtemp(prefix="sipas-bench-analysis-"))
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[int] = set()

    def url_for(size: int) -> tuple[str, bool]:
        path = folder / f"{size}.sqlite3"
        kept = path.exists() and (size in seen or keep is not None)
        seen.add(size)
        return f"sqlite:///{path}", kept

    try:
        yield url_for
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
