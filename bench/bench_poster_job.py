"""A staff poster job of 1,000 A6 posters: how long the starting request takes, how the progress
moves, and how fast the job page answers while the job's thread lays out pages in the same process
(the GIL is shared, so this is the worst case for the worker that started it).

Builds a throwaway SQLite registry (100 communes × 10 counters), logs a unit administrator in
with the test client, posts the form, then polls the job page every 0.5 s until it is done.
Run:  python bench/bench_poster_job.py [--count 1000]   (not part of the test suite)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CSRF, counter_registry, logged_in, registry_app, staff_account
from survey.db import get_session
from survey.models import Job


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = registry_app(tmp)
        with app.app_context():
            session = get_session()
            root = counter_registry(session, args.count)
            staff_account(session, "quan.tri.tinh", "unit_admin", root)
            session.commit()
        client = logged_in(app, "quan.tri.tinh")
        token = CSRF.search(client.get("/staff/units/33").get_data(as_text=True)).group(1)

        t0 = time.perf_counter()
        resp = client.post("/staff/units/33/poster-jobs", data={"csrf_token": token, "size": "a6"})
        started = time.perf_counter() - t0
        page = resp.headers["Location"]
        job_id = int(page.rsplit("/", 1)[1])
        latencies, marks, next_mark = [], [], 0.0
        while True:
            t = time.perf_counter()
            html = client.get(page).get_data(as_text=True)
            latencies.append(time.perf_counter() - t)
            with app.app_context():
                job = get_session().get(Job, job_id)
                state, done, total = job.state, job.done, job.total
            now = time.perf_counter() - t0
            if now >= next_mark:
                marks.append(f"{now:.0f}s:{done}")
                next_mark += 5
            if state in ("done", "failed"):
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - t0
        assert state == "done" and "Tải PDF" in html, (state, html[-500:])
    print(f"{total} A6 posters as a staff job: the starting request answered in {started * 1000:.0f} ms; "
          f"done in {elapsed:.1f} s")
    print(f"progress (elapsed:done): {' '.join(marks)}")
    print(f"job page while the job ran in the same process: {len(latencies)} requests, median "
          f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
