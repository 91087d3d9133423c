"""Time printing 1,000 A6 counter posters into one PDF (goal: ≤ 60 s on a 2-core machine).

Builds a throwaway SQLite registry (100 communes × 10 counters, 3 fields each), then runs the
same code as `flask --app wsgi qr posters`, with its progress bar, and checks a page decodes.
Run:  python bench/bench_posters.py [--count 1000] [--size a6]   (not part of the test suite)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import click
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import registry_app  # noqa: E402
from survey.db import get_session  # noqa: E402
from survey.models import Field, Unit  # noqa: E402
from survey.qr import posters
from survey.registry import units  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", choices=sorted(posters.SIZES), default="a6")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = registry_app(tmp)
        with app.app_context():
            session = get_session()
            field_rows = list(session.scalars(select(Field).order_by(Field.id).limit(3)))
            root = units.add_unit(session, "33", "Tỉnh Hưng Yên", "province")
            per_unit = 10
            for u in range((args.count + per_unit - 1) // per_unit):
                unit = units.add_unit(session, f"{11000 + u:05d}", f"Ủy ban nhân dân xã Số {u + 1}", "commune", root)
                for c in range(min(per_unit, args.count - u * per_unit)):
                    units.add_counter(session, unit, f"Q{c + 1:02d}", f"Bộ phận Một cửa – Quầy {c + 1}",
                                         "counter-quick", field_rows)
            session.commit()
            root = session.get(Unit, root.id)
            out = Path(tmp) / "posters.pdf"
            start = time.perf_counter()
            items = [posters.poster_for(c) for c in posters.counters_under(session, root)]
            with click.progressbar(length=len(items), label=f"Laying out {len(items)} {args.size.upper()} posters") as bar:
                pages = posters.write_pdf(items, args.size, out, progress=bar.update)
            elapsed = time.perf_counter() - start
            size_mb = out.stat().st_size / 1e6
        print(f"{pages} {args.size.upper()} posters → one PDF of {size_mb:.1f} MB in {elapsed:.1f} s "
              f"({pages / elapsed:.0f} pages/s; goal ≤ 60 s for 1,000)")


if __name__ == "__main__":
    main()
