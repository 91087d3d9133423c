"""Submissions per second on SQLite and on PostgreSQL under gunicorn (2 workers), then
p50/p99 latency at half that rate.

    python -m bench.bench_submit [--submissions 5000] [--clients 50] [--seconds 30] [--db sqlite --db postgresql]

A submission is what a citizen's browser does: GET the form (gzip), POST the answers, get
the 303. Throughput is closed loop (50 clients back to back). Latency is open loop: a
submission is due every 1/rate s whatever the server does, and its latency counts from
the due time, so queueing is included (no coordinated omission). The Python client runs on
the same 2 cores as the server and takes some of them: the figures are a floor.
"""
from __future__ import annotations

import argparse
import sys

from .common import database, machine

from . import loadgen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30, help="length of the open-loop latency run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", action="append", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    print(machine())
    rows = []
    for kind in args.db or ["sqlite", "postgresql"]:
        with database(kind) as (url, instance):
            loadgen.prepare_database(url, instance)
            with loadgen.Server(url, instance, workers=args.workers) as server:
                loadgen.run_closed(server.port, 200, 10, 60)  # warm-up: imports, pools, caches
                closed = loadgen.run_closed(server.port, args.submissions, args.clients, 600)
                rate = closed.rate / 2
                opened = loadgen.run_open(server.port, rate, args.seconds)
        bad = closed.server_errors + opened.server_errors
        rows.append((kind, closed, rate, opened, bad))
        print(f"{kind}: closed {closed.summary()}; open at {rate:.0f}/s: {opened.summary()}")
    print(f"\n{'database':<11} {'submissions/s':>14} {'at rate':>8} {'p50':>8} {'p99':>8} {'POST p50':>9} {'POST p99':>9} {'5xx':>4}")
    for kind, closed, rate, opened, bad in rows:
        p = lambda xs, q: f"{loadgen.percentile(xs, q) * 1000:.0f} ms"  # noqa: E731
        print(f"{kind:<11} {closed.rate:>14.0f} {rate:>6.0f}/s {p(opened.total_latency, 50):>8} {p(opened.total_latency, 99):>8} "
              f"{p(opened.post_latency, 50):>9} {p(opened.post_latency, 99):>9} {bad:>4}")
    print("p50/p99: GET form + POST, from the due time; POST: the submit request alone.")
    return 1 if any(r[4] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
