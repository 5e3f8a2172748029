"""The authorisation matrix (OWASP API1/API3/API6): who may read and write what.

The expectations are written out here by hand from the information sharing agreement, not
computed by the rule engine the hub uses, so that a wrong rule or a wrong engine shows up.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hub.app import create_app
from hub.involvements.models import Involvement
from hub.people.models import AgencyRecord as Record
from hub.runtime import Hub
from hub.vocab import Purpose, Role
from tests.factories import (
    NHS_CONSENTED,
    NHS_NO_CONSENT,
    NHS_UNKNOWN,
    World,
    child,
    consent,
    involvement,
    make_world,
    populate,
)

AGENCY_KIND = {"HEALTH": "health", "SCHOOL": "school", "POLICE": "police", "COUNCIL": "council"}

# (recipient kind or "*", role, purpose) -> needs consent? Hand-copied from the agreement.
AGREEMENT: dict[tuple[str, str, str], bool] = {
    ("*", "lead-professional", "lead-professional-check"): True,
    ("*", "lead-professional", "team-around-the-family"): True,
    ("*", "lead-professional", "early-help-assessment"): True,
    ("council", "early-help-worker", "team-around-the-family"): True,
    ("council", "early-help-worker", "early-help-assessment"): True,
    ("council", "early-help-worker", "step-down"): True,
    ("*", "lead-professional", "referral"): True,
    ("council", "front-door", "referral"): True,
    ("council", "social-worker", "step-down"): True,
    ("council", "social-worker", "team-around-the-family"): True,
    ("school", "teacher", "team-around-the-family"): True,
    ("*", "designated-safeguarding-lead", "lead-professional-check"): True,
    ("health", "health-visitor", "lead-professional-check"): True,
    ("health", "school-nurse", "lead-professional-check"): True,
    ("council", "front-door", "front-door-triage"): False,
    ("police", "police-safeguarding", "front-door-triage"): False,
    ("health", "front-door", "front-door-triage"): False,
    ("council", "social-worker", "safeguarding-enquiry"): False,
    ("police", "police-safeguarding", "safeguarding-enquiry"): False,
    ("council", "social-worker", "step-up"): False,
}
# The consent populate() records for the first child: team-around-the-family, to these kinds.
CONSENTED_PURPOSES = {"team-around-the-family"}
CONSENTED_KINDS = {"council", "health", "school"}


def expected(agency: str, role: str, purpose: str, nhs: str) -> bool:
    if nhs == NHS_UNKNOWN:
        return False
    kind = AGENCY_KIND[agency]
    needs_consent = AGREEMENT.get((kind, role, purpose), AGREEMENT.get(("*", role, purpose)))
    if needs_consent is None:
        return False
    if not needs_consent:
        return True
    return nhs == NHS_CONSENTED and purpose in CONSENTED_PURPOSES and kind in CONSENTED_KINDS


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        yield built


CHILDREN = (NHS_CONSENTED, NHS_NO_CONSENT, NHS_UNKNOWN)


@pytest.mark.slow
def test_the_full_matrix_of_agency_role_purpose_and_child(world: World) -> None:
    """4 agencies x 14 roles x 8 purposes x 3 children = 1,344 requests."""
    wrong = _walk(world, itertools.product(AGENCY_KIND, Role, Purpose, CHILDREN))
    assert not wrong, wrong


def test_the_matrix_cell_of_every_rule(world: World) -> None:
    """Each rule's own cell, for an agency of its kind and one of another kind."""
    cells: set[tuple[str, str, str, str]] = set()
    for kind, role, purpose in AGREEMENT:
        own = next(a for a, k in AGENCY_KIND.items() if kind in ("*", k))
        other = next(a for a, k in AGENCY_KIND.items() if k != kind and a != own)
        for agency, nhs in itertools.product((own, other), (NHS_CONSENTED, NHS_NO_CONSENT)):
            cells.add((agency, role, purpose, nhs))
        cells.add((own, role, purpose, NHS_UNKNOWN))
    wrong = _walk(world, sorted(cells))
    assert not wrong, wrong


def _walk(world: World, cells: Any) -> list[str]:
    wrong = []
    for agency, role, purpose, nhs in cells:
        response = world.ask(agency, f"nhs|{nhs}", role=str(role), purpose=str(purpose))
        allowed = expected(agency, str(role), str(purpose), nhs)
        if response.status_code != (200 if allowed else 403):
            wrong.append(f"{agency} {role} {purpose} {nhs}: {response.status_code}")
        if not allowed and "involvements" in response.json():
            wrong.append(f"{agency} {role} {purpose} {nhs}: denied but disclosed")
    return wrong


# Object-level access: an agency acts only on what it holds itself.


def test_an_agency_cannot_end_another_agencys_involvement(world: World) -> None:
    response = world.api.post(
        "/v1/involvements/hv-1/end", json={"end_date": "2030-01-01"}, headers=world.auth("SCHOOL")
    )

    assert response.status_code == 404
    with world.hub.sessions() as session:
        hv = session.execute(select(Involvement).where(Involvement.local_id == "hv-1")).scalar_one()
        assert hv.end_date is None


def test_an_agency_cannot_withdraw_another_agencys_consent(world: World) -> None:
    consent_id = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").json()["consent_ids"][0]

    response = world.api.post(
        f"/v1/consents/{consent_id}/withdraw",
        headers=world.auth("HEALTH", **{"X-Practitioner": "H-1"}),
    )

    assert response.status_code == 404
    assert world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").status_code == 200


def test_an_agency_cannot_attach_involvements_or_consents_to_another_agencys_record(
    world: World,
) -> None:
    # c-1 is the council's record; to the school, "c-1" names nothing it holds.
    attach = world.api.put(
        "/v1/involvements/x-1", json=involvement("c-1", "tutoring"), headers=world.auth("SCHOOL")
    )
    consented = world.api.post("/v1/consents", json=consent("c-1"), headers=world.auth("SCHOOL"))

    for refused in (attach, consented):
        assert refused.status_code == 400, refused.text
        assert refused.json()["errors"][0]["code"] == "record-not-found"
    assert world.ask("SCHOOL", f"nhs|{NHS_CONSENTED}").json()["consent_ids"] == [
        world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").json()["consent_ids"][0]
    ]


def test_writing_under_the_same_local_id_never_touches_another_agencys_record(
    world: World,
) -> None:
    with world.hub.sessions() as session:
        before = session.execute(select(Record).where(Record.local_id == "c-1")).scalar_one()
        ciphertext = before.given_name_enc

    world.put("SCHOOL", "/v1/records/c-1", child("9990000034", given="Mallory"))

    with world.hub.sessions() as session:
        rows = session.execute(select(Record).where(Record.local_id == "c-1")).scalars().all()
        council = [r for r in rows if r.agency_id == before.agency_id]
        assert len(rows) == 2 and council[0].given_name_enc == ciphertext


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/records/m-1", {**child("9990000034"), "agency_id": "x"}),
        ("/v1/records/m-1", {**child("9990000034"), "person_id": "x"}),
        ("/v1/involvements/m-1", {**involvement("c-1", "early-help"), "agency": "HEALTH"}),
        ("/v1/involvements/m-1", {**involvement("c-1", "early-help"), "person_id": "x"}),
        ("/v1/consents", {**consent("c-1"), "recorded_by_agency_id": "x"}),
        ("/v1/consents", {**consent("c-1"), "status_history": []}),
    ],
)
def test_mass_assignment_is_refused_and_nothing_is_written(
    world: World, path: str, body: dict[str, Any]
) -> None:
    counts = _counts(world.hub)
    method = world.api.post if path == "/v1/consents" else world.api.put

    response = method(path, json=body, headers=world.auth("COUNCIL"))

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid-field"
    assert _counts(world.hub) == counts


def _counts(hub: Hub) -> tuple[int, int]:
    with hub.sessions() as session:
        return (
            session.execute(select(func.count()).select_from(Record)).scalar_one(),
            session.execute(select(func.count()).select_from(Involvement)).scalar_one(),
        )


# Excessive data exposure: answers carry what the caller needs and nothing else.

INVOLVEMENT_KEYS = {
    "id",
    "shielded",
    "agency",
    "service",
    "service_name",
    "tier",
    "level_of_need",
    "lead_professional",
    "practitioner",
    "start_date",
    "end_date",
    "contact",
}


def test_answers_carry_no_personal_data_about_the_child(world: World) -> None:
    body = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").json()
    text = json.dumps(body)

    for personal in (NHS_CONSENTED, "Jayden", "Smyth", "2015-04-03", "Mill Lane", "LE1 6AB"):
        assert personal not in text
    assert {key for i in body["involvements"] for key in i} == INVOLVEMENT_KEYS
    written = world.api.put(
        "/v1/records/c-9", json=child("9990000034"), headers=world.auth("COUNCIL")
    )
    assert set(written.json()) == {"local_id", "status"}


def test_a_token_without_the_scope_cannot_write(world: World) -> None:
    with world.hub.sessions() as session:
        from hub.agencies.models import Agency
        from hub.clients import register_client

        agency = session.execute(select(Agency).where(Agency.code == "SCHOOL")).scalar_one()
        reader = register_client(
            session,
            client_id="school-reader",
            agency=agency,
            token_endpoint=world.hub.settings.token_endpoint,
            scopes=["system/CareTeam.read"],
        )
        session.commit()
    token = world.api.post("/oauth/token", data=reader.token_form()).json()["access_token"]

    response = world.api.put(
        "/v1/records/s-9", json=child("9990000034"), headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "insufficient-scope"
