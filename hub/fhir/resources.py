"""FHIR resources built from what a decision let through; every one is validated on the way out.

Shielded involvements appear as the shield says: that a service is involved, and a contact
point, with no agency, service, practitioner or dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource

from hub.identifiers import AGENCY_SYSTEM_PREFIX, NHS_NUMBER_SYSTEM
from hub.involvements.views import OpenInvolvement
from hub.people.linked import LinkedIdentifier

SERVICE_SYSTEM = "urn:ehh:service"
ROLE_SYSTEM = "urn:ehh:role"
TIER_SYSTEM = "urn:ehh:tier"
DECISION_SYSTEM = "urn:ehh:disclosure-decision"
SHIELDED_TEXT = "A service is involved"
FRONT_DOOR = "Contact the partnership's front door"


def dump(resource: Resource) -> dict[str, Any]:
    return resource.model_dump(mode="json", exclude_none=True)


def patient(person_id: str, identifiers: Sequence[LinkedIdentifier]) -> Patient:
    """The child as the requester may see them: the hub's id and the identifiers permitted."""
    shown: list[dict[str, Any]] = []
    for linked in identifiers:
        entry: dict[str, Any] = {
            "system": linked.identifier.system,
            "value": linked.identifier.value,
        }
        if linked.identifier.system == NHS_NUMBER_SYSTEM:
            entry["use"] = "official"
        elif linked.identifier.system.startswith(AGENCY_SYSTEM_PREFIX):
            entry["use"] = "secondary"
            entry["assigner"] = {
                "display": linked.identifier.system.removeprefix(AGENCY_SYSTEM_PREFIX)
            }
        shown.append(entry)
    return Patient.model_validate(
        {"resourceType": "Patient", "id": person_id, "active": True, "identifier": shown}
    )


def _organisation(involvement: OpenInvolvement) -> dict[str, Any]:
    agency = involvement.agency
    return {
        "type": "Organization",
        "identifier": {"system": AGENCY_SYSTEM_PREFIX.rstrip(":"), "value": agency.code},
        "display": agency.name,
    }


def _period(involvement: OpenInvolvement) -> dict[str, str]:
    period = {"start": involvement.start_date.isoformat()}
    if involvement.end_date is not None:
        period["end"] = involvement.end_date.isoformat()
    return period


def _service(involvement: OpenInvolvement) -> dict[str, Any]:
    return {
        "coding": [
            {
                "system": SERVICE_SYSTEM,
                "code": involvement.service,
                "display": involvement.service_name,
            }
        ],
        "text": involvement.service_name,
    }


def _contact(involvement: OpenInvolvement) -> str:
    return involvement.agency.contact or FRONT_DOOR


def care_team(
    person_id: str, involvements: Sequence[OpenInvolvement], shielded: set[str]
) -> CareTeam:
    """The team around the child: one participant for each involvement disclosed."""
    contained: list[dict[str, Any]] = []
    participants: list[dict[str, Any]] = []
    for involvement in involvements:
        if involvement.id in shielded:
            participants.append(
                {"role": [{"text": SHIELDED_TEXT}], "member": {"display": _contact(involvement)}}
            )
            continue
        roles = [_service(involvement)]
        if involvement.lead_professional:
            roles.append(
                {
                    "coding": [
                        {
                            "system": ROLE_SYSTEM,
                            "code": "lead-professional",
                            "display": "Lead professional",
                        }
                    ]
                }
            )
        participant: dict[str, Any] = {
            "role": roles,
            "onBehalfOf": _organisation(involvement),
            "period": _period(involvement),
        }
        practitioner = involvement.practitioner
        if practitioner is not None:
            local = f"p{len(contained) + 1}"
            telecom = [
                {"system": system, "value": value, "use": "work"}
                for system, value in (("email", practitioner.email), ("phone", practitioner.phone))
                if value
            ]
            contained.append(
                {
                    "resourceType": "Practitioner",
                    "id": local,
                    "name": [{"text": practitioner.name}],
                    **({"telecom": telecom} if telecom else {}),
                }
            )
            participant["member"] = {
                "reference": f"#{local}",
                "type": "Practitioner",
                "display": practitioner.name,
            }
        else:
            participant["member"] = _organisation(involvement)
        participants.append(participant)
    body: dict[str, Any] = {
        "resourceType": "CareTeam",
        "id": person_id,
        "status": "active",
        "name": "Team around the child",
        "subject": {"reference": f"Patient/{person_id}", "type": "Patient"},
    }
    if contained:
        body["contained"] = contained
    if participants:
        body["participant"] = participants
    return CareTeam.model_validate(body)


def episode_of_care(person_id: str, involvement: OpenInvolvement, shielded: bool) -> EpisodeOfCare:
    """One agency's work with the child; a shielded one says only that a service is involved."""
    patient_ref = {"reference": f"Patient/{person_id}", "type": "Patient"}
    if shielded:
        return EpisodeOfCare.model_validate(
            {
                "resourceType": "EpisodeOfCare",
                "id": involvement.id,
                "status": "active",
                "type": [{"text": SHIELDED_TEXT}],
                "patient": patient_ref,
                "managingOrganization": {"display": _contact(involvement)},
            }
        )
    body: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": involvement.id,
        "status": "active",
        "type": [
            _service(involvement),
            {"coding": [{"system": TIER_SYSTEM, "code": involvement.tier}]},
        ],
        "patient": patient_ref,
        "managingOrganization": _organisation(involvement),
        "period": _period(involvement),
    }
    if involvement.practitioner is not None:
        body["careManager"] = {"type": "Practitioner", "display": involvement.practitioner.name}
    return EpisodeOfCare.model_validate(body)


def searchset(
    *,
    resources: Sequence[Resource],
    total: int,
    links: dict[str, str],
    base: str,
    decision_id: str,
) -> Bundle:
    """A searchset page; its identifier is the disclosure decision that let it out."""
    body: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "identifier": {"system": DECISION_SYSTEM, "value": decision_id},
        "total": total,
        "link": [{"relation": rel, "url": url} for rel, url in links.items()],
    }
    if resources:
        body["entry"] = [
            {
                "fullUrl": f"{base}/{r.get_resource_type()}/{r.id}",
                "resource": dump(r),
                "search": {"mode": "match"},
            }
            for r in resources
        ]
    return Bundle.model_validate(body)
