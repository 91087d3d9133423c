"""Time a stratified draw from a 1,000,000-row frame, its verification and `flask sample verify`
(issue #15 proof: a stratified draw from it in ≤ 5 s).

Builds a SQLite database once (a province, `--communes` communes, the bundled fields, `--rows` frame
dossiers with names, addresses and phones written straight into frame_dossiers with executemany, and
a saved design: unit × field strata, proportional, n = `--n`); `--keep DIR` keeps it in DIR and
reuses it on the next run. Each measurement then runs in a fresh process and reports wall time, CPU
time (user + system: the figure that compares on a shared machine) and peak RSS:
`draws.draw` (as `sample draw` does), `draws.verify` of that draw, and `flask --app wsgi sample
verify` (app start included). The load average is printed with each figure: wall time on a busy
machine is several times the CPU time.
Run:  python bench/bench_draw.py [--rows 1000000] [--communes 100] [--n 5000] [--keep /tmp/D_bench]
(not part of the test suite)
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi")
GIVEN = ("Văn An", "Thị Bình", "Minh Châu", "Thị Dung", "Quốc Hùng", "Thị Hồng Nhung", "Đức Long", "Thu Trang")
Q4 = (date(2026, 10, 1), date(2026, 12, 31))


def build(path: Path, rows: int, communes: int, n: int) -> int:
    """The database at `path`: registry, frame and a saved design; returns the design id."""
    from sqlalchemy import select

    from bench.common import registry_app
    from survey.db import get_session
    from survey.models import Field, FrameImport, Unit
    from survey.registry import units
    from survey.sampling import design

    app = registry_app(str(path.parent), f"sqlite:///{path}")
    with app.app_context():
        session = get_session()
        root = units.add_unit(session, "33", "Tỉnh Hưng Yên", "province")
        for u in range(communes):
            units.add_unit(session, f"{11000 + u:05d}", f"Xã Số {u + 1}", "commune", root)
        batch = FrameImport(unit_id=root.id, source="bench", filename="bench.csv", file_sha256="0" * 64)
        session.add(batch)
        session.commit()
        unit_ids = list(session.scalars(select(Unit.id).where(Unit.code != "33").order_by(Unit.code)))
        field_ids = list(session.scalars(select(Field.id).order_by(Field.code)))
        batch_id = batch.id
    con = sqlite3.connect(path)
    rows_of = ((i, f"000.00.{i % communes:02d}.H33-{261001 + i % 92}-{i:07d}", unit_ids[i % communes],
                field_ids[(i // communes) % len(field_ids)], (Q4[0] + timedelta(days=i % 92)).isoformat(),
                "Cấp giấy chứng nhận quyền sử dụng đất", f"{SURNAMES[i % 8]} {GIVEN[(i // 8) % 8]}",
                f"Số {i % 300 + 1}, thôn Đông", f"09{i % 100_000_000:08d}", "trực tuyến", batch_id)
               for i in range(1, rows + 1))
    with con:
        con.executemany("INSERT INTO frame_dossiers (id, dossier_code, unit_id, field_id, completed_on, procedure, name,"
                        " address, phone, channel, import_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows_of)
    con.execute("ANALYZE")
    con.close()
    with app.app_context():
        session = get_session()
        root = session.scalar(select(Unit).filter_by(code="33"))
        saved = design.save(session, design.Params(root, *Q4, total=n), "bench")
        session.commit()
        return saved.id


def child(action: str, url: str, target: int) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    from survey import create_app
    from survey.db import get_session
    from survey.models import SampleDesign, SampleDraw
    from survey.sampling import draws

    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url})
    with app.app_context():
        session = get_session()
        start, cpu = time.perf_counter(), time.process_time()
        if action == "draw":
            row = draws.draw(session, session.get(SampleDesign, target), "bench-quy4", "bench")
            session.commit()
            out = {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu, "draw": row.id,
                   "selected": row.selected, "frame_size": row.frame_size, "strata": len(draws.strata_summary(session, row))}
        else:
            check = draws.verify(session, session.get(SampleDraw, target))
            out = {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu, "matches": check.matches,
                   "message": check.message}
    print(json.dumps(out, ensure_ascii=False))


def run(args: list[str], env: dict[str, str]) -> tuple[str, float, float, float, float]:
    """(stdout, wall s, CPU s, peak RSS MB, load average) of a child process."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    child_ = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    out = child_.stdout.read()
    _pid, status, usage = os.wait4(child_.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{args} failed")
    return out.strip(), time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--communes", type=int, default=100)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="keep the database in this directory and reuse it")
    parser.add_argument("--child", nargs=3, metavar=("ACTION", "URL", "ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))
    from bench.common import machine

    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"draw-{args.rows}-{args.communes}-{args.n}.sqlite3"
        meta = path.with_suffix(".json")
        if not (path.exists() and meta.exists()):
            path.unlink(missing_ok=True)
            start = time.perf_counter()
            meta.write_text(json.dumps({"design": build(path, args.rows, args.communes, args.n)}))
            print(f"built {path} ({args.rows:,} frame rows) in {time.perf_counter() - start:.0f} s")
        design_id = json.loads(meta.read_text())["design"]
        url = f"sqlite:///{path}"
        env = os.environ | {"SURVEY_INSTANCE_PATH": str(folder), "SURVEY_DATABASE_URL": url}
        me = [sys.executable, str(Path(__file__).resolve()), "--child"]
        out, wall, cpu, rss, load = run([*me, "draw", url, str(design_id)], env)
        drawn = json.loads(out)
        print(f"draw: {drawn['selected']:,} of {drawn['frame_size']:,} dossiers in {drawn['strata']:,} strata: "
              f"{drawn['cpu']:.2f} s CPU, {drawn['wall']:.2f} s wall in the call (goal ≤ 5 s); process {cpu:.1f} s CPU, "
              f"{wall:.1f} s wall, peak RSS {rss:.0f} MB, load {load:.1f}")
        out, wall, cpu, rss, load = run([*me, "verify", url, str(drawn["draw"])], env)
        checked = json.loads(out)
        print(f"draws.verify: {checked['cpu']:.2f} s CPU, {checked['wall']:.2f} s wall in the call; process {cpu:.1f} s "
              f"CPU, {wall:.1f} s wall, peak RSS {rss:.0f} MB, load {load:.1f}: {checked['message']}")
        out, wall, cpu, rss, load = run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "sample", "verify",
                                         str(drawn["draw"])], env)
        print(f"flask sample verify {drawn['draw']}: {cpu:.1f} s CPU, {wall:.1f} s wall (app start included), "
              f"peak RSS {rss:.0f} MB, load {load:.1f}: {out}")


if __name__ == "__main__":
    main()
