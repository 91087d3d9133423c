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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import counter_registry, registry_app
from survey.db import get_session
from survey.models import Unit
from survey.qr import posters


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", choices=sorted(posters.SIZES), default="a6")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = registry_app(tmp)
        with app.app_context():
            session = get_session()
            root = counter_registry(session, args.count)
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
