"""Families from the index: carers as the agencies reported them, siblings and households derived.

Siblings are children who share a carer (or whom an agency called siblings); a household is
the people whose records share an address, matched through a keyed hash, never the address
itself. Both follow people through merges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.crypto.fields import BlindIndex
from hub.linkage.features import Features
from hub.linkage.models import LinkBlockKey
from hub.linkage.service import current_person
from hub.people.models import AgencyRecord, Relationship
from hub.vocab import CARER_KINDS, RelationshipKind

HOUSEHOLD_SYSTEM = "urn:early-help-hub:household"


def household_key(f: Features) -> str | None:
    """Same full postcode and same cleaned address line: one dwelling."""
    if not f.postcode or not f.address:
        return None
    return f"household:{f.postcode}|{f.address}"


def household_hash(blind: BlindIndex, f: Features) -> str | None:
    key = household_key(f)
    return blind.of(HOUSEHOLD_SYSTEM, key) if key else None


@dataclass
class Family:
    person_id: str
    carers: set[str] = field(default_factory=set)
    siblings: set[str] = field(default_factory=set)
    household: set[str] = field(default_factory=set)

    @property
    def everyone(self) -> set[str]:
        return (self.carers | self.siblings | self.household) - {self.person_id}


def _ties(session: Session, person_ids: set[str]) -> list[Relationship]:
    return list(
        session.execute(
            select(Relationship).where(
                or_(
                    Relationship.person_id.in_(person_ids),
                    Relationship.related_person_id.in_(person_ids),
                )
            )
        ).scalars()
    )


def _merged_ids(session: Session, person_id: str) -> set[str]:
    """The person and everyone merged into them: ties were recorded against the old ids."""
    from hub.people.models import Person

    found = {person_id}
    frontier = {person_id}
    while frontier:
        rows = session.execute(
            select(Person.id).where(Person.merged_into_id.in_(frontier))
        ).scalars()
        frontier = set(rows) - found
        found |= frontier
    return found


def family_of(session: Session, person_id: str) -> Family:
    person_id = current_person(session, person_id)
    me = _merged_ids(session, person_id)
    family = Family(person_id=person_id)
    for tie in _ties(session, me):
        if tie.person_id in me and tie.kind in CARER_KINDS:
            family.carers.add(current_person(session, tie.related_person_id))
        elif tie.kind == RelationshipKind.SIBLING:
            other = tie.related_person_id if tie.person_id in me else tie.person_id
            family.siblings.add(current_person(session, other))
        elif tie.kind == RelationshipKind.HOUSEHOLD_MEMBER:
            other = tie.related_person_id if tie.person_id in me else tie.person_id
            family.household.add(current_person(session, other))
    carers = set()
    for carer in family.carers:
        carers |= _merged_ids(session, carer)
    if carers:
        for tie in _ties(session, carers):
            if tie.related_person_id in carers and tie.kind in CARER_KINDS:
                family.siblings.add(current_person(session, tie.person_id))
    my_keys = (
        select(LinkBlockKey.key)
        .join(AgencyRecord, AgencyRecord.id == LinkBlockKey.record_id)
        .where(AgencyRecord.person_id.in_(me), LinkBlockKey.key.like("h:%"))
    )
    rows = session.execute(
        select(AgencyRecord.person_id)
        .join(LinkBlockKey, LinkBlockKey.record_id == AgencyRecord.id)
        .where(LinkBlockKey.key.in_(my_keys))
    ).scalars()
    family.household |= {current_person(session, p) for p in rows}
    family.siblings.discard(person_id)
    family.household.discard(person_id)
    return family
