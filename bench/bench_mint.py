"""Per-dossier mint API throughput, in-process through the Flask test client (no network).

Each request authenticates the unit's API key, validates the body, inserts the dossier's row,
signs the link and renders its QR as SVG and PNG: what a one-stop server does per receipt.
Also times `?format=svg` (the image alone) and the repeat of an already minted dossier.
Run:  python bench/bench_mint.py [--requests 2000] [--database-url URL]   (not part of the test suite)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import registry_app  # noqa: E402
from survey.db import get_session  # noqa: E402
from survey.qr import credentials
from survey.registry import units  # noqa: E402


def run(client, key: str, n: int, prefix: str, query: str = "") -> str:
    """Requests per second (wall clock) and CPU milliseconds per request, which a busy machine does not skew."""
    today = datetime.now(UTC).date().isoformat()
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        resp = client.post(f"/api/v1/dossier-links{query}", headers={"Authorization": f"Bearer {key}"},
                           json={"dossier_code": f"{prefix}-{i:07d}", "procedure": "ht-khai-sinh", "completed_on": today})
        assert resp.status_code in (200, 201), resp.get_data(as_text=True)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return f"{n / wall:6.0f} requests/s  ({cpu / n * 1000:5.1f} ms CPU each)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database-url", default=None, help="default: a throwaway SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        app = registry_app(tmp, url)
        with app.app_context():
            session = get_session()
            unit = units.add_unit(session, "11953", "Phường Phố Hiến", "ward")
            _cred, key = credentials.issue(session, unit)
            session.commit()
        client = app.test_client()
        n = args.requests
        full = run(client, key, n, "JSON")
        svg = run(client, key, n, "SVG", "?format=svg")
        again = run(client, key, n, "JSON")
        print(f"mint API, in-process, {n} requests each, {url.split(':')[0]}:")
        print(f"  new dossier, JSON with QR as SVG + PNG: {full}")
        print(f"  new dossier, ?format=svg only:          {svg}")
        print(f"  already minted (idempotent repeat):     {again}")


if __name__ == "__main__":
    main()
