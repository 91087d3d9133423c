"""No accepted response is ever lost, at full size: 20,000 submissions from 50 concurrent
clients to gunicorn (2 workers) on SQLite and on PostgreSQL; exactly 20,000 stored, no 5xx.

    python -m bench.load_test [--submissions 20000] [--clients 50] [--deadline 900] [--db sqlite --db postgresql]

Exit status 1 when any check fails. tests/ops/test_load.py runs the same code at CI size.
"""
from __future__ import annotations

import argparse
import sys

from .common import database, machine

from . import loadgen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--deadline", type=float, default=900, help="seconds per database, at most")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", action="append", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    print(machine())
    failed = False
    for kind in args.db or ["sqlite", "postgresql"]:
        with database(kind) as (url, instance):
            loadgen.prepare_database(url, instance)
            with loadgen.Server(url, instance, workers=args.workers) as server:
                result = loadgen.run_closed(server.port, args.submissions, args.clients, args.deadline)
            audit = loadgen.audit(url, result)
        checks = {
            f"{args.submissions:,} acknowledged (303)": len(result.acked) == args.submissions,
            "no 5xx": result.server_errors == 0,
            "no connection errors": result.statuses["GET error"] + result.statuses["POST error"] == 0,
            f"exactly {args.submissions:,} stored": audit.responses == audit.keys == args.submissions,
            "every acknowledged one stored": not audit.missing,
            "every one with all its answers": not audit.wrong_answers and audit.empty == 0,
        }
        print(f"\n{kind}: {result.summary()}")
        print(f"  stored: {audit.responses:,} responses, {audit.keys:,} idempotency keys")
        print(f"  POST latency p50 {loadgen.percentile(result.post_latency, 50) * 1000:.0f} ms, "
              f"p99 {loadgen.percentile(result.post_latency, 99) * 1000:.0f} ms (closed loop, {args.clients} clients)")
        for name, ok in checks.items():
            print(f"  {'✓' if ok else '✗'} {name}")
            failed |= not ok
        if result.errors:
            print("  first errors:", *result.errors[:5], sep="\n    ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
