"""Operations: application logs carry nothing personal; /metrics counts what happened."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import uvicorn
from fastapi.testclient import TestClient

from hub import serve as hub_serve
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


def test_the_deployed_servers_do_not_write_access_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn's access log would write the query string, which carries an NHS number."""
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    for launcher in (deploy / "Dockerfile", deploy / "systemd" / "early-help-hub.service"):
        assert "hub serve" in launcher.read_text(), launcher
    configs: list[uvicorn.Config] = []

    class Recording:
        def __init__(self, config: uvicorn.Config) -> None:
            configs.append(config)

        def run(self) -> None:
            pass

    monkeypatch.setattr(hub_serve.uvicorn, "Server", Recording)
    hub_serve.serve("hub.asgi:app", host="127.0.0.1", port=8000, workers=1)
    assert configs and configs[0].access_log is False


def test_every_worker_connection_has_tcp_nodelay() -> None:
    """Without it each response waits ~40 ms for the client's delayed acknowledgement."""

    async def accepted_nodelay() -> int:
        listener = hub_serve.tcp_listener("127.0.0.1", 0)
        listener.listen()
        seen: list[int] = []

        def on_connect() -> asyncio.Protocol:
            class Probe(asyncio.Protocol):
                def connection_made(self, transport: asyncio.BaseTransport) -> None:
                    sock = transport.get_extra_info("socket")
                    seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                    transport.close()

            return Probe()

        server = await asyncio.get_running_loop().create_server(on_connect, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()
        return seen[0]

    assert asyncio.run(accepted_nodelay()) != 0
