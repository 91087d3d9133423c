"""Time `frame purge` (survey/sampling/retention.py) on a large frame.

Builds a throwaway database (a province, 20 communes, `--count` frame dossiers completed over
two years, a design covering the last quarter of the first year with a draw), then times the
dry run, the purge, a second purge (nothing left to do) and `sample verify` of the draw after
the purge. Run:  python bench/bench_frame_purge.py [--count 200000] [--postgres URL]
(not part of the test suite; figures on a shared machine are noisy)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import frame, machine, province, registry_app
from survey.db import get_session
from survey.models import Field, FrameDossier
from survey.sampling import design, draws, retention


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    print(f"{label:<34} {time.perf_counter() - start:7.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL to run on instead of SQLite (emptied first)")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        app = registry_app(tmp, args.postgres)
        with app.app_context():
            session = get_session()
            fld = session.scalar(select(Field).filter_by(code="dat-dai"))
            root, communes = province(session, 20)
            first = date(2025, 1, 1)
            frame(session, root, (
                {"dossier_code": f"HS-{i:07d}", "unit_id": communes[i % 20].id, "field_id": fld.id,
                 "completed_on": first + timedelta(days=i * 730 // args.count), "name": f"Nguyễn Văn {i}",
                 "address": f"Thôn {i % 97}", "phone": f"09{i:08d}"} for i in range(args.count)))
            saved = design.save(session, design.Params(root, date(2025, 10, 1), date(2025, 12, 31), total=400), "bench")
            draw = draws.draw(session, saved, "bench-seed")
            session.commit()
            on = date(2026, 12, 1)  # cutoff 01/12/2025: the first 11 months are past, the designed quarter is kept
            dry = timed("dry run", lambda: retention.purge(session, 365, on=on, dry_run=True))
            done = timed("purge", lambda: retention.purge(session, 365, on=on))
            session.commit()
            again = timed("purge again (nothing to do)", lambda: retention.purge(session, 365, on=on))
            check = timed("sample verify after the purge", lambda: draws.verify(session, draw))
            holding = session.scalar(select(func.count()).select_from(FrameDossier).where(retention.PERSONAL))
        print(f"{args.count:,} dossiers: {dry.dossiers:,} past retention (dry run), {done.dossiers:,} purged, "
              f"{again.dossiers} on the second run, {holding:,} still holding personal data; "
              f"verify {'matches' if check.matches else 'DOES NOT MATCH'}")


if __name__ == "__main__":
    main()
