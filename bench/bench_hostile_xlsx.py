"""Peak memory and time of `flask responses import` on hostile workbooks (issue #9, item 8).

    python -m bench.bench_hostile_xlsx [--tree PATH]

Builds small .xlsx files that unpack to a lot (many cells, a shared-strings bomb, an absurd
declared range), imports each into a fresh SQLite database in a fresh process, and prints the
child's peak RSS (os.wait4) and wall time. `--tree` runs another checkout of the code (e.g. an
older commit from `git archive`) for a before/after comparison; the files are the same.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["form_id", "access_1", "access_2", "access_3", "overall"]


def _workbook(path: Path, rows: list[list]) -> dict[str, bytes]:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    with zipfile.ZipFile(path) as src:
        return {i.filename: src.read(i) for i in src.infolist()}


def _save(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for name, data in parts.items():
            out.writestr(name, data)
    return path


def hostile_files(folder: Path) -> dict[str, Path]:
    files = {"a valid two-row workbook (reference)": folder / "base.xlsx"}
    parts = _workbook(folder / "base.xlsx", [HEADER, ["F1", 4, 4, 4, 5]])
    sheet = parts["xl/worksheets/sheet1.xml"]
    # 1. many cells: rows without r= attributes compress about 1000:1
    row = b"<row>" + b"<c><v>4</v></c>" * 40 + b"</row>"
    files["cells (above the unpacked cap)"] = _save(folder / "cells.xlsx", {
        **parts, "xl/worksheets/sheet1.xml": sheet.replace(b"</sheetData>", row * 900_000 + b"</sheetData>")})
    files["cells (under the size caps, 110k rows)"] = _save(folder / "cells_small.xlsx", {
        **parts, "xl/worksheets/sheet1.xml": sheet.replace(b"</sheetData>", row * 110_000 + b"</sheetData>")})
    # 2. shared strings: a million tiny strings
    files["shared strings"] = _save(folder / "strings.xlsx", {
        **parts, "xl/sharedStrings.xml": b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + b"<si><t>x</t></si>" * 30_000_000 + b"</sst>"})
    # 3. an absurd declared range over two real rows
    files["declared A1:XFD1048576"] = _save(folder / "dimension.xlsx", {
        **parts, "xl/worksheets/sheet1.xml": sheet.replace(b'<dimension ref="A1:E2"/>', b'<dimension ref="A1:XFD1048576"/>')})
    return files


def _flask(tree: Path, env: dict[str, str], *args: str, timeout: float = 600) -> tuple[int, float, int, str]:
    """(exit status, seconds, peak RSS in MB, last output line) of one flask command in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=tree, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    output = proc.stdout.read().decode(errors="replace").strip().splitlines()
    proc.stdout.close()
    return os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss // 1024, (output or [""])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose code runs the import")
    parser.add_argument("--timeout", type=float, default=300, help="seconds before an import is killed")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        for name, path in hostile_files(args.build).items():
            print(f"{name}\t{path}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # Built in a child: a forked process starts with its parent's peak RSS on Linux, so this
        # process stays small to measure its children.
        listing = subprocess.run([sys.executable, "-m", "bench.bench_hostile_xlsx", "--build", str(folder)], cwd=ROOT,
                                 check=True, capture_output=True, text=True).stdout
        files = dict(line.split("\t") for line in listing.splitlines())
        files = {name: Path(path) for name, path in files.items()}
        for name, path in files.items():
            database = folder / f"{path.stem}.sqlite3"
            env = {**os.environ, "SURVEY_DATABASE_URL": f"sqlite:///{database}", "SURVEY_SECRET_KEY": "bench-" + "k" * 40,
                   "SURVEY_INSTANCE_PATH": str(folder / "instance"), "PYTHONPATH": str(args.tree)}
            for setup in (("db", "upgrade"), ("questionnaire", "publish")):
                code, _s, _rss, last = _flask(args.tree, env, *setup)
                if code:
                    raise SystemExit(f"{' '.join(setup)} failed: {last}")
            code, seconds, rss, last = _flask(args.tree, env, "responses", "import", str(path),
                                              "--questionnaire", "sipas-2017", "--dry-run", timeout=args.timeout)
            print(f"{name:36} {path.stat().st_size / 1024:7,.0f} KB  exit {code:3}  {seconds:6.1f} s  "
                  f"peak RSS {rss:6,} MB  {last[:110]}", flush=True)


if __name__ == "__main__":
    main()
