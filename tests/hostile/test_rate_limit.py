"""Per-client rate limits: 429 with Retry-After, counted per client, not per forged token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.crypto.keys import Keyring
from hub.runtime import Hub
from hub.settings import Settings
from tests.factories import NHS_CONSENTED, World, make_world


@pytest.fixture
def world(settings: Settings, keyring: Keyring) -> Iterator[World]:
    limited = settings.model_copy(update={"rate_limit": "5/minute"})
    hub = Hub.start(limited, keyring=keyring)
    with TestClient(create_app(hub)) as api:
        yield make_world(hub, api)
    hub.close()


def test_a_client_over_its_rate_gets_429_with_retry_after(world: World) -> None:
    headers = world.auth("COUNCIL")  # the token request counts against the address, not this
    answers = [world.api.get("/healthz", headers=headers) for _ in range(7)]

    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    refused = answers[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["errors"][0]["code"] == "rate-limited"


def test_each_client_has_its_own_allowance(world: World) -> None:
    council, health = world.auth("COUNCIL"), world.auth("HEALTH")
    for _ in range(5):
        world.api.get("/healthz", headers=council)

    assert world.api.get("/healthz", headers=council).status_code == 429
    assert world.api.get("/healthz", headers=health).status_code == 200


def test_a_forged_token_cannot_spend_another_clients_allowance(world: World) -> None:
    council = world.auth("COUNCIL")
    forged = {"Authorization": council["Authorization"][:-6] + "AAAAAA"}
    for _ in range(6):
        world.api.get(
            "/v1/children/involvements",
            params={"identifier": f"nhs|{NHS_CONSENTED}", "purpose": "referral"},
            headers=forged,
        )

    assert world.api.get("/healthz", headers=council).status_code == 200
