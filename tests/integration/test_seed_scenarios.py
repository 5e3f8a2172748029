"""Scenarios from the local procedures (shared/seeds), end to end over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.disclosure.models import LogEntry, LogHead
from hub.runtime import Hub
from tests.factories import NHS_CONSENTED, NHS_NO_CONSENT, World, consent, make_world, populate

OVERRIDE = {
    "X-Override-Legal-Basis": "safeguarding-dpa2018-sch1-para18",
    "X-Override-Reason": "seeking-consent-would-prejudice-protection",
    "X-Override-Justification": "Professional meeting on concerns of fabricated illness; "
    "raising it with the parents now would put the child at risk.",
}


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        yield built


def last_entry(hub: Hub) -> dict[str, Any]:
    with hub.sessions() as session:
        row = session.execute(select(LogEntry).order_by(LogEntry.seq.desc()).limit(1)).scalar_one()
        return json.loads(row.body)  # type: ignore[no-any-return]


def log_size(hub: Hub) -> int:
    with hub.sessions() as session:
        return session.execute(select(LogHead.size)).scalar_one()


def ask(
    world: World,
    agency: str,
    nhs: str,
    *,
    purpose: str,
    role: str,
    extra: dict[str, str] | None = None,
) -> Any:
    headers = world.auth(agency, **{"X-Practitioner": "P-9", "X-Practitioner-Role": role})
    headers.update(extra or {})
    return world.api.get(
        "/v1/children/involvements",
        params={"identifier": f"nhs|{nhs}", "purpose": purpose},
        headers=headers,
    )


def record(world: World, body: dict[str, Any]) -> str:
    response = world.api.post("/v1/consents", json=body, headers=world.auth("COUNCIL"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_001_step_down_from_social_care_with_written_consent(world: World) -> None:
    before = ask(world, "COUNCIL", NHS_NO_CONSENT, purpose="step-down", role="early-help-worker")
    consent_id = record(world, consent("c-2", purposes=["step-down"], kinds=["council"]))

    after = ask(world, "COUNCIL", NHS_NO_CONSENT, purpose="step-down", role="early-help-worker")

    assert before.status_code == 403
    assert after.status_code == 200, after.text
    body = after.json()
    assert body["rule_ids"] == ["SD-001"] and body["legal_basis"] == "consent"
    assert body["consent_ids"] == [consent_id]
    decision = last_entry(world.hub)["decision"]
    assert "notify-lead-professional" in decision["obligations"]


def test_004_practitioner_checks_for_an_existing_lead_professional_first(world: World) -> None:
    record(world, consent("c-1", purposes=["lead-professional-check"], kinds=["school"]))

    response = ask(
        world,
        "SCHOOL",
        NHS_CONSENTED,
        purpose="lead-professional-check",
        role="designated-safeguarding-lead",
    )

    assert response.status_code == 200, response.text
    leads = [i for i in response.json()["involvements"] if i["lead_professional"]]
    assert len(leads) == 1 and leads[0]["agency"]["code"] == "COUNCIL"
    assert leads[0]["practitioner"]["email"]
    assert response.json()["rule_ids"][0] == "EH-007"


def test_003_consent_refused_and_the_need_is_likely_to_escalate(world: World) -> None:
    refusal = record(world, consent("c-1", status="refused", purposes=[], kinds=["council"]))

    lead = ask(world, "COUNCIL", NHS_CONSENTED, purpose="referral", role="lead-professional")
    reason = last_entry(world.hub)["decision"]["reasons"]
    front_door = ask(
        world, "COUNCIL", NHS_CONSENTED, purpose="front-door-triage", role="front-door"
    )

    assert lead.status_code == 403 and reason == ["consent-refused"]
    assert front_door.status_code == 200, front_door.text
    body = front_door.json()
    assert body["legal_basis"] == "public-task-ca1989-s17" and body["rule_ids"][0] == "FD-001"
    decision = last_entry(world.hub)["decision"]
    assert "shared-despite-recorded-refusal" in decision["reasons"]
    assert refusal in decision["consent_ids"]


def test_004_derbyshire_front_door_shares_with_police_and_health(world: World) -> None:
    police = ask(
        world, "POLICE", NHS_NO_CONSENT, purpose="front-door-triage", role="police-safeguarding"
    )
    health = ask(world, "HEALTH", NHS_NO_CONSENT, purpose="front-door-triage", role="front-door")
    officer = ask(
        world, "POLICE", NHS_NO_CONSENT, purpose="front-door-triage", role="police-officer"
    )

    assert police.status_code == 200 and police.json()["rule_ids"] == ["FD-002"]
    assert health.status_code == 200 and health.json()["rule_ids"] == ["FD-003"]
    assert police.json()["legal_basis"] == health.json()["legal_basis"] == "public-task-ca1989-s17"
    assert officer.status_code == 403


def test_004_a_professional_meeting_the_family_is_not_told_of(world: World) -> None:
    not_told = {
        **OVERRIDE,
        "X-Override-Family-Told": "no",
        "X-Override-Not-Told-Reason": "Telling the parents would put the child at increased risk.",
    }
    without = ask(
        world, "COUNCIL", NHS_NO_CONSENT, purpose="team-around-the-family", role="social-worker"
    )

    response = ask(
        world,
        "COUNCIL",
        NHS_NO_CONSENT,
        purpose="team-around-the-family",
        role="social-worker",
        extra=not_told,
    )

    assert without.status_code == 403
    assert response.status_code == 200, response.text
    assert response.json()["legal_basis"] == "safeguarding-dpa2018-sch1-para18"
    assert response.json()["rule_ids"] == ["PM-001"]
    entry = last_entry(world.hub)
    assert entry["decision"]["ig_review"] is True
    override = entry["decision"]["override"]
    assert override["family_told"] is False
    assert override["para_18c_reason"] == "seeking-consent-would-prejudice-protection"
    assert "increased risk" in override["not_told_reason"]


def test_an_override_without_justification_is_refused_with_400_and_logged(world: World) -> None:
    before = log_size(world.hub)
    short = {**OVERRIDE, "X-Override-Justification": "   "}

    response = ask(
        world,
        "COUNCIL",
        NHS_NO_CONSENT,
        purpose="team-around-the-family",
        role="social-worker",
        extra=short,
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "override-justification-missing"
    assert "X-Override-Justification" in response.json()["message"]
    assert log_size(world.hub) == before + 1
    entry = last_entry(world.hub)
    assert entry["outcome"] == "deny"
    assert entry["asked"]["override"]["reason"] == OVERRIDE["X-Override-Reason"]


def test_an_override_by_a_teacher_is_refused_and_logged(world: World) -> None:
    before = log_size(world.hub)

    response = ask(
        world,
        "SCHOOL",
        NHS_NO_CONSENT,
        purpose="team-around-the-family",
        role="teacher",
        extra=OVERRIDE,
    )

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "override-not-allowed"
    assert log_size(world.hub) == before + 1


def test_everything_except_mental_health_withholds_the_camhs_involvement(world: World) -> None:
    world.api.post(
        "/v1/consents",
        json={
            **consent("c-1"),
            "provisions": [{"type": "deny", "categories": ["PSY"]}],
        },
        headers=world.auth("COUNCIL"),
    )

    response = ask(
        world, "COUNCIL", NHS_CONSENTED, purpose="team-around-the-family", role="lead-professional"
    )

    assert response.status_code == 200, response.text
    assert all(not i["shielded"] for i in response.json()["involvements"])
    assert len(response.json()["involvements"]) == 3
    withheld = last_entry(world.hub)["decision"]["withheld"]
    assert [w["reason"] for w in withheld] == ["excluded-by-consent"]
