"""'Who else is involved' over HTTP: every answer, and exactly one log entry for each."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select

from hub.app import create_app
from hub.disclosure.log import verify
from hub.disclosure.models import LogEntry, LogHead
from hub.runtime import Hub
from tests.factories import (
    NHS_CONSENTED,
    NHS_NO_CONSENT,
    NHS_UNKNOWN,
    UPN_CONSENTED,
    World,
    consent,
    make_world,
    populate,
)


@pytest.fixture
def world(hub: Hub) -> Iterator[World]:
    with TestClient(create_app(hub)) as api:
        built = make_world(hub, api)
        populate(built)
        yield built


def log_size(hub: Hub) -> int:
    with hub.sessions() as session:
        return session.execute(select(LogHead.size)).scalar_one()


def last_entry(hub: Hub) -> dict[str, object]:
    with hub.sessions() as session:
        row = session.execute(select(LogEntry).order_by(LogEntry.seq.desc()).limit(1)).scalar_one()
        return json.loads(row.body)  # type: ignore[no-any-return]


def test_permitted_request_returns_involvements_and_decision(world: World) -> None:
    before = log_size(world.hub)

    response = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "partial"  # CAMHS is shielded
    assert body["legal_basis"] == "consent"
    assert body["rule_ids"] == ["EH-002"]
    assert len(body["consent_ids"]) == 1
    services = {i["service"] for i in body["involvements"] if not i["shielded"]}
    assert services == {"early-help", "school-nursing", "designated-safeguarding-lead"}
    lead = [i for i in body["involvements"] if i["lead_professional"]]
    assert lead and lead[0]["agency"]["code"] == "COUNCIL"
    assert log_size(world.hub) == before + 1
    entry = last_entry(world.hub)
    assert entry["id"] == body["decision_id"] == body["receipt"]["entry_id"]
    assert entry["outcome"] == "partial"


def test_sensitive_service_is_shielded_to_a_contact_point(world: World) -> None:
    body = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").json()

    shielded = [i for i in body["involvements"] if i["shielded"]]
    assert len(shielded) == 1
    assert shielded[0]["agency"] is None and shielded[0]["practitioner"] is None
    assert shielded[0]["service"] is None
    assert shielded[0]["contact"] == "Trust safeguarding team"
    assert "camhs" not in json.dumps(body).lower()


def test_consent_naming_the_category_unshields_it(world: World) -> None:
    world.api.post(
        "/v1/consents",
        json=consent("c-1", categories=["involvement", "PSY"]),
        headers=world.auth("COUNCIL"),
    )

    body = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").json()

    assert body["outcome"] == "permit"
    assert "camhs" in {i["service"] for i in body["involvements"]}


def test_upn_resolves_the_same_child(world: World) -> None:
    response = world.ask("COUNCIL", f"upn|{UPN_CONSENTED}")

    assert response.status_code == 200
    assert len(response.json()["involvements"]) == 4


def test_denied_without_consent_leaves_one_entry(world: World) -> None:
    before = log_size(world.hub)

    response = world.ask("COUNCIL", f"nhs|{NHS_NO_CONSENT}")

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "not-permitted"
    assert log_size(world.hub) == before + 1
    entry = last_entry(world.hub)
    assert entry["decision"]["reasons"] == ["no-consent"]  # type: ignore[index]
    assert entry["subject"] is not None


def test_denied_for_an_agency_with_no_sharing_rule(world: World) -> None:
    before = log_size(world.hub)

    response = world.ask("POLICE", f"nhs|{NHS_CONSENTED}", role="police-officer")

    assert response.status_code == 403
    assert log_size(world.hub) == before + 1
    assert last_entry(world.hub)["decision"]["reasons"] == ["no-sharing-rule"]  # type: ignore[index]


def test_rule_without_consent_shares_and_records_the_basis(world: World) -> None:
    response = world.ask(
        "COUNCIL", f"nhs|{NHS_NO_CONSENT}", purpose="safeguarding-enquiry", role="social-worker"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["legal_basis"] == "public-task-ca1989-s47"
    assert body["rule_ids"] == ["CP-001"]
    assert body["consent_ids"] == []


def test_unknown_child_is_indistinguishable_from_denied(world: World) -> None:
    before = log_size(world.hub)

    denied = world.ask("COUNCIL", f"nhs|{NHS_NO_CONSENT}")
    unknown = world.ask("COUNCIL", f"nhs|{NHS_UNKNOWN}")

    assert denied.status_code == unknown.status_code == 403
    strip = ("decision_id", "receipt")
    assert {k: v for k, v in denied.json().items() if k not in strip} == {
        k: v for k, v in unknown.json().items() if k not in strip
    }
    assert set(denied.json()) == set(unknown.json())
    assert dict(denied.headers).keys() == dict(unknown.headers).keys()
    assert log_size(world.hub) == before + 2
    assert last_entry(world.hub)["decision"]["reasons"] == ["subject-not-found"]  # type: ignore[index]


def test_withdrawal_takes_effect_on_the_next_decision(world: World) -> None:
    consent_id = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").json()["consent_ids"][0]

    withdrawn = world.api.post(
        f"/v1/consents/{consent_id}/withdraw",
        headers=world.auth("COUNCIL", **{"X-Practitioner": "EH-1"}),
    )

    assert withdrawn.status_code == 200, withdrawn.text
    assert world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}").status_code == 403


def test_refusal_recorded_after_consent_stops_it(world: World) -> None:
    world.api.post(
        "/v1/consents", json=consent("c-1", status="refused"), headers=world.auth("COUNCIL")
    )

    response = world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}")

    assert response.status_code == 403
    assert last_entry(world.hub)["decision"]["reasons"] == ["consent-refused"]  # type: ignore[index]


def test_without_a_token_the_answer_is_401_and_logged(world: World) -> None:
    before = log_size(world.hub)

    response = world.api.get(
        "/v1/children/involvements",
        params={"identifier": f"nhs|{NHS_CONSENTED}", "purpose": "team-around-the-family"},
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["code"] == "missing-token"
    assert log_size(world.hub) == before + 1
    entry = last_entry(world.hub)
    assert entry["outcome"] == "deny" and entry["subject"] is None


def _forged(claims: dict[str, object], key: ECKey | None = None, alg: str = "ES256") -> str:
    return jwt.encode(
        {"alg": alg}, claims, key or ECKey.generate_key("P-256", private=True), algorithms=[alg]
    )


def _claims(hub: Hub, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": hub.settings.public_url,
        "aud": hub.settings.public_url,
        "sub": "council-system",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "agency": "COUNCIL",
        "agency_kind": "council",
        "scope": "system/CareTeam.read",
    }
    claims.update(overrides)
    return claims


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda hub: "not-a-jwt", id="garbage"),
        pytest.param(lambda hub: _forged(_claims(hub)), id="signed-with-another-key"),
        pytest.param(lambda hub: _unsigned(_claims(hub)), id="alg-none"),
        pytest.param(
            lambda hub: _forged(
                _claims(hub, exp=int(time.time()) - 600), hub.keyring.token_signing_key
            ),
            id="expired",
        ),
        pytest.param(
            lambda hub: _forged(
                _claims(hub, aud="https://elsewhere.example"), hub.keyring.token_signing_key
            ),
            id="wrong-audience",
        ),
        pytest.param(
            lambda hub: _forged(
                _claims(hub, iss="https://elsewhere.example"), hub.keyring.token_signing_key
            ),
            id="wrong-issuer",
        ),
        pytest.param(
            lambda hub: _forged(
                _claims(hub, nbf=int(time.time()) + 600), hub.keyring.token_signing_key
            ),
            id="not-yet-valid",
        ),
    ],
)
def test_bad_tokens_are_refused_with_401_and_logged(world: World, make_token) -> None:  # type: ignore[no-untyped-def]
    before = log_size(world.hub)

    response = world.api.get(
        "/v1/children/involvements",
        params={"identifier": f"nhs|{NHS_CONSENTED}", "purpose": "team-around-the-family"},
        headers={
            "Authorization": f"Bearer {make_token(world.hub)}",
            "X-Practitioner": "P-1",
            "X-Practitioner-Role": "lead-professional",
        },
    )

    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["code"] == "invalid-token"
    assert "involvements" not in response.json()
    assert log_size(world.hub) == before + 1


@pytest.mark.parametrize(
    ("identifier", "code", "words"),
    [
        ("9434765919", "identifier-format", "|"),
        ("nhs|9434765910", "nhs-number-checksum", "check digit"),
        ("nhs|12345", "nhs-number-format", "10 digits"),
        ("upn|A801200005001", "upn-check-letter", "check letter"),
        ("passport|123456789", "unknown-identifier-system", "system"),
        ("nhs|", "identifier-format", ""),
    ],
)
def test_malformed_identifiers_are_400_with_a_clear_message(
    world: World, identifier: str, code: str, words: str
) -> None:
    before = log_size(world.hub)

    response = world.ask("COUNCIL", identifier)

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errors"][0]["code"] == code
    assert words in body["message"]
    assert log_size(world.hub) == before + 1
    assert last_entry(world.hub)["decision"]["reasons"] == [code]  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "headers", "code"),
    [
        ({"identifier": f"nhs|{NHS_CONSENTED}", "purpose": "curiosity"}, {}, "purpose-invalid"),
        (
            {"identifier": f"nhs|{NHS_CONSENTED}", "purpose": "referral"},
            {"X-Practitioner-Role": "astronaut"},
            "role-invalid",
        ),
        ({"purpose": "referral"}, {}, "identifier-missing"),
    ],
)
def test_malformed_requests_are_400_and_logged(
    world: World, params: dict[str, str], headers: dict[str, str], code: str
) -> None:
    before = log_size(world.hub)
    sent = {"X-Practitioner": "P-1", "X-Practitioner-Role": "lead-professional", **headers}

    response = world.api.get(
        "/v1/children/involvements", params=params, headers=world.auth("COUNCIL", **sent)
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code
    assert log_size(world.hub) == before + 1


def test_the_chain_verifies_after_a_mixed_session(world: World) -> None:
    world.ask("COUNCIL", f"nhs|{NHS_CONSENTED}")
    world.ask("COUNCIL", f"nhs|{NHS_UNKNOWN}")
    world.ask("POLICE", "nhs|123")

    with world.hub.sessions() as session:
        result = verify(session)

    assert result.ok, result.reason
    assert result.entries == log_size(world.hub)
