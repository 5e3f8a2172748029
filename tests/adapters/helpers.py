"""Shared helpers for the adapter tests: import a file, and a comparable picture of the hub."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from adapters.importer import ImportSummary
from adapters.run import import_file
from consent.models import ConsentRecord
from hub.agencies.models import Agency
from hub.disclosure.models import LogEntry
from hub.involvements.models import Involvement
from hub.people.models import AgencyRecord, Person, RecordIdentifier, Relationship
from hub.runtime import Hub


def run(
    hub: Hub, kind: str, path: Path, **options: Any
) -> tuple[ImportSummary, list[dict[str, str]]]:
    return import_file(hub, kind, path, **options)


def snapshot(hub: Hub) -> dict[str, Any]:
    """What the hub holds, without its random ids: equal for equal imports."""
    with hub.sessions() as session:
        codes = dict(session.execute(select(Agency.id, Agency.code)).all())
        people: dict[str, set[tuple[str, str]]] = defaultdict(set)
        records = {}
        for record in session.execute(select(AgencyRecord)).scalars():
            key = (codes[record.agency_id], record.local_id)
            people[record.person_id].add(key)
            records[record.id] = key
        groups = {frozenset(members) for members in people.values()}
        by_person = {pid: frozenset(m) for pid, m in people.items()}
        # Ties stay on a person merged away (families follow merges): read them through it.
        merged = dict(
            session.execute(
                select(Person.id, Person.merged_into_id).where(Person.merged_into_id.is_not(None))
            ).all()
        )
        for pid in merged:
            current = pid
            while current in merged:
                current = merged[current]
            by_person[pid] = by_person[current]
        involvements = {
            (codes[i.agency_id], i.local_id, by_person[i.person_id], i.service, i.start_date,
             i.end_date, i.lead_professional, i.sensitivity)
            for i in session.execute(select(Involvement)).scalars()
        }  # fmt: skip
        consents = sorted(
            (codes[c.recorded_by_agency_id], c.form_reference or "", c.status,
             by_person[c.person_id])
            for c in session.execute(select(ConsentRecord)).scalars()
        )  # fmt: skip
        ties = {
            (by_person[r.person_id], by_person[r.related_person_id], r.kind, codes[r.agency_id])
            for r in session.execute(select(Relationship)).scalars()
        }
        counts = {
            model.__tablename__: session.execute(select(func.count()).select_from(model)).scalar()
            for model in (Person, AgencyRecord, RecordIdentifier, Relationship, Involvement,
                          ConsentRecord, LogEntry)
        }  # fmt: skip
    return {
        "groups": groups,
        "involvements": involvements,
        "consents": consents,
        "ties": ties,
        "counts": counts,
    }
