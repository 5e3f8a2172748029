"""Fixtures: a fresh, migrated database for every test, on SQLite or on PostgreSQL.

Set HUB_TEST_DATABASE_URL to a PostgreSQL server URL to run the storage tests there; each
test then gets its own database cloned from a migrated template. Without it, each test gets
its own SQLite file copied from a migrated template file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub.crypto.keys import Keyring
from hub.db.migrate import upgrade
from hub.runtime import Hub
from hub.settings import Settings

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL")
PUBLIC_URL = "http://127.0.0.1:8000"


def pytest_report_header() -> str:
    return f"hub test database: {'PostgreSQL' if PG_URL else 'SQLite'}"


def _admin_engine(url: str):  # type: ignore[no-untyped-def]
    admin = make_url(url).set(database="postgres")
    return create_engine(admin, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if PG_URL:
        name = f"ehh_template_{uuid.uuid4().hex[:8]}"
        admin = _admin_engine(PG_URL)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        upgrade(f"sqlite:///{path}")
        yield str(path)


@pytest.fixture
def database_url(template_database: str, tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        name = f"ehh_t_{uuid.uuid4().hex[:12]}"
        admin = _admin_engine(PG_URL)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path / "hub.db"
        shutil.copy(template_database, path)
        yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # rate limits have their own tests; elsewhere a fast machine must not trip them
    return Settings(
        data_dir=tmp_path, database_url=database_url, public_url=PUBLIC_URL, rate_limit=""
    )


@pytest.fixture
def hub(settings: Settings, keyring: Keyring) -> Iterator[Hub]:
    running = Hub.start(settings, keyring=keyring)
    yield running
    running.close()
