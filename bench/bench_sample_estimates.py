"""Time the weighted estimates of one draw (survey.sampling.estimates.for_draw), as the draw page,
the readers' estimates page, the dashboard block and `sample estimate` compute them.

Builds a throwaway SQLite database: 20 communes × 2 fields = 40 strata, a frame of 30,000 dossiers,
a draw of `--count` people, `--rate` of them answered with a paper form keyed in (raw answers, as
the module reads them). Prints the time of a cold and a warm run and the overall estimate.
Run:  python bench/bench_sample_estimates.py [--count 5000] [--rate 0.6]   (not part of the test suite)
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import frame, machine, province, registry_app
from questionnaires.loader import load_file
from survey import catalog
from survey.db import get_session
from survey.models import (
    Answer,
    Field,
    Response,
    SampleMember,
)
from survey.sampling import design, draws, estimates
from survey.sampling.tracking import sample_tags


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=0.6)
    args = parser.parse_args()
    print(machine())
    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as tmp:
        app = registry_app(tmp)
        with app.app_context():
            session = get_session()
            version, _ = catalog.publish(session, load_file("questionnaires/counter-quick.yaml"))
            fields = [session.scalar(select(Field).filter_by(code=c)) for c in ("dat-dai", "tu-phap-ho-tich")]
            root, communes = province(session, 20)
            frame(session, root, ({"dossier_code": f"B-{i:06d}", "unit_id": communes[i % 20].id, "field_id": fields[i % 3 % 2].id,
                                   "completed_on": date(2026, 10, 15)} for i in range(30000)))
            saved = design.save(session, design.Params(root, date(2026, 10, 1), date(2026, 12, 31), total=args.count), "b")
            row = draws.draw(session, saved, "bench")
            members = session.scalars(select(SampleMember).where(SampleMember.draw_id == row.id,
                                                                 SampleMember.selected.is_(True))).all()
            for m in members:
                if rng.random() < args.rate:
                    m.status = "paper_returned"
                    r = Response(version_id=version.id, channel="paper", unit_id=m.dossier.unit_id,
                                 field_id=m.dossier.field_id, **sample_tags(m))
                    r.answers.append(Answer(item_key="overall", code=rng.choice([1, 2, 3, 4, 4, 5, 5, 5])))
                    session.add(r)
            session.commit()
            times = []
            for _run in range(2):
                start = time.perf_counter()
                est = estimates.for_draw(session, row)
                times.append(time.perf_counter() - start)
                session.rollback()
            o = est.overall
            answered = sum(s.respondents for s in est.strata)
        print(f"{len(est.strata)} strata, {len(members)} fielded, {answered} responses: estimates in "
              f"{times[0]:.2f} s cold, {times[1]:.2f} s warm; overall {o.pct:.1f}% "
              f"[{o.ci_low:.1f}, {o.ci_high:.1f}] deff {o.deff:.2f} n_eff {o.n_eff:.0f}; {len(est.fields)} fields")


if __name__ == "__main__":
    main()
