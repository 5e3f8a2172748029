"""Writing involvements, and reading the ones open for a person."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from hub.agencies.models import Agency, Practitioner
from hub.db.base import bulk_insert, new_id, utcnow
from hub.db.engine import Reads
from hub.db.reads import fetch_rows
from hub.errors import BadRequest, HubError, NotFound
from hub.involvements.models import Involvement
from hub.involvements.schemas import InvolvementIn, PractitionerIn
from hub.involvements.views import AgencyView, OpenInvolvement, PractitionerView
from hub.notify.events import involvements_started
from hub.people.models import AgencyRecord
from hub.people.service import record_not_found


@dataclass(frozen=True)
class InvolvementUpsert:
    """One involvement to write, under the agency's own id for it."""

    local_id: str
    payload: InvolvementIn


@dataclass
class InvolvementOutcome:
    """What became of one involvement of a batch: written (started or changed), or refused."""

    local_id: str
    involvement_id: str | None = None
    created: bool = False
    error: HubError | None = None


def upsert_involvement(
    session: Session, *, agency: Agency, local_id: str, payload: InvolvementIn
) -> tuple[Involvement, bool]:
    """Start or change one of this agency's involvements; idempotent by its local id."""
    (outcome,) = upsert_involvements(
        session, agency=agency, involvements=[InvolvementUpsert(local_id, payload)]
    )
    if outcome.error is not None:
        raise outcome.error
    involvement = session.get(Involvement, outcome.involvement_id)
    assert involvement is not None
    return involvement, outcome.created


def upsert_involvements(
    session: Session, *, agency: Agency, involvements: Sequence[InvolvementUpsert]
) -> list[InvolvementOutcome]:
    """Start or change a batch of this agency's involvements, as if written one by one.

    An involvement whose person record is unknown is refused in its outcome; the others are
    written with one statement per table, and new ones notify subscribers as single writes do.
    """
    outcomes: list[InvolvementOutcome] = []
    run: list[InvolvementUpsert] = []
    ids: set[str] = set()
    for item in involvements:  # a local id twice in a batch: the second write sees the first
        if item.local_id in ids:
            outcomes += _upsert_run(session, agency, run)
            run, ids = [], set()
        run.append(item)
        ids.add(item.local_id)
    if run:
        outcomes += _upsert_run(session, agency, run)
    return outcomes


def _upsert_run(
    session: Session, agency: Agency, involvements: Sequence[InvolvementUpsert]
) -> list[InvolvementOutcome]:
    session.flush()
    people: dict[str, str] = {
        local_id: person_id
        for local_id, person_id in session.execute(
            select(AgencyRecord.local_id, AgencyRecord.person_id).where(
                AgencyRecord.agency_id == agency.id,
                AgencyRecord.local_id.in_({i.payload.record for i in involvements}),
            )
        ).all()
    }
    existing: dict[str, str] = {
        local_id: involvement_id
        for local_id, involvement_id in session.execute(
            select(Involvement.local_id, Involvement.id).where(
                Involvement.agency_id == agency.id,
                Involvement.local_id.in_({i.local_id for i in involvements}),
            )
        ).all()
    }
    outcomes = [InvolvementOutcome(i.local_id) for i in involvements]
    valid = []
    for item, outcome in zip(involvements, outcomes, strict=True):
        if item.payload.record not in people:
            outcome.error = record_not_found(item.payload.record)
        else:
            valid.append((item, outcome))
    practitioners = _practitioners(
        session, agency, [i.payload.practitioner for i, _ in valid if i.payload.practitioner]
    )
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for item, outcome in valid:
        payload = item.payload
        row = {
            "person_id": people[payload.record],
            "service": payload.service,
            "service_name": payload.service_name,
            "tier": payload.tier,
            "level_of_need": payload.level_of_need,
            "lead_professional": payload.lead_professional,
            "sensitivity": payload.sensitivity,
            "start_date": payload.start_date,
            "end_date": payload.end_date,
            "practitioner_id": practitioners[payload.practitioner.ref]
            if payload.practitioner
            else None,
            "updated_at": now,
        }
        if item.local_id in existing:
            outcome.involvement_id = existing[item.local_id]
            updates.append({"id": outcome.involvement_id, **row})
        else:
            outcome.involvement_id, outcome.created = new_id(), True
            inserts.append(
                {"id": outcome.involvement_id, "agency_id": agency.id, "local_id": item.local_id}
                | row
            )
    if inserts:
        session.execute(bulk_insert(Involvement), inserts)
    if updates:
        session.execute(update(Involvement), updates)
        for row in updates:  # stale in the session after a bulk update: reload on use
            loaded = session.identity_map.get(identity_key(Involvement, row["id"]))
            if loaded is not None:
                session.expire(loaded)
    involvements_started(session, [row["id"] for row in inserts])
    return outcomes


def _practitioners(session: Session, agency: Agency, given: list[PractitionerIn]) -> dict[str, int]:
    """The batch's practitioners by their ref, created or brought up to date (last one wins)."""
    wanted = {p.ref: p for p in given}
    if not wanted:
        return {}
    details = {
        ref: {"name": p.name, "role": p.role, "email": p.email, "phone": p.phone}
        for ref, p in wanted.items()
    }
    found: dict[str, int] = {}
    changed: list[dict[str, Any]] = []
    for practitioner in session.execute(
        select(Practitioner).where(
            Practitioner.agency_id == agency.id, Practitioner.ref.in_(wanted)
        )
    ).scalars():
        found[practitioner.ref] = practitioner.id
        now = details[practitioner.ref]
        if any(getattr(practitioner, name) != value for name, value in now.items()):
            changed.append({"id": practitioner.id, **now})
            session.expire(practitioner)
    if changed:
        session.execute(update(Practitioner), changed)
    new = [
        {"agency_id": agency.id, "ref": ref, **d} for ref, d in details.items() if ref not in found
    ]
    if new:
        found.update(
            (ref, pid)
            for ref, pid in session.execute(
                bulk_insert(Practitioner).returning(Practitioner.ref, Practitioner.id), new
            ).all()
        )
    return found


def end_involvement(
    session: Session, *, agency: Agency, local_id: str, end_date: date
) -> Involvement:
    involvement = session.execute(
        select(Involvement).where(
            Involvement.agency_id == agency.id, Involvement.local_id == local_id
        )
    ).scalar_one_or_none()
    if involvement is None:
        raise NotFound(
            f"Your agency has no involvement '{local_id}' registered with the hub.",
            code="involvement-not-found",
        )
    if end_date < involvement.start_date:
        raise BadRequest("The end date is before the involvement started.", code="bad-end-date")
    involvement.end_date = end_date
    session.flush()
    return involvement


_OPEN_INVOLVEMENTS = (
    select(
        Involvement.id,
        Involvement.service,
        Involvement.service_name,
        Involvement.tier,
        Involvement.level_of_need,
        Involvement.lead_professional,
        Involvement.sensitivity,
        Involvement.start_date,
        Involvement.end_date,
        Agency.code,
        Agency.name,
        Agency.kind,
        Agency.contact,
        Practitioner.name,
        Practitioner.role,
        Practitioner.email,
        Practitioner.phone,
    )
    .join(Agency, Agency.id == Involvement.agency_id)
    .outerjoin(Practitioner, Practitioner.id == Involvement.practitioner_id)
    .where(
        Involvement.person_id == bindparam("person_id"),
        Involvement.start_date <= bindparam("on"),
        (Involvement.end_date.is_(None)) | (Involvement.end_date >= bindparam("on")),
    )
    .order_by(Involvement.start_date, Involvement.id)
)
"""Built once: on the decision path, building the statement cost as much as running it."""


def open_involvements(reads: Reads, person_id: str, on: date) -> list[OpenInvolvement]:
    """The person's involvements open on a day, earliest first."""
    rows = fetch_rows(reads, _OPEN_INVOLVEMENTS, {"person_id": person_id, "on": on})
    return [
        OpenInvolvement(
            id=row[0],
            service=row[1],
            service_name=row[2],
            tier=row[3],
            level_of_need=row[4],
            lead_professional=row[5],
            sensitivity=row[6],
            start_date=row[7],
            end_date=row[8],
            agency=AgencyView(code=row[9], name=row[10], kind=row[11], contact=row[12]),
            practitioner=None
            if row[13] is None
            else PractitionerView(name=row[13], role=row[14], email=row[15], phone=row[16]),
        )
        for row in rows
    ]
