"""Find the person an identifier names: the "resolve the child" step of every request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hub.crypto.fields import BlindIndex
from hub.identifiers import Identifier
from hub.people.models import Person
from hub.people.service import persons_holding

NOBODY = "00000000-0000-0000-0000-000000000000"
"""A person id no one has: looked up for an unknown child so that it costs what a known one does."""


@dataclass(frozen=True)
class Resolution:
    person: Person | None
    reason: str | None = None


def resolve(session: Session, blind: BlindIndex, identifier: Identifier) -> Resolution:
    """Exact match through the blind index; an identifier held by two people names nobody."""
    people: set[str] = set()
    for person_id in persons_holding(session, blind, identifier):
        person = session.get(Person, person_id)
        seen: set[str] = set()
        while person is not None and person.merged_into_id and person.id not in seen:
            seen.add(person.id)
            person = session.get(Person, person.merged_into_id)
        if person is not None:
            people.add(person.id)
    if not people:
        session.get(Person, NOBODY)  # the same round trip as a found person; see the flow
        return Resolution(person=None, reason="subject-not-found")
    if len(people) > 1:
        return Resolution(person=None, reason="subject-ambiguous")
    return Resolution(person=session.get(Person, people.pop()))


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
