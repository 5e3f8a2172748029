"""Information governance over HTTP: search, review queue, subject access, AuditEvent/CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.auditevent import AuditEvent
from sqlalchemy import select

from hub.agencies.models import Agency
from hub.app import create_app
from hub.auth.scopes import IG_SCOPES
from hub.clients import register_client
from hub.disclosure import log
from hub.disclosure.audit_event import BALP_SOURCE
from hub.disclosure.models import LogEntry
from hub.runtime import Hub
from tests.factories import NHS_CONSENTED, NHS_NO_CONSENT, World, make_world, populate


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        with hub.sessions() as session:
            council = session.execute(select(Agency).where(Agency.code == "COUNCIL")).scalar_one()
            built.clients["IG"] = register_client(
                session,
                client_id="ig-system",
                agency=council,
                token_endpoint=hub.settings.token_endpoint,
                scopes=list(IG_SCOPES),
            )
            session.commit()
        populate(built)
        built.ask("COUNCIL", f"nhs|{NHS_CONSENTED}", practitioner="C-7")
        built.ask("HEALTH", f"nhs|{NHS_NO_CONSENT}", practitioner="H-9")
        built.ask("SCHOOL", f"nhs|{NHS_CONSENTED}", practitioner="S-3", role="police-officer")
        built.ask(
            "COUNCIL",
            f"nhs|{NHS_CONSENTED}",
            practitioner="SW-1",
            role="social-worker",
            purpose="safeguarding-enquiry",
        )
        yield built


def _ig(world: World, path: str, **params: str) -> dict:  # type: ignore[type-arg]
    response = world.api.get(path, params=params, headers=world.auth("IG"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _person(world: World, nhs: str) -> str:
    found = _ig(world, "/v1/audit/entries", identifier=f"nhs|{nhs}", event="hub:disclosure:decided")
    return str(found["entries"][0]["entry"]["subject"])


def test_agency_systems_cannot_read_the_log(world: World) -> None:
    response = world.api.get("/v1/audit/entries", headers=world.auth("COUNCIL"))
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "insufficient-scope"


def test_search_by_child_practitioner_outcome_and_dates(world: World) -> None:
    child = _person(world, NHS_CONSENTED)
    by_child = _ig(world, "/v1/audit/entries", identifier=f"nhs|{NHS_CONSENTED}")["entries"]
    assert by_child and all(e["entry"]["subject"] == child for e in by_child)
    assert _ig(world, "/v1/audit/entries", child=child)["entries"] == by_child

    by_practitioner = _ig(world, "/v1/audit/entries", practitioner="H-9")["entries"]
    assert [e["entry"]["requester"]["agency"] for e in by_practitioner] == ["HEALTH"]

    denied = _ig(world, "/v1/audit/entries", outcome="deny", agency="SCHOOL")["entries"]
    assert denied and all(e["entry"]["outcome"] == "deny" for e in denied)

    lawful = _ig(world, "/v1/audit/entries", legal_basis="public-task-ca1989-s47")["entries"]
    assert [e["entry"]["purpose"] for e in lawful] == ["safeguarding-enquiry"]

    later = _ig(world, "/v1/audit/entries", since="2999-01-01T00:00:00Z")["entries"]
    assert later == []
    page = _ig(world, "/v1/audit/entries", limit="2")
    assert len(page["entries"]) == 2 and page["next_after"] == page["entries"][1]["entry"]["seq"]


def test_overrides_queue_for_review_and_a_review_is_logged(world: World) -> None:
    queue = _ig(world, "/v1/audit/review-queue")["entries"]
    assert [e["entry"]["purpose"] for e in queue] == ["safeguarding-enquiry"]
    assert queue[0]["review_state"] == "pending"
    target = queue[0]["entry"]["id"]

    reviewed = world.api.post(
        f"/v1/audit/entries/{target}/reviews",
        json={"state": "accepted", "comment": "s47 enquiry open; basis recorded correctly"},
        headers=world.auth("IG", **{"X-Practitioner": "IG-1"}),
    )
    assert reviewed.status_code == 201, reviewed.text

    assert _ig(world, "/v1/audit/review-queue")["entries"] == []
    accepted = _ig(world, "/v1/audit/entries", review_state="accepted")["entries"]
    assert [e["entry"]["id"] for e in accepted] == [target]
    review = _ig(world, "/v1/audit/entries", event="hub:review:recorded")["entries"][0]["entry"]
    assert review["review"]["entry_id"] == target and review["reviewer"]["practitioner"] == "IG-1"

    ordinary = _ig(world, "/v1/audit/entries", practitioner="H-9")["entries"][0]["entry"]["id"]
    flagged = world.api.post(
        f"/v1/audit/entries/{ordinary}/reviews",
        json={"state": "flagged", "comment": "check purpose"},
        headers=world.auth("IG", **{"X-Practitioner": "IG-1"}),
    )
    assert flagged.status_code == 201
    assert [e["entry"]["id"] for e in _ig(world, "/v1/audit/review-queue")["entries"]] == [ordinary]
    with world.hub.sessions() as session:
        assert log.verify(session).ok


def test_a_review_needs_the_review_scope(world: World) -> None:
    target = _ig(world, "/v1/audit/review-queue")["entries"][0]["entry"]["id"]
    response = world.api.post(
        f"/v1/audit/entries/{target}/reviews",
        json={"state": "accepted", "comment": "ok"},
        headers=world.auth("COUNCIL", **{"X-Practitioner": "C-1"}),
    )
    assert response.status_code == 403


def test_subject_access_lists_every_disclosure_about_the_child_and_no_other(world: World) -> None:
    child = _person(world, NHS_CONSENTED)
    other = _person(world, NHS_NO_CONSENT)

    report = _ig(world, "/v1/audit/subject-access", identifier=f"nhs|{NHS_CONSENTED}")

    with world.hub.sessions() as session:
        about = {
            e.entry_id: e.outcome
            for e in session.execute(
                select(LogEntry).where(
                    LogEntry.subject == child, LogEntry.event == "hub:disclosure:decided"
                )
            ).scalars()
        }
        others = set(
            session.execute(select(LogEntry.entry_id).where(LogEntry.subject == other)).scalars()
        )
    listed = {i["entry_id"] for i in report["disclosures"]} | {
        i["entry_id"] for i in report["refused"]
    }
    assert report["child"] == child
    assert listed == set(about)
    assert {i["entry_id"] for i in report["disclosures"]} == {
        k for k, v in about.items() if v != "deny"
    }
    assert not listed & others
    assert all(i["to_agency"] and i["purpose"] for i in report["disclosures"])
    assert any(i["disclosed"] for i in report["disclosures"])


def test_audit_events_validate_and_csv_matches(world: World) -> None:
    response = world.api.get("/v1/audit/entries/audit-events.ndjson", headers=world.auth("IG"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    events = [AuditEvent.model_validate_json(line) for line in response.text.splitlines()]
    disclosures = [e for e in events if e.meta and BALP_SOURCE in (e.meta.profile or [])]
    assert disclosures
    for event in disclosures:
        assert event.type.code == "110106" and event.subtype[0].code == "disclose"
        assert len(event.agent) >= 2 and any(a.requestor for a in event.agent)

    table = world.api.get("/v1/audit/entries.csv", headers=world.auth("IG"))
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [r["entry_id"] for r in rows] == [e.id for e in events]
    assert json.loads(rows[0]["withheld"] or "[]") == []
