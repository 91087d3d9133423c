"""SIGKILL the app server (master and workers) in the middle of a full-size load, audit the
database before anything restarts, restart, and let clients retry what got no answer.

    python -m bench.crash_test [--submissions 20000] [--clients 50] [--kills 3] [--db sqlite --db postgresql]

Passes when every submission that received a success answer is stored, no response is
half-written (each has exactly the answer rows that were posted), retries stored nothing
twice, and every submission is finally acknowledged. Exit status 1 otherwise.
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
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs, evenly spread over the load")
    parser.add_argument("--deadline", type=float, default=1200, help="seconds per database, at most")
    parser.add_argument("--db", action="append", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    print(machine())
    failed = False
    points = [args.submissions * (k + 1) // (args.kills + 1) for k in range(args.kills)]
    for kind in args.db or ["sqlite", "postgresql"]:
        with database(kind) as (url, instance):
            loadgen.prepare_database(url, instance)
            report = loadgen.crash_round(url, instance, args.submissions, args.clients, points, args.deadline)
        print(f"\n{kind}: {report.final.summary()}; server down {report.down_seconds:.1f} s in total")
        checks: dict[str, bool] = {}
        for n, (seen, audit) in enumerate(report.kills, 1):
            print(f"  kill {n}: {len(seen.acked):,} acknowledged, {len(seen.sent):,} posted, "
                  f"{audit.responses:,} stored at the moment of SIGKILL")
            checks[f"kill {n}: every acknowledged submission stored"] = not audit.missing
            checks[f"kill {n}: no half-written response"] = not audit.wrong_answers and audit.empty == 0 and audit.orphans == 0
        final = report.audit_final
        checks["in the end: every acknowledged submission stored"] = not final.missing
        checks["in the end: no half-written response"] = not final.wrong_answers and final.empty == 0 and final.orphans == 0
        checks["retries stored nothing twice"] = final.responses == final.keys == final.stored_sent
        checks[f"all {args.submissions:,} finally acknowledged"] = len(report.final.acked) == args.submissions
        checks["no 5xx"] = report.final.server_errors == 0
        for name, ok in checks.items():
            print(f"  {'✓' if ok else '✗'} {name}")
            failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
