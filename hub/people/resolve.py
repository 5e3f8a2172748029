"""Find the person an identifier names: the "resolve the child" step of every request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from hub.crypto.fields import BlindIndex
from hub.db.engine import Reads
from hub.db.reads import fetch_rows
from hub.identifiers import Identifier
from hub.people.models import Person
from hub.people.service import people_holding

NOBODY = "00000000-0000-0000-0000-000000000000"
"""A person id no one has: looked up for an unknown child so that it costs what a known one does."""


@dataclass(frozen=True)
class Resolution:
    """Whom an identifier names: a person's pseudonymous id, or nobody and why."""

    person_id: str | None
    reason: str | None = None


def resolve(reads: Reads, blind: BlindIndex, identifier: Identifier) -> Resolution:
    """Exact match through the blind index; an identifier held by two people names nobody.

    One query whether or not the child is known (so time does not tell them apart); only a
    person merged into another costs more, to follow the merge to the survivor.
    """
    people: set[str] = set()
    for person_id, merged_into in people_holding(reads, blind, identifier):
        survivor = _survivor(reads, person_id, merged_into)
        if survivor is not None:
            people.add(survivor)
    if not people:
        return Resolution(person_id=None, reason="subject-not-found")
    if len(people) > 1:
        return Resolution(person_id=None, reason="subject-ambiguous")
    return Resolution(person_id=people.pop())


def resolve_id(reads: Reads, person_id: str) -> Resolution:
    """The person the hub's own pseudonymous id names, following merges to the survivor."""
    found = fetch_rows(reads, _PERSON, {"person_id": person_id})
    survivor = _survivor(reads, found[0][0], found[0][1]) if found else None
    if survivor is None:
        return Resolution(person_id=None, reason="subject-not-found")
    return Resolution(person_id=survivor)


_PERSON = select(Person.id, Person.merged_into_id).where(Person.id == bindparam("person_id"))


def _survivor(reads: Reads, person_id: str, merged_into: str | None) -> str | None:
    """Follow a chain of merges to the person that remains (None if the chain is broken)."""
    seen: set[str] = set()
    current: str | None = person_id
    while current is not None and merged_into is not None and current not in seen:
        seen.add(current)
        found = fetch_rows(reads, _PERSON, {"person_id": merged_into})
        current, merged_into = (found[0][0], found[0][1]) if found else (None, None)
    return current
