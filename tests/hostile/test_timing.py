"""'Unknown child' and 'not permitted' must not be told apart by how long they take.

A test cannot time that without flaking; it checks instead that both do the same database
work, statement for statement. ``bench/timing.py`` measures the two time distributions.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from hub.app import create_app
from hub.runtime import Hub
from tests.factories import NHS_NO_CONSENT, NHS_UNKNOWN, World, make_world, populate


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        yield built


def statements(world: World, nhs: str) -> list[str]:
    """The statements one request sends through the hub's engines (its reads go through the
    read engine). The checkpoint signer's thread works in the background, for no request."""
    seen: list[str] = []
    engines = {world.hub.engine, world.hub.read_engine}

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name != "log-checkpoint-signer":
            seen.append(re.sub(r"\s+", " ", statement))

    world.ask("COUNCIL", f"nhs|{nhs}")  # warm the token and caches
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        response = world.ask("COUNCIL", f"nhs|{nhs}")
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 403
    return seen


def test_unknown_and_not_permitted_do_the_same_database_work(world: World) -> None:
    unknown = statements(world, NHS_UNKNOWN)
    denied = statements(world, NHS_NO_CONSENT)

    assert unknown == denied
    if world.hub.engine.dialect.name == "sqlite":
        # On PostgreSQL the reads go to psycopg directly (hub/db/reads.py), past these events.
        assert len(unknown) >= 3  # resolve, open involvements, consents: the check saw them
