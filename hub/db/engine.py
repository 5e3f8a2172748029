"""Engines and sessions for SQLite (default) and PostgreSQL (``HUB_DATABASE_URL``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub.settings import Settings

DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
"""What SQLAlchemy raises when the database cannot be reached or a connection to it broke
(InterfaceError: the driver found the connection already closed). Answered 503, not 500."""


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """Create an engine with each database's durability and locking settings (``read_only``:
    for an engine that never writes; on SQLite its transactions then begin deferred)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine, begin="BEGIN" if read_only else "BEGIN IMMEDIATE")
        return engine
    # No ping before each checkout: it costs every request a round trip. A connection the
    # server dropped fails its first statement instead; SQLAlchemy then recognises the
    # disconnect and empties the pool, that one request is answered 503, and the next
    # request connects afresh (tests/storage/test_reconnect.py).
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, *, begin: str) -> None:
    """WAL for concurrent readers; BEGIN IMMEDIATE so that two writers never interleave.

    pysqlite's own transaction handling begins lazily and cannot take the write lock up
    front, so the hub switches it off and emits BEGIN itself (SQLAlchemy's documented
    recipe for SQLite). An engine that only reads begins deferred: in WAL a reader neither
    waits for the writer nor holds it up.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


Reads: TypeAlias = Session | Connection
"""What a disclosure decision reads through: the caller's ORM session, or on the hub's
busiest route a bare connection (hub.api.v1), which skips the session's own work."""


def make_read_engine(engine: Engine) -> Engine:
    """The engine for requests that only read (a disclosure decision's lookups).

    On PostgreSQL each statement runs in autocommit: under READ COMMITTED every statement
    already sees its own snapshot, so a surrounding transaction adds no consistency, only
    a BEGIN and a COMMIT round trip per request. It is a pool of its own, set to autocommit
    once per connection: the same engine with autocommit as an execution option set and
    reset it at every checkout, which cost a twentieth of the request's CPU. On SQLite its
    transactions begin deferred, so a decision's reads never wait for the log writer's
    write lock.
    """
    if engine.dialect.name != "postgresql":
        if engine.url.database in (None, "", ":memory:"):
            return engine  # a private in-memory database: a second engine would not see it
        return make_engine(engine.url.render_as_string(hide_password=False), read_only=True)
    return make_engine(
        engine.url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )


def engine_for(settings: Settings) -> Engine:
    return make_engine(settings.sqlalchemy_url)
