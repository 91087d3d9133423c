"""Shared set-up for the bench scripts: a fresh database of each kind, the machine's state."""
from __future__ import annotations

import os
import platform
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .pgcluster import PostgresCluster

STAFF_PASSWORD = "ba con mèo nhảy qua hàng rào"  # 12+ characters, not common
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@contextmanager
def database(kind: str) -> Iterator[tuple[str, Path]]:
    """(database URL, instance dir) of a new, empty database; PostgreSQL is a throwaway
    cluster with durable default settings (fsync on), like production."""
    root = Path(tempfile.mkdtemp(prefix=f"sipas-bench-{kind}-"))
    instance = root / "instance"
    instance.mkdir()
    try:
        if kind == "sqlite":
            yield f"sqlite:///{instance / 'survey.sqlite3'}", instance
        else:
            url = os.environ.get("SURVEY_BENCH_POSTGRES_URL")
            if url:
                yield url, instance
            else:
                cluster = PostgresCluster.find(fast=False)
                if cluster is None:
                    raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
                with cluster:
                    yield cluster.url(), instance
    finally:
        shutil.rmtree(root, ignore_errors=True)


def machine() -> str:
    load = os.getloadavg()
    return (f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average before the run {load[0]:.2f}")


def registry_app(tmp: str, database_url: str | None = None):
    """An app on a fresh schema with the bundled fields and procedures, for in-process benches."""
    from survey import create_app
    from survey.db import Base, engine, get_session
    from survey.registry import units

    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "PUBLIC_BASE_URL": "https://hailong.hungyen.gov.vn",
                      "DATABASE_URL": database_url or f"sqlite:///{tmp}/bench.sqlite3"})
    app.instance_path = tmp
    with app.app_context():
        Base.metadata.create_all(engine())
        session = get_session()
        units.load_fields(session)
        units.load_procedures(session)
        session.commit()
    return app


def demo_province(session) -> None:
    """On an empty database (inside its app context): the schema, every bundled questionnaire
    published, and the demo province's units and counters: what the response benches generate into."""
    from questionnaires.loader import bundled_paths, load_file
    from survey import catalog
    from survey.db import Base, engine
    from survey.ops import demo

    Base.metadata.create_all(engine())
    for definition in bundled_paths():
        catalog.publish(session, load_file(definition))
    demo.build_registry(session)


def province(session, communes: int, name: str = "Xã Số {n}"):
    """Tỉnh Hưng Yên (33) and `communes` communes under it (codes 11000, 11001, …; `name` formats
    n = 1, 2, …): the registry the sampling and poster benches stand on. (province, communes)"""
    from survey.registry import units

    root = units.add_unit(session, "33", "Tỉnh Hưng Yên", "province")
    return root, [units.add_unit(session, f"{11000 + u:05d}", name.format(n=u + 1), "commune", root) for u in range(communes)]


def counter_registry(session, count: int, per_unit: int = 10):
    """`count` counters, `per_unit` to a commune under province 33, each with the first three fields:
    what one print run of posters covers. The province."""
    from sqlalchemy import select

    from survey.models import Field
    from survey.registry import units

    field_rows = list(session.scalars(select(Field).order_by(Field.id).limit(3)))
    root, communes = province(session, (count + per_unit - 1) // per_unit, "Ủy ban nhân dân xã Số {n}")
    for u, unit in enumerate(communes):
        for c in range(min(per_unit, count - u * per_unit)):
            units.add_counter(session, unit, f"Q{c + 1:02d}", f"Bộ phận Một cửa – Quầy {c + 1}", "counter-quick", field_rows)
    return root


def frame(session, root, dossiers) -> None:
    """One frame import under `root` holding `dossiers` (FrameDossier column dicts without import_id),
    inserted in one executemany: a frame without reading a file, for the benches that time what follows."""
    from sqlalchemy import insert

    from survey.models import FrameDossier, FrameImport

    batch = FrameImport(unit_id=root.id, source="bench", filename="bench.csv", file_sha256="0" * 64)
    session.add(batch)
    session.flush()
    session.execute(insert(FrameDossier), [{**d, "import_id": batch.id} for d in dossiers])


def staff_account(session, login: str, role: str, unit) -> None:
    """An account with `role` on `unit` and STAFF_PASSWORD set (no forced first change): who a
    bench's test client logs in as to time a staff page."""
    from survey.staff import accounts, scope

    user, _ = accounts.create_user(session, login, login)
    user.password_hash, user.must_change_password = accounts.hash_password(STAFF_PASSWORD), False
    scope.grant(session, user, role, unit, None)


def logged_in(app, login: str):
    """A test client logged in as `login` (made by staff_account)."""
    client = app.test_client()
    token = CSRF.search(client.get("/staff/login").get_data(as_text=True)).group(1)
    client.post("/staff/login", data={"login": login, "password": STAFF_PASSWORD, "csrf_token": token})
    return client
