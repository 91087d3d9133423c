"""Alembic environment: run by `flask --app wsgi db upgrade` (connection passed in) or by
plain `alembic` with SURVEY_DATABASE_URL set."""
from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

import survey.models  # noqa: F401  (registers every table on Base.metadata)
from survey.db import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = os.environ.get("SURVEY_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    with create_engine(url).connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
