"""A small, explicit world for the API tests: agencies, their systems, one family."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from hub.clients import ClientCredentials, ensure_agency, register_client
from hub.runtime import Hub
from hub.vocab import AgencyKind

NHS_CONSENTED = "9434765919"  # DOMAIN.md's worked example; valid check digit
NHS_NO_CONSENT = "9876544322"
NHS_UNKNOWN = "9990000018"
NHS_REFUSED = "9990000026"
UPN_CONSENTED = "B801200005001"

AGENCIES = {
    "HEALTH": ("Community Health Trust", AgencyKind.HEALTH, "Trust safeguarding team"),
    "SCHOOL": ("Oakfield Primary", AgencyKind.SCHOOL, "Designated safeguarding lead"),
    "POLICE": ("County Police", AgencyKind.POLICE, "Public protection unit"),
    "COUNCIL": ("County Council", AgencyKind.COUNCIL, "Early help front door"),
}


@dataclass
class World:
    api: TestClient
    hub: Hub
    clients: dict[str, ClientCredentials] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, agency: str) -> str:
        if agency not in self.tokens:
            response = self.api.post("/oauth/token", data=self.clients[agency].token_form())
            assert response.status_code == 200, response.text
            self.tokens[agency] = response.json()["access_token"]
        return self.tokens[agency]

    def auth(self, agency: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(agency)}", **extra}

    def put(self, agency: str, path: str, body: dict[str, Any]) -> Any:
        response = self.api.put(path, json=body, headers=self.auth(agency))
        assert response.status_code == 200, response.text
        return response.json()

    def ask(
        self,
        agency: str,
        identifier: str,
        *,
        purpose: str = "team-around-the-family",
        role: str = "lead-professional",
        practitioner: str = "P-1",
    ) -> Any:
        return self.api.get(
            "/v1/children/involvements",
            params={"identifier": identifier, "purpose": purpose},
            headers=self.auth(
                agency, **{"X-Practitioner": practitioner, "X-Practitioner-Role": role}
            ),
        )


def make_world(hub: Hub, api: TestClient) -> World:
    world = World(api=api, hub=hub)
    with hub.sessions() as session:
        for code, (name, kind, contact) in AGENCIES.items():
            agency = ensure_agency(session, code=code, name=name, kind=kind, contact=contact)
            world.clients[code] = register_client(
                session,
                client_id=f"{code.lower()}-system",
                agency=agency,
                token_endpoint=hub.settings.token_endpoint,
            )
        session.commit()
    return world


def child(
    nhs: str,
    given: str = "Jayden",
    family: str = "Smyth",
    born: str = "2015-04-03",
    upn: str | None = None,
) -> dict[str, Any]:
    identifiers = [{"system": "nhs", "value": nhs}]
    if upn:
        identifiers.append({"system": "upn", "value": upn})
    return {
        "kind": "child",
        "identifiers": identifiers,
        "given_name": given,
        "family_name": family,
        "birth_date": born,
        "sex": "male",
        "address": "14 Mill Lane, Oakfield",
        "postcode": "LE1 6AB",
    }


def involvement(
    record: str,
    service: str,
    *,
    tier: str = "universal",
    level: int = 1,
    lead: bool = False,
    sensitivity: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "record": record,
        "service": service,
        "service_name": service.replace("-", " ").capitalize(),
        "tier": tier,
        "level_of_need": level,
        "lead_professional": lead,
        "start_date": (date.today() - timedelta(days=30)).isoformat(),
        "practitioner": {
            "ref": f"{service}-1",
            "name": "Sam Practitioner",
            "role": "lead-professional" if lead else "health-visitor",
            "email": "sam@example.org",
            "phone": "0300 555 0100",
        },
    }
    if sensitivity:
        body["sensitivity"] = sensitivity
    return body


def consent(
    record: str,
    *,
    status: str = "active",
    kinds: list[str] | None = None,
    purposes: list[str] | None = None,
    categories: list[str] | None = None,
) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(days=1)
    return {
        "record": record,
        "status": status,
        "given_by": "parent",
        "grantor_record": "parent-1",
        "practitioner": "EH-1",
        "method": "written",
        "form_reference": "EHA-1",
        "purposes": purposes if purposes is not None else ["team-around-the-family"],
        "recipient_kinds": kinds if kinds is not None else ["council", "health", "school"],
        "categories": categories or [],
        "period_start": start.isoformat(),
        "period_end": (start + timedelta(days=365)).isoformat(),
    }


def populate(world: World) -> None:
    """Two children known to health, school and council; one with consent, one without."""
    parent = {
        "kind": "adult",
        "given_name": "Sarah",
        "family_name": "Smyth",
        "address": "14 Mill Lane, Oakfield",
        "postcode": "LE1 6AB",
    }
    world.put("COUNCIL", "/v1/records/parent-1", parent)
    world.put("COUNCIL", "/v1/records/c-1", child(NHS_CONSENTED, upn=UPN_CONSENTED))
    world.put("HEALTH", "/v1/records/h-1", child(NHS_CONSENTED, given="Jaydon", family="Smith"))
    world.put("SCHOOL", "/v1/records/s-1", child(NHS_CONSENTED, upn=UPN_CONSENTED))
    world.put(
        "COUNCIL", "/v1/records/c-2", child(NHS_NO_CONSENT, given="Olivia", born="2016-09-01")
    )
    world.put("HEALTH", "/v1/records/h-2", child(NHS_NO_CONSENT, given="Olivia", born="2016-09-01"))
    world.put(
        "COUNCIL",
        "/v1/involvements/eh-1",
        involvement("c-1", "early-help", tier="targeted", level=3, lead=True),
    )
    world.put("HEALTH", "/v1/involvements/hv-1", involvement("h-1", "school-nursing"))
    world.put(
        "HEALTH",
        "/v1/involvements/camhs-1",
        involvement("h-1", "camhs", tier="specialist", level=3, sensitivity="PSY"),
    )
    world.put(
        "SCHOOL", "/v1/involvements/dsl-1", involvement("s-1", "designated-safeguarding-lead")
    )
    world.put("HEALTH", "/v1/involvements/hv-2", involvement("h-2", "school-nursing"))
    response = world.api.post("/v1/consents", json=consent("c-1"), headers=world.auth("COUNCIL"))
    assert response.status_code == 201, response.text
