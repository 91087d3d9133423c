"""Time the standard report on synthetic counts equivalent to 100,000 and 1,000,000 responses.

60 communes in 6 districts of one province × 12 fields × 12 months of 2025 × 23 items
(22 SIPAS criteria + overall) × 6 codes. The counts frame saturates at about 1.2 M rows, so
the report's cost should barely move between the two sizes: it follows cells, not responses.
Run:  python bench/bench_report.py   (not part of the test suite)
"""
from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.report import standard_report  # noqa: E402
from analysis.targets import load_targets  # noqa: E402
from questionnaires.loader import load_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ["dat-dai", "xay-dung", "dau-tu", "tu-phap-ho-tich", "chung-thuc", "lao-dong-tbxh", "kinh-doanh",
          "tai-nguyen-moi-truong", "giao-thong", "nong-nghiep", "cu-tru", "cong-thuong"]


def unit_tree() -> pd.DataFrame:
    rows = [("tinh", None, "Tỉnh", "province")]
    rows += [(f"huyen-{d}", "tinh", f"Huyện {d}", "district") for d in range(6)]
    rows += [(f"xa-{d}-{c}", f"huyen-{d}", f"Xã {d}-{c}", "commune") for d in range(6) for c in range(10)]
    return pd.DataFrame(rows, columns=["unit", "parent", "name", "kind"])


def synthetic_counts(responses: int, items: list[str], seed: int = 7) -> pd.DataFrame:
    """Counts frame: each unit×field×month cell gets its share of responses, spread over codes."""
    rng = np.random.default_rng(seed)
    units = [u for u in unit_tree()["unit"] if u.startswith("xa-")]
    months = pd.period_range("2025-01", "2025-12", freq="M")
    cells = pd.MultiIndex.from_product([units, FIELDS, months], names=["unit", "field", "period"]).to_frame(index=False)
    per_cell = rng.multinomial(responses, np.full(len(cells), 1 / len(cells)))
    quality = rng.uniform(0.80, 0.97, len(units))[cells["unit"].map({u: i for i, u in enumerate(units)}).to_numpy()]
    # codes 0..5: no opinion, then 1..5 shaped so that the satisfied share is about `quality`
    probs = np.column_stack([np.full_like(quality, 0.03), *(((1 - quality) * s) for s in (0.15, 0.25, 0.60)),
                             quality * 0.55, quality * 0.45])
    probs /= probs.sum(axis=1, keepdims=True)
    frames = []
    for item in items:
        n = rng.multinomial(per_cell, probs)  # one draw per cell: (cells, 6)
        frames.append(cells.assign(item=item).loc[np.repeat(np.arange(len(cells)), 6)].assign(
            code=np.tile(np.arange(6), len(cells)), n=n.ravel()))
    counts = pd.concat(frames, ignore_index=True)
    counts = counts[counts["n"] > 0].reset_index(drop=True)
    return counts.assign(source="feedback", flagged=False, flag_reason=None)


def run(responses: int) -> None:
    """Time one report (best of 3, no tracing), then measure its peak memory in a traced run."""
    q = load_file(ROOT / "questionnaires" / "sipas-2017.yaml")
    items = [row["item"] for row in q.structure()] + [q.rollup.overall_item]
    counts = synthetic_counts(responses, items)
    tree, targets = unit_tree(), load_targets()
    report = lambda: standard_report(counts, q.structure(), q.rollup, tree=tree, targets=targets, kind=q.kind)  # noqa: E731
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = report()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    report()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{responses:>9,} responses | counts rows {len(counts):>9,} | figure rows {len(result.figures):>7,} | "
          f"verdict rows {len(result.verdicts):>6,} | best {min(times):5.2f} s (worst {max(times):5.2f} s) | "
          f"peak {peak / 2**20:6.1f} MiB allocated during the report")


if __name__ == "__main__":
    for size in (100_000, 1_000_000):
        run(size)
