"""deploy/postgres-roles.sql: the hub's role can append to the log, never change it.

Runs against the PostgreSQL server of HUB_TEST_DATABASE_URL, in a throwaway database with a
throwaway role, both dropped afterwards. The role is taken with SET ROLE, so no password is
needed and the superuser's rights are really shed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from hub.disclosure import log
from hub.vocab import LogEvent
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs HUB_TEST_DATABASE_URL (PostgreSQL)")

ROLES_SQL = Path(__file__).resolve().parents[2] / "deploy" / "postgres-roles.sql"


@pytest.fixture
def as_app_role(database_url: str) -> Iterator[Connection]:
    role = f"ehh_app_{uuid.uuid4().hex[:10]}"
    script = ROLES_SQL.read_text().replace("hub_app", role)
    owner = create_engine(database_url)
    with owner.begin() as conn:
        conn.exec_driver_sql(script)
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")  # SET ROLE sticks
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'SET ROLE "{role}"')
            yield conn
    finally:
        engine.dispose()
        owner.dispose()
        admin = create_engine(
            make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            name = make_url(database_url).database
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_the_app_role_appends_but_cannot_update_delete_or_truncate_the_log(
    as_app_role: Connection,
) -> None:
    conn = as_app_role
    with Session(bind=conn) as session:
        log.append(session, event=LogEvent.DISCLOSURE_DECIDED, body={"test": True})
        session.commit()
    assert conn.execute(text("SELECT count(*) FROM disclosure_log")).scalar_one() == 1

    for statement in (
        "UPDATE disclosure_log SET outcome = 'permit'",
        "DELETE FROM disclosure_log",
        "TRUNCATE disclosure_log",
        "DELETE FROM disclosure_log_head",
        "ALTER TABLE disclosure_log DISABLE TRIGGER ALL",
        "DROP TRIGGER disclosure_log_no_change ON disclosure_log",
    ):
        with pytest.raises(ProgrammingError, match=r"permission denied|must be owner"):
            conn.exec_driver_sql(statement)
    assert conn.execute(text("SELECT current_user")).scalar_one().startswith("ehh_app_")
    assert conn.execute(text("SELECT count(*) FROM disclosure_log")).scalar_one() == 1


def test_the_app_role_can_still_write_live_data(as_app_role: Connection) -> None:
    conn = as_app_role
    conn.exec_driver_sql("INSERT INTO agency (code, name, kind) VALUES ('X', 'Agency X', 'other')")
    conn.exec_driver_sql("UPDATE agency SET name = 'Agency Y' WHERE code = 'X'")
    conn.exec_driver_sql("DELETE FROM agency WHERE code = 'X'")
