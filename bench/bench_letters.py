"""Time printing invitation letters for a draw into one PDF (goal: 10,000 letters ≤ 60 s).

Builds a throwaway SQLite database (a province, 20 communes with API keys, a frame of
`--count` × 1.5 dossiers), draws exactly `--count` people, then runs the same code as
`flask --app wsgi sample letters` (minting each person's link, laying the letter out once and
stamping each person into it, with a progress bar, writing one PDF) and decodes the QR code of the first and last page.
Run:  python bench/bench_letters.py [--count 10000] [--size A4|A5]   (not part of the test suite)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import click
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import frame, machine, province, registry_app
from survey.db import get_session
from survey.models import Field
from survey.qr import credentials
from survey.sampling import design, draws, letters


def decode_pages(path: Path, indexes: list[int]) -> list[list[str]]:
    import pypdfium2 as pdfium
    from pyzbar.pyzbar import decode

    pdf = pdfium.PdfDocument(str(path))
    try:
        return [[d.data.decode() for d in decode(pdf[i].render(scale=2).to_pil().convert("L"))] for i in indexes]
    finally:
        pdf.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--size", choices=sorted(letters.SIZES), default="A4")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        app = registry_app(tmp)
        with app.app_context():
            session = get_session()
            fld = session.scalar(select(Field).filter_by(code="dat-dai"))
            root, communes = province(session, 20)
            for c in communes:
                credentials.issue(session, c)
            frame(session, root, (
                {"dossier_code": f"000.00.33.H33-261015-{i:06d}", "unit_id": communes[i % 20].id, "field_id": fld.id,
                 "completed_on": date(2026, 10, 15), "name": f"Nguyễn Thị Hồng Nhung {i}",
                 "address": f"Số {i} đường Nguyễn Văn Linh, thôn Đông, xã Số {i % 20 + 1}", "phone": "0912345678"}
                for i in range(round(args.count * 1.5))))
            saved = design.save(session, design.Params(root, date(2026, 10, 1), date(2026, 12, 31), total=args.count), "bench")
            row = draws.draw(session, saved, "bench")
            session.commit()
            out = Path(tmp) / "letters.pdf"
            start, cpu = time.perf_counter(), time.process_time()
            made = letters.batch(session, row)
            session.commit()
            minted = time.perf_counter() - start
            with click.progressbar(length=len(made.letters), label=f"Stamping {len(made.letters)} {args.size} letters") as bar:
                pages = letters.write_pdf(made, args.size, out, progress=bar.update)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            size_mb = out.stat().st_size / 1e6
            first, last = decode_pages(out, [0, pages - 1])
        print(f"{pages} {args.size} letters → one PDF of {size_mb:.1f} MB in {elapsed:.1f} s "
              f"(CPU time of this process {cpu:.1f} s; links minted in {minted:.1f} s; {pages / elapsed:.0f} pages/s; "
              f"goal ≤ 60 s for 10,000); "
              f"first and last page decode: {first} {last}")


if __name__ == "__main__":
    main()
