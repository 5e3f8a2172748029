"""The FHIR face over HTTP: same decisions and log as /v1, FHIR shapes, OperationOutcome errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.disclosure.models import LogEntry, LogHead
from hub.identifiers import NHS_NUMBER_SYSTEM, UPN_SYSTEM
from hub.runtime import Hub
from tests.factories import (
    NHS_CONSENTED,
    NHS_NO_CONSENT,
    NHS_UNKNOWN,
    UPN_CONSENTED,
    World,
    child,
    involvement,
    make_world,
    populate,
)
from tests.fhir_checks import outcome_code, valid

NHS = f"{NHS_NUMBER_SYSTEM}|{NHS_CONSENTED}"


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        yield built


def fhir(
    world: World,
    path: str,
    agency: str = "COUNCIL",
    *,
    role: str = "lead-professional",
    purpose: str = "team-around-the-family",
    **params: Any,
) -> Any:
    headers = world.auth(
        agency,
        **{
            "X-Practitioner": "P-1",
            "X-Practitioner-Role": role,
            "X-Purpose": purpose,
            "Accept": "application/fhir+json",
        },
    )
    return world.api.get(f"/fhir/{path}", params=params, headers=headers)


def log_size(hub: Hub) -> int:
    with hub.sessions() as session:
        return session.execute(select(LogHead.size)).scalar_one()


def last_entry(hub: Hub) -> dict[str, Any]:
    with hub.sessions() as session:
        row = session.execute(select(LogEntry).order_by(LogEntry.seq.desc()).limit(1)).scalar_one()
        return json.loads(row.body)  # type: ignore[no-any-return]


def test_metadata_tells_the_truth(world: World) -> None:
    response = world.api.get("/fhir/metadata")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = valid(response.json())
    served = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert set(served) <= {
        "Patient",
        "CareTeam",
        "EpisodeOfCare",
        "Subscription",
        "Consent",
        "AuditEvent",
    }
    assert {"Patient", "CareTeam", "EpisodeOfCare", "Consent"} <= set(served)
    # Everything advertised answers something other than "not served".
    for resource_type, entry in served.items():
        for interaction in entry["interaction"]:
            if interaction["code"] == "search-type":
                answer = fhir(world, resource_type)
                assert answer.status_code != 404, resource_type


def test_patient_search_returns_the_identifiers_the_requester_may_see(world: World) -> None:
    before = log_size(world.hub)

    response = fhir(world, "Patient", identifier=NHS)

    assert response.status_code == 200, response.text
    bundle = valid(response.json())
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    patient = bundle["entry"][0]["resource"]
    systems = {i["system"]: i["value"] for i in patient["identifier"]}
    assert systems[NHS_NUMBER_SYSTEM] == NHS_CONSENTED
    assert systems[UPN_SYSTEM] == UPN_CONSENTED
    assert {"urn:ehh:agency:COUNCIL", "urn:ehh:agency:HEALTH", "urn:ehh:agency:SCHOOL"} <= set(
        systems
    )
    assert log_size(world.hub) == before + 1
    entry = last_entry(world.hub)
    assert entry["id"] == bundle["identifier"]["value"] == response.headers["x-decision-id"]
    assert entry["asked"]["what"] == "patient" and entry["asked"]["interface"] == "fhir"


def test_patient_read_by_the_hubs_id(world: World) -> None:
    found = fhir(world, "Patient", identifier=NHS).json()["entry"][0]["resource"]

    response = fhir(world, f"Patient/{found['id']}")

    assert response.status_code == 200, response.text
    assert valid(response.json()) == found


def test_an_agency_known_only_through_a_sensitive_service_is_shielded(world: World) -> None:
    world.put("POLICE", "/v1/records/n-1", child(NHS_CONSENTED))
    world.put("POLICE", "/v1/involvements/dv-1", involvement("n-1", "mash", sensitivity="SDV"))

    patient = fhir(world, "Patient", identifier=NHS).json()["entry"][0]["resource"]

    assert "urn:ehh:agency:POLICE" not in {i["system"] for i in patient["identifier"]}
    assert last_entry(world.hub)["decision"]["shielded"]


def test_care_team_lists_who_else_is_involved_with_the_shield_applied(world: World) -> None:
    response = fhir(world, "CareTeam", **{"patient.identifier": NHS})

    assert response.status_code == 200, response.text
    bundle = valid(response.json())
    team = bundle["entry"][0]["resource"]
    assert team["subject"]["reference"].startswith("Patient/")
    services = {
        c["code"]
        for p in team["participant"]
        for r in p["role"]
        for c in r.get("coding", [])
        if c["system"] == "urn:ehh:service"
    }
    assert services == {"early-help", "school-nursing", "designated-safeguarding-lead"}
    shielded = [
        p for p in team["participant"] if p["role"][0].get("text") == "A service is involved"
    ]
    assert len(shielded) == 1 and "onBehalfOf" not in shielded[0]
    assert "camhs" not in response.text.lower()
    lead = [
        p
        for p in team["participant"]
        if any(c.get("code") == "lead-professional" for r in p["role"] for c in r.get("coding", []))
    ]
    assert lead[0]["onBehalfOf"]["identifier"]["value"] == "COUNCIL"


def test_care_team_by_patient_reference(world: World) -> None:
    found = fhir(world, "Patient", identifier=NHS).json()["entry"][0]["resource"]

    response = fhir(world, "CareTeam", patient=f"Patient/{found['id']}")

    assert response.status_code == 200
    assert len(response.json()["entry"][0]["resource"]["participant"]) == 4


def test_episodes_page_with_count_and_links(world: World) -> None:
    first = fhir(world, "EpisodeOfCare", _count="3", **{"patient.identifier": NHS})

    assert first.status_code == 200, first.text
    page = valid(first.json())
    assert page["total"] == 4 and len(page["entry"]) == 3
    links = {link["relation"]: link["url"] for link in page["link"]}
    assert {"self", "first", "next", "last"} <= set(links) and "previous" not in links
    following = world.api.get(
        links["next"].removeprefix(world.hub.settings.public_url),
        headers=world.auth(
            "COUNCIL",
            **{
                "X-Practitioner": "P-1",
                "X-Practitioner-Role": "lead-professional",
                "X-Purpose": "team-around-the-family",
            },
        ),
    )
    second = valid(following.json())
    assert len(second["entry"]) == 1
    assert "next" not in {link["relation"] for link in second["link"]}
    ids = {e["resource"]["id"] for e in page["entry"] + second["entry"]}
    assert len(ids) == 4
    assert "camhs" not in first.text.lower() + following.text.lower()


def test_count_zero_gives_the_total_only(world: World) -> None:
    body = valid(fhir(world, "EpisodeOfCare", _count="0", **{"patient.identifier": NHS}).json())

    assert body["total"] == 4 and "entry" not in body


def test_unknown_child_and_refusal_answer_alike(world: World) -> None:
    before = log_size(world.hub)

    denied = fhir(world, "CareTeam", **{"patient.identifier": f"nhs|{NHS_NO_CONSENT}"})
    unknown = fhir(world, "CareTeam", **{"patient.identifier": f"nhs|{NHS_UNKNOWN}"})
    unknown_id = fhir(world, "Patient/0b8f6f55-2b8a-4f55-9f7e-4d6e0a0b0c0d")

    assert denied.status_code == unknown.status_code == unknown_id.status_code == 403
    assert denied.json() == unknown.json() == unknown_id.json()
    assert outcome_code(denied.json()) == "not-permitted"
    assert denied.json()["issue"][0]["code"] == "forbidden"
    assert denied.headers.keys() == unknown.headers.keys()
    assert log_size(world.hub) == before + 3


def test_without_a_token_the_answer_is_a_401_outcome_and_logged(world: World) -> None:
    before = log_size(world.hub)

    response = world.api.get("/fhir/Patient", params={"identifier": NHS})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert outcome_code(response.json()) == "missing-token"
    assert response.json()["issue"][0]["code"] == "login"
    assert log_size(world.hub) == before + 1


def test_a_token_without_the_scope_is_a_403_outcome(world: World) -> None:
    token = world.api.post(
        "/oauth/token", data=world.clients["COUNCIL"].token_form("system/CareTeam.read")
    ).json()["access_token"]

    response = world.api.get(
        "/fhir/Patient",
        params={"identifier": NHS},
        headers={
            "Authorization": f"Bearer {token}",
            "X-Practitioner": "P-1",
            "X-Practitioner-Role": "lead-professional",
            "X-Purpose": "team-around-the-family",
        },
    )

    assert response.status_code == 403
    assert outcome_code(response.json()) == "insufficient-scope"


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("Patient", {"identifier": "nhs|9434765910"}, 400, "nhs-number-checksum"),
        ("Patient", {}, 400, "identifier-missing"),
        ("CareTeam", {"patient.identifier": NHS, "_count": "lots"}, 400, "paging-invalid"),
        (
            "CareTeam",
            {"patient.identifier": NHS, "patient": "Patient/x"},
            400,
            "search-parameter-conflict",
        ),
        ("Patient", {"identifier": NHS, "_format": "xml"}, 406, "format-not-supported"),
        ("Observation", {}, 404, "resource-type-not-supported"),
    ],
)
def test_errors_are_operation_outcomes(
    world: World, path: str, params: dict[str, str], status: int, code: str
) -> None:
    response = fhir(world, path, **params)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert outcome_code(response.json()) == code


def test_unsupported_interaction_is_405(world: World) -> None:
    response = world.api.post("/fhir/Patient", json={"resourceType": "Patient"})

    assert response.status_code == 405
    assert outcome_code(response.json()) == "interaction-not-supported"


def test_an_invalid_request_names_each_field_in_the_outcome(world: World) -> None:
    response = fhir(world, "Patient/not<an>id")

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert outcome_code(response.json()) == "invalid-field"
    assert response.json()["issue"][0]["expression"] == ["path.resource_id"]
    assert "<an>" not in response.text


def test_an_unexpected_failure_is_a_500_outcome_without_a_trace(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> Any:
        raise RuntimeError("internal detail that must not leave the hub")

    monkeypatch.setattr("hub.fhir.router.who_else_is_involved", broken)

    response = fhir(world, "Patient", identifier=NHS)

    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert outcome_code(response.json()) == "internal-error"
    assert response.json()["issue"][0]["severity"] == "fatal"
    assert "Traceback" not in response.text and "internal detail" not in response.text


def test_unknown_parameters_are_ignored_unless_strict(world: World) -> None:
    lenient = fhir(world, "Patient", identifier=NHS, name="Smyth")
    assert lenient.status_code == 200
    assert "name=" not in json.dumps(lenient.json()["link"])

    strict = world.api.get(
        "/fhir/Patient",
        params={"identifier": NHS, "name": "Smyth"},
        headers=world.auth("COUNCIL", Prefer="handling=strict"),
    )
    assert strict.status_code == 400
    assert outcome_code(strict.json()) == "search-parameter-not-supported"


def test_fhir_and_v1_take_the_same_decision(world: World) -> None:
    v1 = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").json()
    v1_entry = last_entry(world.hub)

    fhir(world, "CareTeam", **{"patient.identifier": NHS})
    fhir_entry = last_entry(world.hub)

    assert fhir_entry["decision"]["rule_ids"] == v1_entry["decision"]["rule_ids"] == v1["rule_ids"]
    assert fhir_entry["decision"]["shielded"] == v1_entry["decision"]["shielded"]
    assert fhir_entry["decision"]["disclosed"] == v1_entry["decision"]["disclosed"]
