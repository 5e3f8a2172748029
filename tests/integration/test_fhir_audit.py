"""The disclosure log as FHIR AuditEvents for information governance systems."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle

from hub.app import create_app
from hub.auth.scopes import IG_SCOPES
from hub.clients import ensure_agency, register_client
from hub.runtime import Hub
from hub.vocab import AgencyKind
from tests.factories import NHS_CONSENTED, NHS_NO_CONSENT, World, make_world, populate


def add_ig_client(world: World) -> str:
    with world.hub.sessions() as session:
        agency = ensure_agency(session, code="IG", name="Partnership IG", kind=AgencyKind.COUNCIL)
        world.clients["IG"] = register_client(
            session,
            client_id="ig-system",
            agency=agency,
            token_endpoint=world.hub.settings.token_endpoint,
            scopes=list(IG_SCOPES),
        )
        session.commit()
    return "IG"


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        add_ig_client(built)
        built.ask("COUNCIL", f"nhs|{NHS_CONSENTED}")
        built.ask("COUNCIL", f"nhs|{NHS_NO_CONSENT}")
        yield built


def test_audit_events_for_one_child_validate_and_name_only_that_child(world: World) -> None:
    response = world.api.get(
        "/fhir/AuditEvent",
        params={"patient.identifier": f"nhs|{NHS_CONSENTED}", "_count": 50},
        headers=world.auth("IG"),
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(response.json())
    events = [AuditEvent.model_validate(e.resource.model_dump()) for e in bundle.entry or []]
    assert events, "the consented child's decisions are in the log"
    subjects = {
        entity.what.identifier.value
        for event in events
        for entity in event.entity or []
        if entity.role is not None
        and entity.role.code == "1"  # the patient (object-role #1)
        and entity.what is not None
        and entity.what.identifier is not None
    }
    assert len(subjects) == 1
    assert bundle.identifier is not None and bundle.identifier.value


def test_an_agency_without_the_ig_scope_gets_an_operation_outcome(world: World) -> None:
    response = world.api.get("/fhir/AuditEvent", headers=world.auth("COUNCIL"))

    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_bad_date_is_a_clear_400(world: World) -> None:
    response = world.api.get(
        "/fhir/AuditEvent", params={"date": "yesterday"}, headers=world.auth("IG")
    )

    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
