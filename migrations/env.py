"""Alembic environment: run by `flask --app wsgi db upgrade` (connection passed in, one
transaction, see survey.db.migration_connection) or by plain `alembic` with
SURVEY_DATABASE_URL set."""
from __future__ import annotations

import os
from typing import Any

from alembic import context

import survey.models  # noqa: F401  (registers every table on Base.metadata)
from survey.db import Base, UTCDateTime, make_engine, migration_connection

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write UTCDateTime as its plain DDL type, so migrations never import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
        compare_type=True,
        render_item=render_item,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = os.environ.get("SURVEY_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    with migration_connection(engine) as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
