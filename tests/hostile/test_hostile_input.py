"""Hostile input: too large, too deep, malformed, or shaped like an attack.

Each gets a clear 4xx in the hub's error shape and nothing is stored; or, where a string is
legitimately free text, it is stored as data (never run as SQL) and never echoed in errors.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent.models import ConsentRecord
from hub.agencies.models import Practitioner
from hub.app import create_app
from hub.disclosure.models import LogHead
from hub.involvements.models import Involvement
from hub.people.models import AgencyRecord, Person
from hub.runtime import Hub
from tests.factories import NHS_CONSENTED, World, child, consent, involvement, make_world, populate

SQL = "x'); DROP TABLE agency_record; --"
SCRIPT = "<script>alert(1)</script>"
HOSTILE = (SQL, SCRIPT, "${jndi:ldap://x/a}", "{{7*7}}", "\u0000nul", "../../etc/passwd")


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        yield built


def stored(hub: Hub) -> tuple[int, ...]:
    with hub.sessions() as session:
        counts = [
            session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Person, AgencyRecord, Involvement, ConsentRecord, Practitioner)
        ]
        return (*counts, session.execute(select(LogHead.size)).scalar_one())


def assert_not_reflected_as_markup(response: Any) -> None:
    """Quoted input is JSON with <, > and & escaped, and the browser is told not to sniff."""
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<" not in response.text and ">" not in response.text
    assert "Traceback" not in response.text


def assert_clear_refusal(response: Any, status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"message", "errors"} and body["errors"][0]["code"]
    assert_not_reflected_as_markup(response)


def test_an_oversized_body_is_413_and_nothing_is_stored(world: World) -> None:
    before = stored(world.hub)
    big = {**child("9990000034"), "address": "x" * 2_000_000}

    response = world.api.put("/v1/records/big", json=big, headers=world.auth("COUNCIL"))

    assert_clear_refusal(response, 413)
    assert stored(world.hub) == before


def test_an_oversized_chunked_body_without_length_is_413(world: World) -> None:
    before = stored(world.hub)

    def chunks() -> Iterator[bytes]:
        yield b'{"kind": "child", "address": "'
        for _ in range(40):
            yield b"x" * 50_000
        yield b'"}'

    response = world.api.put(
        "/v1/records/big",
        content=chunks(),
        headers=world.auth("COUNCIL", **{"Content-Type": "application/json"}),
    )

    assert_clear_refusal(response, 413)
    assert stored(world.hub) == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/records/many",
            {
                **child("9990000034"),
                "identifiers": [{"system": "nhs", "value": "9434765919"}] * 11,
            },
        ),
        ("/v1/consents", {**consent("c-1"), "recipient_agencies": ["HEALTH"] * 51}),
        ("/v1/consents", {**consent("c-1"), "categories": ["PSY"] * 21}),
    ],
)
def test_oversized_identifier_lists_are_400(world: World, path: str, body: Any) -> None:
    before = stored(world.hub)
    method = world.api.post if path == "/v1/consents" else world.api.put

    response = method(path, json=body, headers=world.auth("COUNCIL"))

    assert_clear_refusal(response)
    assert stored(world.hub) == before


@pytest.mark.parametrize("depth", [64, 5_000, 50_000])
def test_deeply_nested_json_is_400(world: World, depth: int) -> None:
    before = stored(world.hub)
    nested = '{"a":' * depth + "1" + "}" * depth
    body = json.dumps(child("9990000034"))[:-1] + ', "extra": ' + nested + "}"

    response = world.api.put(
        "/v1/records/deep",
        content=body.encode(),
        headers=world.auth("COUNCIL", **{"Content-Type": "application/json"}),
    )

    assert_clear_refusal(response)
    assert stored(world.hub) == before


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"\x00\xff", b'{"kind": "child",}', b"[]", b"null", b'"text"', b"\xef\xbb\xbf{}"],
)
def test_malformed_json_is_400(world: World, raw: bytes) -> None:
    before = stored(world.hub)

    response = world.api.put(
        "/v1/records/bad",
        content=raw,
        headers=world.auth("COUNCIL", **{"Content-Type": "application/json"}),
    )

    assert_clear_refusal(response)
    assert stored(world.hub) == before


RECORD_FIELDS = ("local_id", "given_name", "family_name", "address", "postcode", "identifier")


def test_attack_strings_in_record_fields_are_refused_or_kept_as_data(world: World) -> None:
    for field, payload in itertools.product((*RECORD_FIELDS, "system"), HOSTILE):
        body = child("9990000034")
        local_id = f"hostile-{field}"
        if field == "local_id":
            if not payload.isprintable():
                continue  # not expressible in a URL path
            local_id = payload
        elif field in ("identifier", "system"):
            body["identifiers"] = [
                {"system": payload if field == "system" else "nhs", "value": payload}
            ]
        else:
            body[field] = payload
        before = stored(world.hub)

        response = world.api.put(
            f"/v1/records/{local_id}", json=body, headers=world.auth("COUNCIL")
        )

        if response.status_code == 200:
            assert response.json()["local_id"] == local_id
            assert_not_reflected_as_markup(response)
            with world.hub.sessions() as session:  # the tables are all still there
                assert session.execute(select(func.count()).select_from(AgencyRecord)).scalar_one()
        else:
            assert response.status_code in (400, 404), (field, payload, response.text)
            assert_clear_refusal(response, response.status_code)
            assert stored(world.hub) == before, (field, payload)


INVOLVEMENT_FIELDS = ("service", "service_name", "practitioner.name", "practitioner.ref", "record")


def test_attack_strings_in_involvement_fields(world: World) -> None:
    for field, payload in itertools.product(INVOLVEMENT_FIELDS, HOSTILE):
        body = involvement("c-1", "early-help")
        if "." in field:
            body["practitioner"][field.split(".")[1]] = payload
        else:
            body[field] = payload
        before = stored(world.hub)

        response = world.api.put("/v1/involvements/h-9", json=body, headers=world.auth("COUNCIL"))

        if response.status_code != 200:
            assert_clear_refusal(response)
            assert stored(world.hub) == before, (field, payload)
        # disclosed back only to a permitted caller, as escaped JSON
        assert_not_reflected_as_markup(world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}"))


def test_attack_strings_on_the_read_path_are_refused_and_not_echoed_as_markup(
    world: World,
) -> None:
    for (where, name), payload in itertools.product(
        [("query", "identifier"), ("query", "purpose"), ("header", "X-Practitioner")], HOSTILE
    ):
        params = {"identifier": f"nhs|{NHS_CONSENTED}", "purpose": "team-around-the-family"}
        headers = {"X-Practitioner": "P-1", "X-Practitioner-Role": "lead-professional"}
        if where == "query":
            params[name] = payload
        elif payload.isprintable():
            headers[name] = payload
        else:
            continue  # HTTP header values cannot carry control characters

        response = world.api.get(
            "/v1/children/involvements", params=params, headers=world.auth("COUNCIL", **headers)
        )

        if name == "X-Practitioner":
            # a free-text id: the request is decided; the id goes to the log, not the answer
            assert payload not in response.text
            assert_not_reflected_as_markup(response)
        else:
            assert_clear_refusal(response)
