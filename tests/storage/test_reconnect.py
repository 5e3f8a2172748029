"""Connections the database dropped: one clean 503 at most, then the hub carries on by itself.

The pool does not ping before each checkout (that would cost every request a round trip), so
this is what stands behind it: a dropped connection fails its first statement, the pool is
emptied, and the next request connects afresh. Likewise the log writer's own connection.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import InterfaceError, OperationalError

from hub.app import create_app
from hub.disclosure import log
from hub.runtime import Hub
from hub.vocab import LogEvent


def _drop_every_connection(url: str) -> int:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            dropped = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        admin.dispose()
    return int(dropped)


def test_requests_recover_after_the_database_drops_every_connection(hub: Hub) -> None:
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("needs HUB_TEST_DATABASE_URL (PostgreSQL)")
    client = TestClient(create_app(hub))
    assert client.get("/readyz").status_code == 200
    hub.log.record(log.Pending(LogEvent.DISCLOSURE_DECIDED, {"before": True}))

    assert _drop_every_connection(hub.settings.sqlalchemy_url) >= 2

    statuses = [client.get("/readyz").status_code for _ in range(3)]
    assert set(statuses) <= {200, 503}
    assert statuses[-1] == 200 and statuses.count(503) <= 1

    failures = 0
    for _ in range(3):
        try:
            receipt = hub.log.record(log.Pending(LogEvent.DISCLOSURE_DECIDED, {"after": True}))
        except OperationalError:
            failures += 1
    assert failures <= 1
    assert receipt.index >= 1
    with hub.sessions() as session:
        assert log.verify(session).ok


def test_a_connection_found_closed_is_a_503_not_a_500(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver may find a connection already closed (InterfaceError) rather than failing
    to reach the server (OperationalError); either way the caller should try again."""

    def closed(_pending: log.Pending) -> log.Receipt:
        raise InterfaceError("append to the disclosure log", None, Exception("connection closed"))

    async def closed_on_the_loop(pending: log.Pending) -> log.Receipt:
        return closed(pending)

    monkeypatch.setattr(hub.log, "record", closed)
    monkeypatch.setattr(hub.log, "record_async", closed_on_the_loop)
    client = TestClient(create_app(hub), raise_server_exceptions=False)
    answer = client.get(
        "/v1/children/involvements",
        params={"identifier": "nhs|9434765919", "purpose": "safeguarding-enquiry"},
        headers={"X-Practitioner": "SW-1", "X-Practitioner-Role": "social-worker"},
    )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["errors"][0]["code"] == "unavailable"
