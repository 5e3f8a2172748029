"""A small synthetic county for ``hub demo``: made-up families, every one generated here.

Deterministic by seed. The families cover what the demo needs to show: all four agency
kinds involved, a lead professional, sensitive services that are shielded, twins, and
consents given, refused, withdrawn and absent. Everything goes in through the same
service functions the API uses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from consent.schemas import ConsentIn
from consent.service import record_consent, withdraw_consent
from hub.agencies.models import Agency
from hub.clients import ClientCredentials, ensure_agency, register_client
from hub.identifiers import NHS_NUMBER_SYSTEM, UPN_SYSTEM, upn_with_check_letter
from hub.involvements.schemas import InvolvementIn, PractitionerIn
from hub.involvements.service import upsert_involvement
from hub.people.schemas import IdentifierIn, RecordIn, RelationshipIn
from hub.people.service import Crypto, upsert_record
from hub.vocab import AgencyKind, ConsentGiver, ConsentMethod, PersonKind, Purpose, Role, Tier

GIVEN = [
    "Amara",
    "Jayden",
    "Olivia",
    "Mohammed",
    "Freya",
    "Leo",
    "Aisha",
    "Harry",
    "Isla",
    "Oscar",
    "Zara",
    "Noah",
    "Ruby",
    "Kacper",
    "Maya",
    "Tomasz",
    "Evie",
    "Yusuf",
]
ADULT_GIVEN = ["Sarah", "Daniel", "Priya", "Michael", "Joanne", "Adebayo", "Karen", "Lee"]
FAMILY = [
    "Smith",
    "Okafor",
    "Khan",
    "Nowak",
    "Hughes",
    "Patel",
    "Walsh",
    "Begum",
    "Taylor",
    "Ahmed",
    "Clarke",
    "Evans",
]
STREETS = ["Mill Lane", "Station Road", "Church Street", "Park Avenue", "Victoria Road"]
TOWN_POSTCODES = ["LE1 6AB", "LE2 3XY", "DE1 2QT", "DE22 4LN", "WR5 1HE", "LS9 8AA"]

AGENCIES = [
    (
        "COUNTY-HEALTH",
        "County Community Health NHS Trust",
        AgencyKind.HEALTH,
        "Trust safeguarding team, 0300 555 0101",
    ),
    (
        "OAKFIELD-PRIMARY",
        "Oakfield Primary School",
        AgencyKind.SCHOOL,
        "Designated safeguarding lead, 0300 555 0102",
    ),
    ("COUNTY-POLICE", "County Police", AgencyKind.POLICE, "Public protection unit, 0300 555 0103"),
    (
        "COUNTY-COUNCIL",
        "County Council Children's Services",
        AgencyKind.COUNCIL,
        "Early help front door, 0300 555 0104",
    ),
]
CLIENTS = {
    "demo-health": "COUNTY-HEALTH",
    "demo-school": "OAKFIELD-PRIMARY",
    "demo-police": "COUNTY-POLICE",
    "demo-council": "COUNTY-COUNCIL",
}
CONSENT_STORIES = ["given", "refused", "absent", "withdrawn", "given", "given-child"]


@dataclass
class Child:
    local: str
    given: str
    family: str
    born: date
    nhs: str
    upn: str | None


@dataclass
class County:
    clients: dict[str, ClientCredentials] = field(default_factory=dict)
    examples: list[dict[str, str]] = field(default_factory=list)
    families: int = 0
    children: int = 0


def nhs_number(rng: random.Random) -> str:
    """A 999-prefixed NHS number with a valid check digit (999 numbers are used for tests)."""
    while True:
        body = "999" + "".join(str(rng.randrange(10)) for _ in range(6))
        total = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 10:
            continue
        return body + ("0" if check == 11 else str(check))


def upn(rng: random.Random) -> str:
    return upn_with_check_letter("".join(str(rng.randrange(10)) for _ in range(12)))


def build_county(
    session: Session, crypto: Crypto, *, token_endpoint: str, families: int = 12, seed: int = 7
) -> County:
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    today = date.today()
    county = County()
    agencies = {
        code: ensure_agency(session, code=code, name=name, kind=kind, contact=contact)
        for code, name, kind, contact in AGENCIES
    }
    for client_id, code in CLIENTS.items():
        county.clients[client_id] = register_client(
            session, client_id=client_id, agency=agencies[code], token_endpoint=token_endpoint
        )
    health, school = agencies["COUNTY-HEALTH"], agencies["OAKFIELD-PRIMARY"]
    police, council = agencies["COUNTY-POLICE"], agencies["COUNTY-COUNCIL"]
    for f in range(families):
        surname = FAMILY[f % len(FAMILY)]
        address = f"{rng.randrange(1, 120)} {rng.choice(STREETS)}"
        postcode = TOWN_POSTCODES[f % len(TOWN_POSTCODES)]
        parent_local = f"P{f:03d}"
        parent = RecordIn(
            kind=PersonKind.ADULT,
            given_name=rng.choice(ADULT_GIVEN),
            family_name=surname,
            address=address,
            postcode=postcode,
            birth_date=today - timedelta(days=365 * rng.randrange(22, 45)),
        )
        for agency in (health, council):
            upsert_record(session, crypto, agency=agency, local_id=parent_local, payload=parent)
        kids: list[Child] = []
        count = 2 if f == 1 else rng.randrange(1, 4)
        for k in range(count):
            age_days = rng.randrange(200, 365 * 15)
            born = kids[0].born if (f == 1 and k == 1) else today - timedelta(days=age_days)
            kids.append(
                Child(
                    local=f"C{f:03d}{k}",
                    given=GIVEN[(f * 3 + k) % len(GIVEN)],
                    family=surname,
                    born=born,
                    nhs=nhs_number(rng),
                    upn=upn(rng) if (today - born).days > 4 * 365 else None,
                )
            )
        for child in kids:
            _register_child(
                session,
                crypto,
                child,
                parent_local,
                address,
                postcode,
                agencies=(health, school, council),
            )
            if f % 5 == 2:  # a police notice; the force's record carries the NHS number
                upsert_record(
                    session,
                    crypto,
                    agency=police,
                    local_id=child.local,
                    payload=RecordIn(
                        kind=PersonKind.CHILD,
                        given_name=child.given,
                        family_name=child.family,
                        birth_date=child.born,
                        identifiers=[IdentifierIn(system=NHS_NUMBER_SYSTEM, value=child.nhs)],
                    ),
                )
            _involve(
                session,
                rng,
                child,
                health=health,
                school=school,
                police=police,
                council=council,
                family_index=f,
                today=today,
            )
            county.children += 1
        _consent(
            session,
            CONSENT_STORIES[f % len(CONSENT_STORIES)],
            kids,
            parent_local,
            agencies=agencies,
            county=county,
            today=today,
        )
        county.families += 1
    return county


def _register_child(
    session: Session,
    crypto: Crypto,
    child: Child,
    parent_local: str,
    address: str,
    postcode: str,
    *,
    agencies: tuple[Agency, ...],
) -> None:
    health, school, council = agencies
    ids = [IdentifierIn(system=NHS_NUMBER_SYSTEM, value=child.nhs)]
    base = dict(
        kind=PersonKind.CHILD,
        given_name=child.given,
        family_name=child.family,
        birth_date=child.born,
        address=address,
        postcode=postcode,
    )
    tie = [RelationshipIn(record=parent_local, kind="parent-with-parental-responsibility")]
    upsert_record(
        session,
        crypto,
        agency=health,
        local_id=child.local,
        payload=RecordIn(**base, identifiers=ids, relationships=tie),
    )
    upsert_record(
        session,
        crypto,
        agency=council,
        local_id=child.local,
        payload=RecordIn(**base, identifiers=ids, relationships=tie),
    )
    if child.upn:
        school_ids = [IdentifierIn(system=UPN_SYSTEM, value=child.upn), *ids]
        upsert_record(
            session,
            crypto,
            agency=school,
            local_id=child.local,
            payload=RecordIn(**base, identifiers=school_ids),
        )


def _involve(
    session: Session,
    rng: random.Random,
    child: Child,
    *,
    health: Agency,
    school: Agency,
    police: Agency,
    council: Agency,
    family_index: int,
    today: date,
) -> None:
    start = today - timedelta(days=rng.randrange(30, 400))
    age = (today - child.born).days / 365.25
    nurse = (
        ("health-visiting", "Health visiting", Role.HEALTH_VISITOR)
        if age < 5
        else ("school-nursing", "School nursing", Role.SCHOOL_NURSE)
    )
    plan: list[tuple[Agency, str, str, Tier, int, bool, str | None, Role]] = [
        (health, nurse[0], nurse[1], Tier.UNIVERSAL, 1, False, None, nurse[2]),
    ]
    if child.upn:
        plan.append(
            (
                school,
                "designated-safeguarding-lead",
                "Designated safeguarding lead",
                Tier.UNIVERSAL,
                2,
                False,
                None,
                Role.DESIGNATED_SAFEGUARDING_LEAD,
            )
        )
    if family_index % 3 == 0:
        plan.append(
            (
                council,
                "early-help",
                "Early help family support",
                Tier.TARGETED,
                3,
                True,
                None,
                Role.LEAD_PROFESSIONAL,
            )
        )
    if family_index % 4 == 1 and age > 11:
        plan.append(
            (
                health,
                "camhs",
                "Child and adolescent mental health",
                Tier.SPECIALIST,
                3,
                False,
                "PSY",
                Role.MENTAL_HEALTH_PRACTITIONER,
            )
        )
    if family_index % 5 == 2:
        plan.append(
            (
                police,
                "operation-encompass",
                "Operation Encompass notification",
                Tier.TARGETED,
                3,
                False,
                "SDV",
                Role.POLICE_SAFEGUARDING,
            )
        )
    for n, (agency, service, name, tier, level, lead, label, role) in enumerate(plan):
        ref = f"{agency.kind[:3].upper()}-{rng.randrange(100, 999)}"
        upsert_involvement(
            session,
            agency=agency,
            local_id=f"{child.local}-{service}-{n}",
            payload=InvolvementIn(
                record=child.local,
                service=service,
                service_name=name,
                tier=tier,
                level_of_need=level,
                lead_professional=lead,
                sensitivity=label,
                start_date=start,
                practitioner=PractitionerIn(
                    ref=ref,
                    name=f"{rng.choice(ADULT_GIVEN)} {rng.choice(FAMILY)}",
                    role=role,
                    email=f"{ref.lower()}@example.org",
                    phone="0300 555 0199",
                ),
            ),
        )


def _consent(
    session: Session,
    story: str,
    kids: list[Child],
    parent_local: str,
    *,
    agencies: dict[str, Agency],
    county: County,
    today: date,
) -> None:
    council = agencies["COUNTY-COUNCIL"]
    started = datetime.now(UTC) - timedelta(days=30)
    for child in kids:
        if story == "absent":
            county.examples.append({"story": "no consent recorded", "nhs": child.nhs})
            continue
        by_child = story == "given-child"
        consent = record_consent(
            session,
            agency=council,
            payload=ConsentIn(
                record=child.local,
                status="refused" if story == "refused" else "active",
                given_by=ConsentGiver.CHILD if by_child else ConsentGiver.PARENT,
                grantor_record=None if by_child else parent_local,
                competence_assessed_by="COU-EH-1" if by_child else None,
                practitioner="COU-EH-1",
                method=ConsentMethod.WRITTEN,
                form_reference=f"EHA-{child.local}",
                purposes=[
                    Purpose.TEAM_AROUND_THE_FAMILY,
                    Purpose.EARLY_HELP_ASSESSMENT,
                    Purpose.LEAD_PROFESSIONAL_CHECK,
                ],
                recipient_kinds=[AgencyKind.HEALTH, AgencyKind.SCHOOL, AgencyKind.COUNCIL],
                period_start=started,
                period_end=started + timedelta(days=365),
            ),
        )
        if story == "withdrawn":
            withdraw_consent(
                session, agency=council, consent_id=consent.id, practitioner="COU-EH-1"
            )
        label = {
            "given": "consent given",
            "refused": "consent refused",
            "withdrawn": "consent withdrawn",
            "given-child": "consent given by the child",
        }
        county.examples.append({"story": label[story], "nhs": child.nhs})
