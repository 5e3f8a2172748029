"""Involvements as a disclosure decision reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.involvements.models import Involvement


@dataclass(frozen=True, slots=True)
class AgencyView:
    code: str
    name: str
    kind: str
    contact: str | None


@dataclass(frozen=True, slots=True)
class PractitionerView:
    name: str
    role: str
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class OpenInvolvement:
    """An involvement as a disclosure decision reads it: plain values, no ORM session.

    The decision path reads involvements on every request; loading them as ORM objects
    (identity map, joined-eager loaders, a session transaction's snapshot) cost as much
    again as the queries themselves.
    """

    id: str
    service: str
    service_name: str
    tier: str
    level_of_need: int
    lead_professional: bool
    sensitivity: str | None
    start_date: date
    end_date: date | None
    agency: AgencyView
    practitioner: PractitionerView | None

    @classmethod
    def of(cls, involvement: Involvement) -> OpenInvolvement:
        """The view of an involvement already loaded as an ORM object."""
        agency = involvement.agency
        practitioner = involvement.practitioner
        return cls(
            id=involvement.id,
            service=involvement.service,
            service_name=involvement.service_name,
            tier=involvement.tier,
            level_of_need=involvement.level_of_need,
            lead_professional=involvement.lead_professional,
            sensitivity=involvement.sensitivity,
            start_date=involvement.start_date,
            end_date=involvement.end_date,
            agency=AgencyView(
                code=agency.code, name=agency.name, kind=agency.kind, contact=agency.contact
            ),
            practitioner=None
            if practitioner is None
            else PractitionerView(
                name=practitioner.name,
                role=practitioner.role,
                email=practitioner.email,
                phone=practitioner.phone,
            ),
        )
