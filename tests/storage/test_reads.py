"""The decision path's reads give what SQLAlchemy gives, and fail as SQLAlchemy fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError

from hub.db.engine import make_read_engine
from hub.db.reads import fetch_rows
from hub.disclosure import log
from hub.disclosure.models import LogEntry
from hub.runtime import Hub
from hub.vocab import LogEvent

_ENTRY = select(LogEntry.seq, LogEntry.recorded_at, LogEntry.subject, LogEntry.event).where(
    LogEntry.seq >= bindparam("since")
)


def test_rows_match_sqlalchemys_on_either_database(hub: Hub) -> None:
    for i in range(3):
        hub.log.record(log.Pending(LogEvent.DISCLOSURE_DECIDED, {"i": i}, subject=f"s{i}"))
    with hub.sessions() as session:
        expected = [tuple(row) for row in session.execute(_ENTRY, {"since": 1}).all()]
    engine = make_read_engine(hub.engine)
    try:
        with engine.connect() as connection:
            got = [tuple(row) for row in fetch_rows(connection, _ENTRY, {"since": 1})]
    finally:
        if engine is not hub.engine:
            engine.dispose()
    assert got == expected and len(got) == 2
    assert all(row[1].utcoffset() == timedelta(0) for row in got)  # read back as UTC


def test_a_connection_lost_under_a_read_is_sqlalchemys_error_and_is_dropped(hub: Hub) -> None:
    """The hub answers 503 to SQLAlchemy's OperationalError and the pool replaces a
    connection SQLAlchemy marked invalid: the driver's own error would have been a 500."""
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("needs HUB_TEST_DATABASE_URL (PostgreSQL)")
    engine = make_read_engine(hub.engine)
    try:
        with engine.connect() as connection:
            fetch_rows(connection, _ENTRY, {"since": 0})
            backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with hub.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            with pytest.raises(OperationalError) as lost:
                fetch_rows(connection, _ENTRY, {"since": 0})
            assert lost.value.connection_invalidated
            assert connection.invalidated
        with engine.connect() as fresh:  # the pool connects afresh
            assert fetch_rows(fresh, _ENTRY, {"since": 0}) == []
    finally:
        engine.dispose()
