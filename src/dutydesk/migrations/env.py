"""Alembic environment: migrations run against DUTYDESK_DATABASE_URL or the given URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from dutydesk import models  # noqa: F401 - registers every table
from dutydesk.config import get_settings
from dutydesk.db import Base, make_engine

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `dutydesk migrate`")
main()
