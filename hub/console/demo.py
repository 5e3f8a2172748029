"""Demo sign-ins and a morning's worth of requests, so the console has something to show.

Passwords are generated at demo time and printed once; none is ever kept in the repository.
The requests go through the same decision path as the API's, as the agencies' systems
would send them, so every one of them is a real decision in the log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.agencies.models import Agency, ApiClient
from hub.console.users import ConsoleRole, create_user
from hub.decision.decide import Requester
from hub.disclosure.flow import decide_for, recorded
from hub.identifiers import NHS_NUMBER_SYSTEM, normalise
from hub.runtime import Hub
from hub.vocab import Purpose, Role


@dataclass(frozen=True)
class DemoSignIn:
    username: str
    role: ConsoleRole
    password: str
    agency: str | None


DEMO_USERS = [
    ("ig.officer", "Ife Adeyemi", ConsoleRole.IG_OFFICER, None, None),
    (
        "lead.professional",
        "Lena Brooks",
        ConsoleRole.LEAD_PROFESSIONAL,
        "COUNTY-COUNCIL",
        "COU-EH-1",
    ),
    ("front.door", "Femi Carter", ConsoleRole.FRONT_DOOR, "COUNTY-COUNCIL", "COU-FD-1"),
    ("admin", "Alex Dunn", ConsoleRole.ADMINISTRATOR, None, None),
]


def create_demo_users(session: Session) -> list[DemoSignIn]:
    made = []
    for username, name, role, agency_code, ref in DEMO_USERS:
        agency = (
            session.execute(select(Agency).where(Agency.code == agency_code)).scalar_one()
            if agency_code
            else None
        )
        password = secrets.token_urlsafe(12)
        create_user(
            session,
            username=username,
            display_name=name,
            role=role,
            password=password,
            agency=agency,
            practitioner_ref=ref,
        )
        made.append(DemoSignIn(username, role, password, agency.name if agency else None))
    return made


ASKERS = [
    (
        "COUNTY-COUNCIL",
        "demo-council",
        "COU-EH-1",
        Role.LEAD_PROFESSIONAL,
        Purpose.TEAM_AROUND_THE_FAMILY,
    ),
    ("COUNTY-COUNCIL", "demo-council", "COU-FD-2", Role.FRONT_DOOR, Purpose.FRONT_DOOR_TRIAGE),
    (
        "OAKFIELD-PRIMARY",
        "demo-school",
        "SCH-DSL-1",
        Role.DESIGNATED_SAFEGUARDING_LEAD,
        Purpose.LEAD_PROFESSIONAL_CHECK,
    ),
    (
        "COUNTY-POLICE",
        "demo-police",
        "POL-PPU-7",
        Role.POLICE_SAFEGUARDING,
        Purpose.SAFEGUARDING_ENQUIRY,
    ),
]


def make_requests(hub: Hub, session: Session, nhs_numbers: list[str]) -> int:
    """Ask about each demo child as each agency's system would; returns decisions made."""
    kinds = {a.code: a.kind for a in session.execute(select(Agency)).scalars()}
    # The demo school is whichever school the synthetic county made first: ask as the agency
    # each demo client acts for, not by a fixed code.
    acting = {
        c.client_id: c.agency.code
        for c in session.execute(select(ApiClient)).scalars()
        if c.client_id in {asker[1] for asker in ASKERS}
    }
    made = 0
    for n, nhs in enumerate(nhs_numbers):
        identifier = normalise(NHS_NUMBER_SYSTEM, nhs)
        for default_agency, client, practitioner, role, purpose in ASKERS[: 2 + n % 3]:
            agency = acting.get(client, default_agency)
            if agency not in kinds:
                continue
            requester = Requester(
                agency_code=agency,
                agency_kind=kinds[agency],
                client_id=client,
                practitioner=practitioner,
                role=role,
            )
            decided = decide_for(
                hub,
                session,
                identifier,
                purpose,
                requester,
                requester_log={
                    "agency": agency,
                    "client": client,
                    "practitioner": practitioner,
                    "role": str(role),
                },
                asked={
                    "what": "involvements",
                    "identifier_system": identifier.system,
                    "identifier_index": hub.crypto.blind.of(identifier.system, identifier.value),
                },
            )
            recorded(hub, session, decided)
            made += 1
    return made
