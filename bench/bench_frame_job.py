"""A frame import started from the staff page (issue #15: "progress on the page"): how long the
upload and the starting request take, how the rows-read figure on the job page moves, how fast
the job page answers while the import's thread holds SQLite's writer slot in the same process (the
GIL is shared: the worst case for the worker that started it), and the import's CPU time.

Builds a throwaway SQLite database under --dir (a province and --communes communes), writes the CSV
frame of bench/bench_frame_import.py, logs a coordinator in with the test client, uploads the file,
confirms the guessed mapping, then asks for the job page every --every seconds until it is done.
Run:  python bench/bench_frame_job.py [--rows 1000000] [--communes 100] [--dir /tmp/F2_bench]   (not part of the suite)
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench.bench_frame_import import write_frame
from bench.common import machine, province, registry_app
from survey.db import get_session
from survey.models import Field, FrameDossier, Job
from survey.staff import accounts, scope

PASSWORD = "ba con mèo nhảy qua hàng rào"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
READ = re.compile(r"Đã đọc ([0-9.]+)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--every", type=float, default=1.0)
    parser.add_argument("--dir", default="/tmp/F2_bench")
    args = parser.parse_args()
    print(machine())
    tmp = Path(args.dir) / f"job-{args.rows}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    app = registry_app(str(tmp), f"sqlite:///{tmp}/bench.sqlite3")
    with app.app_context():
        session = get_session()
        root, communes = province(session, args.communes)
        fields = [f.code for f in session.scalars(select(Field).order_by(Field.code))]
        user, _ = accounts.create_user(session, "dieu.phoi", "Điều phối khảo sát")
        user.password_hash, user.must_change_password = accounts.hash_password(PASSWORD), False
        scope.grant(session, user, "coordinator", root, None)
        session.commit()
        codes = [c.code for c in communes]
    path = tmp / "frame.csv"
    bad = write_frame(path, args.rows, codes, fields)
    print(f"frame file: {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB, {bad} bad rows")

    client = app.test_client()
    token = TOKEN.search(client.get("/staff/login").get_data(as_text=True)).group(1)
    client.post("/staff/login", data={"login": "dieu.phoi", "password": PASSWORD, "csrf_token": token})
    token = TOKEN.search(client.get("/staff/sampling/33/frames").get_data(as_text=True)).group(1)
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        html = client.post("/staff/sampling/33/frames/upload", content_type="multipart/form-data", data={
            "csrf_token": token, "source": "bench", "file": (fh, "ds-quy4.csv")}).get_data(as_text=True)
    uploaded = time.perf_counter() - t0
    form = {"csrf_token": TOKEN.search(html).group(1), "source": "bench",
            "token": re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1),
            **{f"map_{t}": h for t, h in re.findall(r'<select id="map_(\w+)".*?<option value="([^"]*)" selected>', html, re.DOTALL)}}

    cpu0, t0 = time.process_time(), time.perf_counter()
    resp = client.post("/staff/sampling/33/frames/import", data=form)
    started = time.perf_counter() - t0
    assert resp.status_code == 303, resp.get_data(as_text=True)[-800:]
    page, job_id = resp.headers["Location"], int(resp.headers["Location"].rsplit("/", 1)[1])
    latencies, marks, next_mark, loads = [], [], 0.0, []
    while True:
        t = time.perf_counter()
        html = client.get(page).get_data(as_text=True)
        latencies.append(time.perf_counter() - t)
        now = time.perf_counter() - t0
        if now >= next_mark:
            read = READ.search(html)
            marks.append(f"{now:.0f}s:{read.group(1) if read else '–'}")
            loads.append(os.getloadavg()[0])
            next_mark += 15
        if "data-poll" not in html:
            break
        time.sleep(args.every)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    with app.app_context():
        job = get_session().get(Job, job_id)
        state, error = job.state, job.error
        stored = get_session().scalar(select(func.count()).select_from(FrameDossier))
    summary = re.search(r'<p role="status">([^<]*)</p>', html)
    print(f"upload request (file to disk, header found, mapping page): {uploaded:.1f} s; "
          f"starting request: {started * 1000:.0f} ms")
    print(f"job {state} in {elapsed:.1f} s wall, {cpu:.1f} s CPU of this process (import thread and polling), "
          f"load average {statistics.mean(loads):.1f} meanwhile: {summary.group(1) if summary else error}; {stored:,} stored")
    print(f"rows read on the page (elapsed:read): {' '.join(marks)}")
    print(f"job page while the import ran in the same process: {len(latencies)} requests, median "
          f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
