"""An independent FHIR client (fhirpy, from PyPI) reads the hub over real HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import AuthorizationError, ForbiddenError, OperationOutcome

from hub.app import create_app
from hub.crypto.keys import Keyring
from hub.identifiers import NHS_NUMBER_SYSTEM
from hub.runtime import Hub
from hub.settings import Settings
from tests.factories import NHS_CONSENTED, NHS_NO_CONSENT, NHS_UNKNOWN, World, make_world, populate
from tests.fhir_checks import outcome_code

NHS = f"{NHS_NUMBER_SYSTEM}|{NHS_CONSENTED}"
ASKING = {
    "X-Practitioner": "P-1",
    "X-Practitioner-Role": "lead-professional",
    "X-Purpose": "team-around-the-family",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(database_url: str, keyring: Keyring, tmp_path: Path) -> Iterator[tuple[World, str]]:
    """The hub served by uvicorn on 127.0.0.1, with the test world registered in it."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(data_dir=tmp_path, database_url=database_url, public_url=base)
    hub = Hub.start(settings, keyring=keyring)
    server = uvicorn.Server(
        uvicorn.Config(create_app(hub), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        with TestClient(create_app(hub)) as api:
            world = make_world(hub, api)
            populate(world)
            yield world, base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        hub.close()


def client(world: World, base: str, agency: str = "COUNCIL") -> SyncFHIRClient:
    return SyncFHIRClient(
        f"{base}/fhir", authorization=f"Bearer {world.token(agency)}", extra_headers=ASKING
    )


def validated(resource: Any) -> dict[str, Any]:
    data: dict[str, Any] = resource.serialize()
    get_fhir_model_class(data["resourceType"]).model_validate(data)
    return data


def test_fhirpy_reads_patient_care_team_and_episodes(served: tuple[World, str]) -> None:
    world, base = served
    fhir = client(world, base)

    patient = fhir.resources("Patient").search(identifier=NHS).first()
    assert patient is not None
    data = validated(patient)
    assert {"system": NHS_NUMBER_SYSTEM, "value": NHS_CONSENTED, "use": "official"} in data[
        "identifier"
    ]
    assert validated(fhir.reference("Patient", patient.id).to_resource()) == data

    teams = fhir.resources("CareTeam").search(patient__identifier=NHS).fetch()
    assert len(teams) == 1
    team = validated(teams[0])
    assert team["subject"]["reference"] == f"Patient/{patient.id}"
    assert len(team["participant"]) == 4

    # fhirpy follows the hub's paging links on its own.
    episodes = fhir.resources("EpisodeOfCare").search(patient=f"Patient/{patient.id}").limit(1)
    every = [validated(e) for e in episodes]
    assert len(every) == 4 and len({e["id"] for e in every}) == 4
    assert all(e["patient"]["reference"] == f"Patient/{patient.id}" for e in every)


def test_fhirpy_sees_operation_outcomes(served: tuple[World, str]) -> None:
    world, base = served
    fhir = client(world, base)

    with pytest.raises(ForbiddenError) as unknown:
        fhir.resources("CareTeam").search(patient__identifier=f"nhs|{NHS_UNKNOWN}").fetch()
    with pytest.raises(ForbiddenError) as denied:
        fhir.resources("CareTeam").search(patient__identifier=f"nhs|{NHS_NO_CONSENT}").fetch()
    assert str(unknown.value) == str(denied.value)
    assert outcome_code(json.loads(str(denied.value))) == "not-permitted"

    anonymous = SyncFHIRClient(f"{base}/fhir", extra_headers=ASKING)
    with pytest.raises(AuthorizationError):
        anonymous.resources("Patient").search(identifier=NHS).fetch()

    with pytest.raises(OperationOutcome) as malformed:
        fhir.resources("Patient").search(identifier="nhs|9434765910").fetch()
    assert malformed.value.resource["issue"][0]["code"] == "invalid"  # type: ignore[index]

    statement = fhir.execute("metadata", method="get")
    get_fhir_model_class("CapabilityStatement").model_validate(statement)


def test_fhirpy_reads_audit_events_as_an_ig_system(served: tuple[World, str]) -> None:
    from tests.integration.test_fhir_audit import add_ig_client

    world, base = served
    add_ig_client(world)
    assert world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").status_code == 200
    ig = SyncFHIRClient(f"{base}/fhir", authorization=f"Bearer {world.token('IG')}")

    events = ig.resources("AuditEvent").search(outcome="partial").limit(5).fetch()

    assert events
    for event in events:
        assert validated(event)["resourceType"] == "AuditEvent"


def test_fhirpy_reads_consents_the_agency_recorded(served: tuple[World, str]) -> None:
    world, base = served
    fhir = client(world, base)

    consents = (
        fhir.resources("Consent").search(**{"patient:identifier": "urn:ehh:agency:COUNCIL|c-1"})
    ).fetch()

    assert len(consents) == 1
    data = validated(consents[0])
    assert data["status"] == "active"
    again = fhir.reference("Consent", data["id"]).to_resource()
    assert validated(again)["id"] == data["id"]
