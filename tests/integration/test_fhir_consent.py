"""FHIR R4 Consent over HTTP: record, read, search, amend, withdraw, history, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent

from hub.app import create_app
from hub.runtime import Hub
from tests.factories import NHS_CONSENTED, World, consent, make_world, populate

FHIR = "application/fhir+json"


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        yield built


def fhir_consent(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "status": "active",
        "extension": [
            {"url": "urn:ehh:extension:consent-method", "valueCode": "written"},
            {
                "url": "urn:ehh:extension:recorded-by",
                "valueIdentifier": {"system": "urn:ehh:agency:COUNCIL", "value": "EH-7"},
            },
        ],
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"identifier": {"system": "urn:ehh:agency:COUNCIL", "value": "c-1"}},
        "performer": [
            {
                "type": "RelatedPerson",
                "identifier": {"system": "urn:ehh:agency:COUNCIL", "value": "parent-1"},
            }
        ],
        "sourceReference": {"identifier": {"system": "urn:ehh:consent-form", "value": "EHA-9"}},
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": {
            "type": "permit",
            "period": {"start": "2026-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"},
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "IRCP",
                            }
                        ]
                    },
                    "reference": {
                        "identifier": {"system": "urn:ehh:agency-kind", "value": "health"}
                    },
                }
            ],
            "purpose": [{"system": "urn:ehh:purpose", "code": "team-around-the-family"}],
            "provision": [
                {
                    "type": "deny",
                    "securityLabel": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                            "code": "SEX",
                        }
                    ],
                }
            ],
        },
    }
    resource.update(changes)
    return resource


def post(world: World, resource: dict[str, Any]) -> Any:
    return world.api.post(
        "/fhir/Consent",
        json=resource,
        headers=world.auth("COUNCIL", **{"Content-Type": FHIR}),
    )


def test_a_consent_is_recorded_and_read_back_as_r4(world: World) -> None:
    created = post(world, fhir_consent())

    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(FHIR)
    body = Consent.model_validate(created.json())
    assert body.meta.versionId == "1"
    assert created.headers["location"].endswith(f"/fhir/Consent/{body.id}/_history/1")
    read = world.api.get(f"/fhir/Consent/{body.id}", headers=world.auth("COUNCIL"))
    assert read.status_code == 200
    nested = read.json()["provision"]["provision"][0]
    assert nested["type"] == "deny" and nested["securityLabel"][0]["code"] == "SEX"


def test_search_by_patient_identifier_returns_a_bundle(world: World) -> None:
    post(world, fhir_consent())

    found = world.api.get(
        "/fhir/Consent",
        params={"patient:identifier": "urn:ehh:agency:COUNCIL|c-1"},
        headers=world.auth("COUNCIL"),
    )

    assert found.status_code == 200, found.text
    bundle = Bundle.model_validate(found.json())
    assert bundle.type == "searchset" and bundle.total == 2  # populate() recorded one too


def test_withdrawal_by_status_change_keeps_history(world: World) -> None:
    resource = post(world, fhir_consent()).json()
    resource["status"] = "inactive"

    changed = world.api.put(
        f"/fhir/Consent/{resource['id']}", json=resource, headers=world.auth("COUNCIL")
    )

    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "inactive"
    assert changed.json()["meta"]["versionId"] == "2"
    states = {e["url"]: e.get("valueCode") for e in changed.json()["extension"]}
    assert states["urn:ehh:extension:consent-state"] == "withdrawn"
    past = world.api.get(
        f"/fhir/Consent/{resource['id']}/_history", headers=world.auth("COUNCIL")
    ).json()
    assert [e["resource"]["status"] for e in past["entry"]] == ["inactive", "active"]


def test_amendment_adds_a_version(world: World) -> None:
    resource = post(world, fhir_consent()).json()
    resource["provision"]["purpose"].append({"system": "urn:ehh:purpose", "code": "referral"})

    changed = world.api.put(
        f"/fhir/Consent/{resource['id']}", json=resource, headers=world.auth("COUNCIL")
    )

    assert changed.status_code == 200, changed.text
    assert changed.json()["meta"]["versionId"] == "2"
    first = world.api.get(
        f"/fhir/Consent/{resource['id']}/_history/1", headers=world.auth("COUNCIL")
    ).json()
    assert len(first["provision"]["purpose"]) == 1


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"status": "bogus"}, "status"),
        ({"scope": {"coding": [{"system": "urn:x", "code": "adr"}]}}, "scope"),
        (
            {"patient": {"identifier": {"system": "urn:ehh:agency:HEALTH", "value": "h-1"}}},
            "patient.identifier",
        ),
        ({"extension": []}, "extension(urn:ehh:extension:consent-method)"),
    ],
)
def test_bad_codes_are_refused_as_operation_outcome(
    world: World, change: dict[str, Any], where: str
) -> None:
    refused = post(world, fhir_consent(**change))

    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith(FHIR)
    body = refused.json()
    assert body["resourceType"] == "OperationOutcome"
    assert where in [e for issue in body["issue"] for e in issue.get("expression", [])]


def test_unknown_security_label_is_refused(world: World) -> None:
    resource = fhir_consent()
    resource["provision"]["provision"][0]["securityLabel"][0]["code"] = "XYZ"

    refused = post(world, resource)

    assert refused.status_code == 400
    assert refused.json()["issue"][0]["details"]["coding"][0]["code"] == "invalid-consent"


def test_another_agency_cannot_read_it_and_no_token_is_an_outcome(world: World) -> None:
    created = post(world, fhir_consent()).json()

    other = world.api.get(f"/fhir/Consent/{created['id']}", headers=world.auth("HEALTH"))
    anonymous = world.api.get(f"/fhir/Consent/{created['id']}")

    assert other.status_code == 404 and other.json()["resourceType"] == "OperationOutcome"
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith(FHIR)


def test_v1_consent_can_be_amended_and_listed(world: World) -> None:
    made = world.api.post("/v1/consents", json=consent("c-1"), headers=world.auth("COUNCIL"))
    body = consent("c-1", purposes=["referral"])
    amendment = {
        k: body[k]
        for k in ("purposes", "recipient_kinds", "categories", "period_start", "period_end")
    }
    amendment.update(practitioner="EH-2", method="verbal")

    amended = world.api.put(
        f"/v1/consents/{made.json()['id']}", json=amendment, headers=world.auth("COUNCIL")
    )
    listed = world.api.get("/v1/records/c-1/consents", headers=world.auth("COUNCIL"))

    assert amended.status_code == 200, amended.text
    assert amended.json()["version"] == 2 and amended.json()["purposes"] == ["referral"]
    assert [c["version"] for c in listed.json()] == [1, 2]
    assert NHS_CONSENTED not in listed.text
