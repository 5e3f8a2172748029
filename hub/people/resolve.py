"""Find the person an identifier names: the "resolve the child" step of every request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hub.crypto.fields import BlindIndex
from hub.identifiers import Identifier
from hub.people.models import Person
from hub.people.service import people_holding

NOBODY = "00000000-0000-0000-0000-000000000000"
"""A person id no one has: looked up for an unknown child so that it costs what a known one does."""


@dataclass(frozen=True)
class Resolution:
    person: Person | None
    reason: str | None = None


def resolve(session: Session, blind: BlindIndex, identifier: Identifier) -> Resolution:
    """Exact match through the blind index; an identifier held by two people names nobody.

    One query whether or not the child is known (so time does not tell them apart); only a
    person merged into another costs more, to follow the merge to the survivor.
    """
    people: dict[str, Person] = {}
    for person in people_holding(session, blind, identifier):
        seen: set[str] = set()
        survivor: Person | None = person
        while survivor is not None and survivor.merged_into_id and survivor.id not in seen:
            seen.add(survivor.id)
            survivor = session.get(Person, survivor.merged_into_id)
        if survivor is not None:
            people[survivor.id] = survivor
    if not people:
        return Resolution(person=None, reason="subject-not-found")
    if len(people) > 1:
        return Resolution(person=None, reason="subject-ambiguous")
    return Resolution(person=people.popitem()[1])


def resolve_id(session: Session, person_id: str) -> Resolution:
    """The person the hub's own pseudonymous id names, following merges to the survivor."""
    person = session.get(Person, person_id)
    seen: set[str] = set()
    while person is not None and person.merged_into_id and person.id not in seen:
        seen.add(person.id)
        person = session.get(Person, person.merged_into_id)
    if person is None:
        return Resolution(person=None, reason="subject-not-found")
    return Resolution(person=person)
