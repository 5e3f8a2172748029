"""The bulk import endpoint: the agency comes from the token, never from the file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.runtime import Hub
from tests.adapters.helpers import snapshot
from tests.adapters.test_police_council import case, consent, person
from tests.factories import World, make_world

HEADER = (
    "person_id,person_role,forename,surname,date_of_birth,gender,address,postcode,upn,"
    "nhs_number,related_person_id,relationship,case_id,case_type,level_of_need,"
    "allocated_worker_id,allocated_worker_name,allocated_worker_role,lead_professional,"
    "case_start_date,case_end_date,consent_id,consent_status,consent_given_by,consent_date,"
    "consent_end_date,consent_withdrawn_date"
)


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        yield make_world(hub, api)


def council_body(*rows: dict[str, str]) -> str:
    columns = HEADER.split(",")
    lines = [HEADER] + [",".join(row.get(c, "") for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def test_a_council_pushes_its_export(world: World) -> None:
    body = council_body(
        person("M1", "parent", "1984-04-04"),
        case("C1", "K1", nhs_number="9434765919", **consent("CON-1")),
        case("C2", "K2", nhs_number="9434765910"),
    )
    answer = world.api.post("/v1/imports/council", content=body, headers=world.auth("COUNCIL"))
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["agency"] == "COUNCIL"
    assert (summary["imported"], summary["quarantined"]) == (4, 1)
    assert summary["problems"][0]["field"] == "nhs_number"
    assert "quarantine_report" not in summary  # no server paths leave the hub

    again = world.api.post("/v1/imports/council", content=body, headers=world.auth("COUNCIL"))
    assert again.json()["unchanged"] == 4


def test_an_agency_cannot_push_another_kind_of_file(world: World) -> None:
    answer = world.api.post("/v1/imports/council", content="x\n", headers=world.auth("HEALTH"))
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["code"] == "wrong-import-kind"
    assert snapshot(world.hub)["counts"]["agency_record"] == 0


def test_a_malformed_file_is_one_clear_error(world: World) -> None:
    answer = world.api.post("/v1/imports/school", content="<nope", headers=world.auth("SCHOOL"))
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "file-structure"


def test_without_a_token_nothing_is_imported(world: World) -> None:
    answer = world.api.post("/v1/imports/council", content=council_body())
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("kind", "agency", "body"),
    [
        ("council", "COUNCIL", (HEADER + "\n").encode() + b"P1,child,Ann,Lee\xff\n"),
        ("health", "HEALTH", b'{"resourceType": "Patient", "id": "p\xfe1"}\n'),
        ("police", "POLICE", b'{"entity": "person", "person_id": "\xc3"}\n'),
        ("health", "HEALTH", b'{"resourceType": "Bundle", "entry": 5}'),
    ],
    ids=["council-not-utf8", "health-not-utf8", "police-not-utf8", "bundle-entry-not-a-list"],
)
def test_a_file_the_adapter_cannot_read_is_400_and_stores_nothing(
    world: World, kind: str, agency: str, body: bytes
) -> None:
    """Not a 500: these once escaped the adapters as decoding and type errors."""
    before = snapshot(world.hub)["counts"]
    answer = world.api.post(f"/v1/imports/{kind}", content=body, headers=world.auth(agency))
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["code"] == "file-structure"
    assert snapshot(world.hub)["counts"] == before
