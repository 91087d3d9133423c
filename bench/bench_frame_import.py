"""Time a 1,000,000-row frame import, its re-import and a stratified draw from it (issue #15 proof:
import ≤ 60 s with a progress bar, draw ≤ 5 s).

Builds a throwaway database (SQLite, or with --db postgresql a throwaway durable cluster or
SURVEY_BENCH_POSTGRES_URL; a province and `--communes` communes, the bundled fields),
writes a CSV frame like a one-stop export (a title row, Vietnamese headers, dd/mm/yyyy dates, names,
addresses, phones, one in 500 phones that lost its leading 0 in Excel, and a few bad rows: impossible
date, unknown unit, unknown field, duplicate, missing code), then runs the real CLI in a child
process (`flask --app wsgi frame import`, its progress bar on stderr) twice, and measures each run's
wall time, CPU time and peak RSS. Then, in this process, a saved design (unit × field strata,
proportional, n = `--n`) is drawn (`draws.draw`, as `sample draw` does) and verified (`draws.verify`,
as `sample verify` does), each timed; finally `flask --app wsgi sample verify` runs as a child.
CPU time is the figure that compares on a shared machine; each run also prints the load average.
Run:  python bench/bench_frame_import.py [--rows 1000000] [--communes 100] [--n 5000] [--import-only] [--db postgresql]
(not part of the test suite)
"""
from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database, machine, registry_app
from survey.db import get_session
from survey.models import Field, FrameDossier, Unit
from survey.registry import units
from survey.sampling import design, draws

HEADER = ["Mã hồ sơ", "Đơn vị", "Lĩnh vực", "Ngày hoàn thành", "Thủ tục", "Họ và tên", "Địa chỉ", "Số điện thoại",
          "Hình thức nộp"]
BAD = {  # row number → what is wrong with it (each rejected with its line)
    1000: "date", 250_000: "unit", 500_000: "field", 750_000: "duplicate", 999_000: "code"}
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi")
GIVEN = ("Văn An", "Thị Bình", "Minh Châu", "Thị Dung", "Quốc Hùng", "Thị Hồng Nhung", "Đức Long", "Thu Trang")


def write_frame(path: Path, rows: int, communes: list[str], fields: list[str]) -> int:
    """The CSV, streamed to disk; returns how many rows are meant to be rejected."""
    start = date(2026, 10, 1)
    bad = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["DANH SÁCH HỒ SƠ ĐÃ GIẢI QUYẾT QUÝ IV/2026"] + [""] * (len(HEADER) - 1))
        out.writerow(HEADER)
        for i in range(1, rows + 1):
            unit, fld = communes[i % len(communes)], fields[(i // len(communes)) % len(fields)]
            day = (start + timedelta(days=i % 92)).strftime("%d/%m/%Y")
            code = f"000.00.{unit[-2:]}.H33-{261001 + i % 92}-{i:07d}"
            phone = f"09{i % 100_000_000:08d}" if i % 500 else f"9{i % 100_000_000:08d}"
            kind = BAD.get(i)
            if kind == "date":
                day = "31/02/2026"
            elif kind == "unit":
                unit = "99999"
            elif kind == "field":
                fld = "thu-cong"
            elif kind == "duplicate":
                code = f"000.00.{communes[1 % len(communes)][-2:]}.H33-{261001 + 1 % 92}-{1:07d}"
            elif kind == "code":
                code = ""
            bad += kind is not None
            out.writerow([code, unit, fld, day, "Cấp giấy chứng nhận quyền sử dụng đất",
                          f"{SURNAMES[i % 8]} {GIVEN[(i // 8) % 8]}", f"Số {i % 300 + 1}, thôn Đông, xã {unit}", phone,
                          "trực tuyến" if i % 3 else "trực tiếp"])
    return bad


def run_cli(args: list[str], env: dict[str, str], log: Path) -> tuple[int, float, float, float]:
    """(exit code, wall s, CPU s, peak RSS MB) of `flask --app wsgi ARGS` in a child process."""
    start = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, stdout=out)
        _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    return os.waitstatus_to_exitcode(status), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def server_cpu(url: str) -> float | None:
    """CPU seconds a local PostgreSQL server has used so far: the postmaster, its children that have
    ended (counted into its cutime/cstime) and those still running; None for SQLite or a remote server."""
    if not url.startswith("postgresql"):
        return None
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    try:
        with psycopg.connect(host=u.host or "", port=u.port or 5432, user=u.username or "", password=u.password or "",
                             dbname=u.database or "postgres") as conn:
            data_dir = conn.execute("SHOW data_directory").fetchone()[0]
        master = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    except (psycopg.Error, OSError):
        return None
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(stat.parent.name), int(fields[1])
        if pid == master:
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        elif parent == master:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def other_writer(url: str) -> Iterator[list[float]]:
    """On SQLite, a thread that takes the writer slot every 0.2 s while the import runs (as a citizen's
    submission would) and records how long each wait was: the import must not hold the slot for long."""
    waits: list[float] = []
    if not url.startswith("sqlite"):
        yield waits
        return
    stop = threading.Event()

    def write() -> None:
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=60, isolation_level=None)
        while not stop.wait(0.2):
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("COMMIT")
            waits.append(time.perf_counter() - start)
        conn.close()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield waits
    finally:
        stop.set()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--import-only", action="store_true", help="time the import and re-import, not the draw")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(machine())
    with database(args.db) as (url, instance):
        tmp = str(instance)
        app = registry_app(tmp, url)
        with app.app_context():
            session = get_session()
            root = units.add_unit(session, "33", "Tỉnh Hưng Yên", "province")
            communes = [units.add_unit(session, f"{11000 + u:05d}", f"Xã Số {u + 1}", "commune", root).code
                        for u in range(args.communes)]
            fields = [f.code for f in session.scalars(select(Field).order_by(Field.code))]
            session.commit()
        path = Path(tmp) / "frame.csv"
        made = time.perf_counter()
        bad = write_frame(path, args.rows, communes, fields)
        print(f"frame file: {args.rows:,} rows, {path.stat().st_size / 1e6:.0f} MB, {bad} bad rows, "
              f"written in {time.perf_counter() - made:.1f} s")
        env = os.environ | {"SURVEY_INSTANCE_PATH": tmp, "SURVEY_DATABASE_URL": url}
        for label in ("import", "re-import"):
            server = server_cpu(url)
            with other_writer(url) as waits:
                code, wall, cpu, rss = run_cli(["frame", "import", str(path), "--unit", "33", "--source", "bench"], env,
                                               Path(tmp) / f"{label}.log")
            summary = (Path(tmp) / f"{label}.log").read_text(encoding="utf-8").strip().splitlines()[-1]
            if server is not None:
                server = server_cpu(url) - server
            print(f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU"
                  + ("" if server is None else f" (+ {server:.1f} s CPU in the PostgreSQL server)")
                  + f", peak RSS {rss:.0f} MB, exit {code}, load average "
                  f"{os.getloadavg()[0]:.1f} (goal ≤ 60 s): {summary}"
                  + (f" Another writer (a citizen's submission) waited at most {max(waits):.2f} s "
                     f"over {len(waits)} writes." if waits else ""), flush=True)
        if args.import_only:
            return
        with app.app_context():
            session = get_session()
            stored = session.scalar(select(func.count()).select_from(FrameDossier))
            root = session.scalar(select(Unit).filter_by(code="33"))
            saved = design.save(session, design.Params(root, date(2026, 10, 1), date(2026, 12, 31), total=args.n), "bench")
            session.commit()
            start, cpu = time.perf_counter(), time.process_time()
            row = draws.draw(session, saved, "bench-quy4", "bench")
            session.commit()
            drawn, drawn_cpu = time.perf_counter() - start, time.process_time() - cpu
            strata = len(draws.strata_summary(session, row))
            start = time.perf_counter()
            check = draws.verify(session, row)
            verified = time.perf_counter() - start
            draw_id = row.id
            print(f"draw: {row.selected:,} of {row.frame_size:,} dossiers ({stored:,} in the frame) in {strata:,} "
                  f"unit × field strata, proportional: {drawn:.1f} s wall, {drawn_cpu:.1f} s CPU (goal ≤ 5 s); "
                  f"verify in process {verified:.1f} s: {check.message}")
        code, wall, cpu, rss = run_cli(["sample", "verify", str(draw_id)], env, Path(tmp) / "verify.log")
        print(f"flask sample verify {draw_id}: exit {code}, {wall:.1f} s wall (with app start), {cpu:.1f} s CPU, "
              f"peak RSS {rss:.0f} MB: {(Path(tmp) / 'verify.log').read_text(encoding='utf-8').strip()}")


if __name__ == "__main__":
    main()
