"""Shared set-up for the bench scripts: a fresh database of each kind, the machine's state."""
from __future__ import annotations

import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .pgcluster import PostgresCluster


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
