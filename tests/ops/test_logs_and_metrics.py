"""Operations: application logs carry nothing personal; /metrics counts what happened."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.runtime import Hub
from tests.factories import (
    NHS_CONSENTED,
    NHS_NO_CONSENT,
    UPN_CONSENTED,
    World,
    make_world,
    populate,
)

PERSONAL = (
    NHS_CONSENTED,
    NHS_NO_CONSENT,
    "943 476 5919",
    UPN_CONSENTED,
    "Jayden",
    "Jaydon",
    "Smyth",
    "Olivia",
    "Sarah",
    "2015-04-03",
    "2016-09-01",
    "Mill Lane",
    "LE1 6AB",
)


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        yield built


def test_a_full_session_leaves_nothing_personal_in_the_logs(
    world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        populate(world)  # records with names, DOBs, addresses; involvements; a consent
        assert world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").status_code == 200
        assert world.ask("COUNCIL", f"nhs|{NHS_NO_CONSENT}").status_code == 403
        assert world.ask("COUNCIL", f"upn|{UPN_CONSENTED}").status_code == 200
        assert world.ask("COUNCIL", "nhs|9434765910").status_code == 400  # bad check digit
    captured = capsys.readouterr()

    assert events, "the requests were logged"
    assert {e["event"] for e in events} >= {"request"}
    # everything the server side logged (the test client's own httpx log is not the hub's)
    server = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    text = "\n".join([repr(events), captured.out, captured.err, *server])
    for personal in (*PERSONAL, "9434765910"):
        assert personal not in text, personal


def test_metrics_count_requests_decisions_and_the_chain_head(world: World) -> None:
    populate(world)
    world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}")
    world.ask("COUNCIL", f"nhs|{NHS_NO_CONSENT}")

    body = world.api.get("/metrics").text

    assert 'hub_decisions_total{outcome="deny"}' in body
    assert 'hub_decisions_total{outcome="partial"}' in body
    assert "hub_log_append_seconds_count" in body
    assert "hub_log_chain_head_size" in body
    assert 'route="/v1/children/involvements"' in body
    for personal in PERSONAL:
        assert personal not in body


def test_the_deployed_servers_do_not_write_access_logs() -> None:
    """uvicorn's access log would write the query string, which carries an NHS number."""
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    for launcher in (deploy / "Dockerfile", deploy / "systemd" / "early-help-hub.service"):
        assert "--no-access-log" in launcher.read_text(), launcher
