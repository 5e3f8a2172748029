"""Notifications: one signed Bundle when consent permits, none when it forbids, none lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.crypto.keys import Keyring
from hub.db.base import utcnow
from hub.disclosure.log import verify as verify_log
from hub.disclosure.models import LogEntry
from hub.notify.delivery import backoff, deliver_due
from hub.notify.models import OutboxMessage
from hub.notify.signing import SIGNATURE_HEADER, verify
from hub.notify.topics import CONSENT_CHANGED, NEW_AGENCY_INVOLVED
from hub.runtime import Hub
from hub.settings import Settings
from tests.factories import (
    NHS_CONSENTED,
    NHS_NO_CONSENT,
    World,
    child,
    consent,
    involvement,
    make_world,
    populate,
)
from tests.fhir_checks import outcome_code, valid
from tests.receiver import Receiver, receiver

HUB = Path(sys.executable).parent / "hub"


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        yield built


@pytest.fixture
def endpoint() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


def subscribe(
    world: World,
    url: str,
    *,
    agency: str = "HEALTH",
    topic: str = NEW_AGENCY_INVOLVED,
    role: str = "lead-professional",
) -> Any:
    return world.api.post(
        "/fhir/Subscription",
        json={
            "resourceType": "Subscription",
            "status": "requested",
            "reason": "Know when another agency starts work with a family we support",
            "criteria": topic,
            "channel": {"type": "rest-hook", "endpoint": url, "payload": "application/fhir+json"},
        },
        headers=world.auth(
            agency,
            **{
                "X-Practitioner": "HV-7",
                "X-Practitioner-Role": role,
                "X-Purpose": "team-around-the-family",
                "Content-Type": "application/fhir+json",
            },
        ),
    )


def police_starts_work(world: World, nhs: str, local: str = "n-1") -> None:
    world.put("POLICE", f"/v1/records/{local}", child(nhs))
    world.put("POLICE", f"/v1/involvements/{local}-inv", involvement(local, "neighbourhood-team"))


def deliver(hub: Hub, **kwargs: Any) -> Any:
    with httpx.Client() as http:
        return deliver_due(hub, http, **kwargs)


def outbox(hub: Hub) -> list[OutboxMessage]:
    with hub.sessions() as session:
        return list(session.execute(select(OutboxMessage)).scalars())


def notification_entries(hub: Hub) -> list[dict[str, Any]]:
    with hub.sessions() as session:
        rows = session.execute(
            select(LogEntry).where(LogEntry.event == "hub:notification:decided")
        ).scalars()
        return [json.loads(row.body) for row in rows]


def test_subscription_is_created_read_and_validated(world: World, endpoint: Receiver) -> None:
    created = subscribe(world, endpoint.url)

    assert created.status_code == 201, created.text
    body = valid(created.json())
    assert body["status"] == "active" and body["criteria"] == NEW_AGENCY_INVOLVED
    read = world.api.get(
        created.headers["location"].removeprefix(world.hub.settings.public_url),
        headers=world.auth("HEALTH"),
    )
    assert read.status_code == 200 and valid(read.json()) == body
    other = world.api.get(f"/fhir/Subscription/{body['id']}", headers=world.auth("SCHOOL"))
    assert other.status_code == 404 and outcome_code(other.json()) == "subscription-not-found"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"criteria": "Patient?name=x"}, "topic-not-supported"),
        (
            {"channel": {"type": "email", "endpoint": "mailto:a@example.org"}},
            "channel-not-supported",
        ),
        ({"channel": {"type": "rest-hook", "endpoint": "ftp://127.0.0.1/x"}}, "endpoint-invalid"),
        ({"resourceType": "Patient"}, "invalid-resource"),
    ],
)
def test_bad_subscriptions_are_refused_as_outcomes(
    world: World, change: dict[str, Any], code: str
) -> None:
    body = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "r",
        "criteria": NEW_AGENCY_INVOLVED,
        "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/x"},
        **change,
    }
    response = world.api.post(
        "/fhir/Subscription",
        json=body,
        headers=world.auth(
            "HEALTH",
            **{
                "X-Practitioner": "HV-7",
                "X-Practitioner-Role": "lead-professional",
                "X-Purpose": "team-around-the-family",
            },
        ),
    )

    assert response.status_code == 400, response.text
    assert outcome_code(response.json()) == code


def test_new_agency_sends_one_signed_notification_when_consent_permits(
    world: World, endpoint: Receiver
) -> None:
    assert subscribe(world, endpoint.url).status_code == 201

    police_starts_work(world, NHS_CONSENTED)
    report = deliver(world.hub)
    again = deliver(world.hub)

    assert (report.sent, again.sent) == (1, 0)
    assert len(endpoint.received) == 1
    got = endpoint.received[0]
    assert got.headers["content-type"] == "application/fhir+json"
    jwks = world.api.get("/.well-known/jwks.json").json()
    assert verify(got.headers[SIGNATURE_HEADER.lower()], got.body, jwks)["alg"] == "ES256"
    with pytest.raises(Exception):  # noqa: B017 - any JOSE failure will do
        verify(got.headers[SIGNATURE_HEADER.lower()], got.body.replace(b"POLICE", b"SCHOOL"), jwks)
    bundle = valid(json.loads(got.body))
    assert bundle["type"] == "history"
    status, episode = (e["resource"] for e in bundle["entry"])
    assert status["resourceType"] == "SubscriptionStatus"
    assert status["topic"] == NEW_AGENCY_INVOLVED
    assert episode["managingOrganization"]["identifier"]["value"] == "POLICE"
    entries = notification_entries(world.hub)
    assert len(entries) == 1 and entries[0]["outcome"] == "permit"
    assert entries[0]["agency"] == "HEALTH"
    assert entries[0]["id"] == bundle["identifier"]["value"]


def test_nothing_is_sent_when_consent_forbids(world: World, endpoint: Receiver) -> None:
    assert subscribe(world, endpoint.url).status_code == 201

    police_starts_work(world, NHS_NO_CONSENT)
    report = deliver(world.hub)

    assert report.sent == 0 and report.withheld == 1
    assert endpoint.received == []
    entries = notification_entries(world.hub)
    assert [e["decision"]["reasons"] for e in entries] == [["no-consent"]]
    assert [m.status for m in outbox(world.hub)] == ["withheld"]


def test_a_consent_withdrawn_before_sending_stops_the_notification(
    world: World, endpoint: Receiver
) -> None:
    assert subscribe(world, endpoint.url).status_code == 201
    consent_id = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").json()["consent_ids"][0]

    police_starts_work(world, NHS_CONSENTED)
    world.api.post(
        f"/v1/consents/{consent_id}/withdraw",
        headers=world.auth("COUNCIL", **{"X-Practitioner": "EH-1"}),
    )
    deliver(world.hub)

    assert endpoint.received == []


def test_an_agency_already_involved_is_not_new(world: World, endpoint: Receiver) -> None:
    assert subscribe(world, endpoint.url).status_code == 201

    world.put("SCHOOL", "/v1/involvements/att-1", involvement("s-1", "attendance"))

    assert outbox(world.hub) == []


def test_sensitive_new_service_arrives_shielded(world: World, endpoint: Receiver) -> None:
    assert subscribe(world, endpoint.url).status_code == 201

    world.put("POLICE", "/v1/records/n-1", child(NHS_CONSENTED))
    world.put("POLICE", "/v1/involvements/dv-1", involvement("n-1", "mash", sensitivity="SDV"))
    deliver(world.hub)

    episode = json.loads(endpoint.received[0].body)["entry"][1]["resource"]
    assert episode["type"] == [{"text": "A service is involved"}]
    assert b"mash" not in endpoint.received[0].body.lower()


def test_consent_change_is_notified(world: World, endpoint: Receiver) -> None:
    assert subscribe(world, endpoint.url, topic=CONSENT_CHANGED).status_code == 201

    recorded = world.api.post(
        "/v1/consents", json=consent("c-1", kinds=["health"]), headers=world.auth("COUNCIL")
    )
    deliver(world.hub)

    assert len(endpoint.received) == 1
    status = json.loads(endpoint.received[0].body)["entry"][0]["resource"]
    focus = status["notificationEvent"][0]["focus"]["reference"]
    assert focus.endswith(f"/Consent/{recorded.json()['id']}")


def test_failed_delivery_is_retried_with_back_off(world: World, endpoint: Receiver) -> None:
    assert subscribe(world, endpoint.url).status_code == 201
    endpoint.answers = [503]
    police_starts_work(world, NHS_CONSENTED)
    now = utcnow()

    first = deliver(world.hub, now=now)
    too_soon = deliver(world.hub, now=now + timedelta(seconds=1))
    later = deliver(world.hub, now=now + backoff(world.hub.settings.notify_backoff_seconds, 1))

    assert (first.retrying, too_soon.sent, later.sent) == (1, 0, 1)
    assert len(endpoint.received) == 2
    bodies = [json.loads(r.body) for r in endpoint.received]
    assert bodies[0]["id"] == bodies[1]["id"]  # the receiver can recognise the repeat
    assert backoff(5, 3) == timedelta(seconds=20)
    with world.hub.sessions() as session:
        assert verify_log(session).ok


def test_a_cancelled_subscription_sends_nothing(world: World, endpoint: Receiver) -> None:
    created = subscribe(world, endpoint.url).json()
    police_starts_work(world, NHS_CONSENTED)

    gone = world.api.delete(f"/fhir/Subscription/{created['id']}", headers=world.auth("HEALTH"))
    deliver(world.hub)

    assert gone.status_code == 204
    assert endpoint.received == []


def _event_then_stop(settings: Settings, keyring: Keyring, url: str) -> None:
    """A hub records the event and stops before anything is delivered."""
    first = Hub.start(settings, keyring=keyring)
    with TestClient(create_app(first)) as api:
        world = make_world(first, api)
        populate(world)
        assert subscribe(world, url).status_code == 201
        police_starts_work(world, NHS_CONSENTED)
    first.close()


def test_a_hub_restart_between_event_and_delivery_still_delivers_once(
    settings: Settings, keyring: Keyring, endpoint: Receiver
) -> None:
    _event_then_stop(settings, keyring, endpoint.url)
    assert endpoint.received == []

    for _ in range(2):  # a new hub, twice: delivered once, not again
        restarted = Hub.start(settings, keyring=keyring)
        try:
            deliver(restarted)
        finally:
            restarted.close()

    assert len(endpoint.received) == 1


@pytest.mark.slow
def test_hub_notify_run_delivers_what_a_stopped_hub_left(
    settings: Settings, keyring: Keyring, endpoint: Receiver, tmp_path: Path
) -> None:
    _event_then_stop(settings, keyring, endpoint.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATABASE_URL": settings.sqlalchemy_url,
            "HUB_KEYS_JSON": keyring.to_json(),
            "HUB_DATA_DIR": str(tmp_path),
            "HUB_PUBLIC_URL": settings.public_url,
        }
    )

    ran = subprocess.run(
        [str(HUB), "notify", "run", "--once"], env=env, check=True, capture_output=True, text=True
    )

    assert "sent 1" in ran.stdout
    assert len(endpoint.received) == 1
    after = Hub.start(settings, keyring=keyring)
    try:
        assert [m.status for m in outbox(after)] == ["delivered"]
    finally:
        after.close()


def test_the_in_process_worker_delivers(
    settings: Settings, keyring: Keyring, endpoint: Receiver
) -> None:
    running = Hub.start(
        settings.model_copy(update={"notify_in_process": True, "notify_poll_seconds": 0.05}),
        keyring=keyring,
    )
    try:
        with TestClient(create_app(running)) as api:
            world = make_world(running, api)
            populate(world)
            assert subscribe(world, endpoint.url).status_code == 201
            police_starts_work(world, NHS_CONSENTED)
            for _ in range(400):
                if endpoint.received:
                    break
                time.sleep(0.05)
        assert len(endpoint.received) == 1
    finally:
        running.close()
