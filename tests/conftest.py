"""Test fixtures: one migrated database per run (SQLite or PostgreSQL), a rolled-back
transaction per test, the named cast, and an API client."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from dutydesk.app import create_app
from dutydesk.config import Settings
from dutydesk.db import Database, make_engine
from dutydesk.migrate import upgrade
from dutydesk.people.secrets import use_cheapest_hashing
from tests.factories import make_cast

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
use_cheapest_hashing()  # production parameters cost ~0.1-0.5 s per hash


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", default="sqlite", choices=("sqlite", "postgresql"), help="backend")


@dataclass
class Backend:
    """Makes the databases of a run. The first one is migrated into a template; every
    database after that is a copy of it (a file copy on SQLite, CREATE DATABASE … TEMPLATE
    on PostgreSQL), ten times faster than migrating each one."""

    name: str
    tmp: Path
    template: str | None = None  # the URL of the migrated template, once made

    def create(self) -> tuple[str, Engine]:
        """A new, empty, migrated database; returns its URL and engine."""
        if self.template is None:
            self.template = self._migrated_template()
        if self.name == "sqlite":
            path = self.tmp / f"dd-{secrets.token_hex(4)}.db"
            shutil.copyfile(self._sqlite_path(self.template), path)
            url = f"sqlite:///{path}"
        else:
            template = make_url(self.template)
            url = self._new_pg_database(f'TEMPLATE "{template.database}"')
        return url, make_engine(url, sqlite_synchronous="NORMAL")

    def _migrated_template(self) -> str:
        if self.name == "sqlite":
            url = f"sqlite:///{self.tmp / 'template.db'}"
        else:
            url = self._new_pg_database()
        engine = make_engine(url, sqlite_synchronous="NORMAL")
        upgrade(engine)
        if self.name == "sqlite":  # everything into the main file, which is what is copied
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()  # PostgreSQL copies a template only while no one is connected
        return url

    @staticmethod
    def _sqlite_path(url: str) -> Path:
        return Path(url.removeprefix("sqlite:///"))

    @staticmethod
    def _new_pg_database(options: str = "") -> str:
        admin_url = make_url(os.environ.get("DUTYDESK_TEST_PG_URL", DEFAULT_PG))
        name = f"dutydesk_t_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" {options}'))
        admin.dispose()
        return admin_url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str, engine: Engine | None) -> None:
        if engine is not None:
            engine.dispose()
        if self.name == "postgresql":
            parsed = make_url(url)
            admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            admin.dispose()

    def close(self) -> None:
        """Drops the template, at the end of the run."""
        if self.template is not None:
            self.drop(self.template, None)
            self.template = None


@pytest.fixture(scope="session")
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    made = Backend(request.config.getoption("--db"), tmp_path_factory.mktemp("db"))
    yield made
    made.close()


@pytest.fixture(scope="session")
def engine(backend: Backend) -> Iterator[Engine]:
    url, engine = backend.create()
    yield engine
    backend.drop(url, engine)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url="sqlite://", storage_dir=tmp_path / "files", require_if_match=True)


@pytest.fixture
def db(engine: Engine, connection: Connection) -> Database:
    return Database(engine, bind=connection)


@pytest.fixture
def session(db: Database) -> Iterator[object]:
    with db.unit_of_work() as s:
        yield s


@pytest.fixture
def fresh_db(backend: Backend) -> Iterator[Database]:
    """A database of its own that really commits (concurrency and CLI tests)."""
    url, engine = backend.create()
    yield Database(engine)
    backend.drop(url, engine)


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    return create_app(settings, db)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def cast(db: Database):  # type: ignore[no-untyped-def]
    return make_cast(db)
