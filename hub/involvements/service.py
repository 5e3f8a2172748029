"""Writing involvements, and reading the ones open for a person."""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hub.agencies.models import Agency, Practitioner
from hub.errors import BadRequest, NotFound
from hub.involvements.models import Involvement
from hub.involvements.schemas import InvolvementIn, PractitionerIn
from hub.notify.events import involvement_started
from hub.people.service import record_for


def _practitioner(session: Session, agency: Agency, given: PractitionerIn) -> Practitioner:
    found = session.execute(
        select(Practitioner).where(
            Practitioner.agency_id == agency.id, Practitioner.ref == given.ref
        )
    ).scalar_one_or_none()
    if found is None:
        found = Practitioner(agency_id=agency.id, ref=given.ref, name=given.name, role=given.role)
        session.add(found)
    found.name, found.role, found.email, found.phone = (
        given.name,
        given.role,
        given.email,
        given.phone,
    )
    return found


def upsert_involvement(
    session: Session, *, agency: Agency, local_id: str, payload: InvolvementIn
) -> tuple[Involvement, bool]:
    """Start or change one of this agency's involvements; idempotent by its local id."""
    record = record_for(session, agency=agency, local_id=payload.record)
    involvement = _own_involvement(session, agency, local_id)
    created = involvement is None
    if involvement is None:
        involvement = Involvement(
            agency_id=agency.id, local_id=local_id, person_id=record.person_id
        )
        session.add(involvement)
    involvement.person_id = record.person_id
    involvement.service = payload.service
    involvement.service_name = payload.service_name
    involvement.tier = payload.tier
    involvement.level_of_need = payload.level_of_need
    involvement.lead_professional = payload.lead_professional
    involvement.sensitivity = payload.sensitivity
    involvement.start_date = payload.start_date
    involvement.end_date = payload.end_date
    involvement.practitioner = (
        _practitioner(session, agency, payload.practitioner) if payload.practitioner else None
    )
    session.flush()
    if created:
        involvement_started(session, involvement)
    return involvement, created


def _own_involvement(session: Session, agency: Agency, local_id: str) -> Involvement | None:
    """An agency addresses only its own involvements, by the id its system gave them."""
    return session.execute(
        select(Involvement).where(
            Involvement.agency_id == agency.id, Involvement.local_id == local_id
        )
    ).scalar_one_or_none()


def end_involvement(
    session: Session, *, agency: Agency, local_id: str, end_date: date
) -> Involvement:
    involvement = _own_involvement(session, agency, local_id)
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
    select(Involvement)
    .where(
        Involvement.person_id == bindparam("person_id"),
        Involvement.start_date <= bindparam("on"),
        (Involvement.end_date.is_(None)) | (Involvement.end_date >= bindparam("on")),
    )
    .order_by(Involvement.start_date, Involvement.id)
)
"""Built once: on the decision path, building the statement cost as much as running it."""


def open_involvements(session: Session, person_id: str, on: date) -> list[Involvement]:
    rows = session.execute(_OPEN_INVOLVEMENTS, {"person_id": person_id, "on": on})
    return list(rows.scalars())
