"""FHIR R4 Consent: record, read, search by patient, amend, and withdraw by status change.

An agency reads and changes only the consents it recorded, and names people by its own
record ids (``urn:ehh:agency:CODE|local-id``), so these endpoints never reveal whether
another agency knows a child.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from sqlalchemy.orm import Session

from consent.fhir import EXT_RECORDED_BY, FhirInvalid, from_fhir, to_fhir
from consent.models import ConsentRecord
from consent.schemas import ConsentAmendment
from consent.service import (
    amend_consent,
    consents_about,
    history,
    mark_entered_in_error,
    own_consent,
    record_consent,
    withdraw_consent,
)
from hub.agencies.models import Agency
from hub.api.deps import CallerDep, SessionDep, calling_agency
from hub.auth.scopes import Scope
from hub.db.base import utcnow
from hub.fhir.outcome import FhirError, FhirResponse, FhirRoute
from hub.identifiers import agency_system

router = APIRouter(prefix="/fhir", route_class=FhirRoute, tags=["FHIR Consent"])

ConsentId = Annotated[str, Path(min_length=36, max_length=36)]
Resource = Annotated[dict[str, Any], Body(media_type="application/fhir+json")]


def _read(resource: dict[str, Any], agency: Agency) -> Any:
    try:
        return from_fhir(resource, agency_code=agency.code)
    except FhirInvalid as exc:
        raise FhirError(
            "The Consent cannot be accepted: " + str(exc),
            code="invalid-consent",
            expressions=[(i.expression, i.message) for i in exc.issues],
        ) from None


def _current(consent: ConsentRecord, agency: Agency) -> dict[str, Any]:
    """The stored resource, with the state recomputed (a consent past its period is expired)."""
    return to_fhir(consent, agency_code=agency.code, at=utcnow())


def _location(request: Request, consent: ConsentRecord) -> str:
    return str(request.url_for("read_consent_version", consent_id=consent.id, vid=consent.version))


@router.post("/Consent", status_code=201, response_class=FhirResponse)
def create_consent(
    resource: Resource, request: Request, session: SessionDep, caller: CallerDep
) -> FhirResponse:
    """Record a consent (status active) or a refusal (status rejected, provision type deny)."""
    agency = calling_agency(caller, session, Scope.CONSENT_WRITE)
    consent = record_consent(session, agency=agency, payload=_read(resource, agency))
    session.commit()
    return FhirResponse(
        _current(consent, agency),
        status_code=201,
        headers={"Location": _location(request, consent), "ETag": f'W/"{consent.version}"'},
    )


@router.get("/Consent", response_class=FhirResponse)
def search_consents(
    session: SessionDep,
    caller: CallerDep,
    patient_identifier: Annotated[
        str | None,
        Query(alias="patient:identifier", max_length=200, description="urn:ehh:agency:CODE|id"),
    ] = None,
) -> FhirResponse:
    """Consents your agency recorded about one of your records, as a searchset Bundle."""
    agency = calling_agency(caller, session, Scope.CONSENT_READ)
    if not patient_identifier:
        raise FhirError(
            "Search by patient: add patient:identifier=system|value.",
            code="search-needs-patient",
            expressions=[("patient:identifier", "required")],
        )
    system, _, value = patient_identifier.partition("|")
    if system != agency_system(agency.code) or not value:
        raise FhirError(
            f"Name the person by your own record id: {agency_system(agency.code)}|<your id>.",
            code="identifier-system",
            expressions=[("patient:identifier", "not your agency's record id")],
        )
    found = consents_about(session, agency=agency, local_id=value)
    return FhirResponse(_bundle("searchset", [_current(c, agency) for c in found]))


@router.get("/Consent/{consent_id}", response_class=FhirResponse)
def read_consent(consent_id: ConsentId, session: SessionDep, caller: CallerDep) -> FhirResponse:
    agency = calling_agency(caller, session, Scope.CONSENT_READ)
    consent = own_consent(session, agency=agency, consent_id=consent_id)
    return FhirResponse(_current(consent, agency), headers={"ETag": f'W/"{consent.version}"'})


@router.get("/Consent/{consent_id}/_history", response_class=FhirResponse)
def consent_history(consent_id: ConsentId, session: SessionDep, caller: CallerDep) -> FhirResponse:
    """Every version, newest first, as the resource stood after each change."""
    agency = calling_agency(caller, session, Scope.CONSENT_READ)
    versions = history(session, agency=agency, consent_id=consent_id)
    return FhirResponse(_bundle("history", [json.loads(v.fhir) for v in reversed(versions)]))


@router.get("/Consent/{consent_id}/_history/{vid}", response_class=FhirResponse)
def read_consent_version(
    consent_id: ConsentId,
    vid: Annotated[int, Path(ge=1)],
    session: SessionDep,
    caller: CallerDep,
) -> FhirResponse:
    agency = calling_agency(caller, session, Scope.CONSENT_READ)
    for version in history(session, agency=agency, consent_id=consent_id):
        if version.version == vid:
            return FhirResponse(json.loads(version.fhir))
    raise FhirError(f"Consent has no version {vid}.", code="version-not-found")


@router.put("/Consent/{consent_id}", response_class=FhirResponse)
def update_consent(
    consent_id: ConsentId, resource: Resource, session: SessionDep, caller: CallerDep
) -> FhirResponse:
    """Amend (status active), withdraw (status inactive) or void (entered-in-error).

    Withdrawal and voiding are status changes and take effect at once; an amendment adds
    a version. The resource's id must match the address.
    """
    agency = calling_agency(caller, session, Scope.CONSENT_WRITE)
    if resource.get("id") != consent_id:
        raise FhirError(
            "The resource's id must match the address it is sent to.",
            code="id-mismatch",
            expressions=[("Consent.id", "must equal the id in the URL")],
        )
    consent = own_consent(session, agency=agency, consent_id=consent_id)
    status = resource.get("status")
    practitioner = _practitioner(resource) or consent.recorded_by_practitioner
    if status == "inactive":
        consent = withdraw_consent(
            session, agency=agency, consent_id=consent_id, practitioner=practitioner
        )
    elif status == "entered-in-error":
        consent = mark_entered_in_error(
            session, agency=agency, consent_id=consent_id, practitioner=practitioner
        )
    else:
        consent = _amend(session, agency, consent, resource)
    session.commit()
    return FhirResponse(_current(consent, agency), headers={"ETag": f'W/"{consent.version}"'})


def _amend(
    session: Session, agency: Agency, consent: ConsentRecord, resource: dict[str, Any]
) -> ConsentRecord:
    read = _read(resource, agency)
    if read.status != consent.status or read.record != consent.subject_record:
        raise FhirError(
            "An amendment keeps the person and whether it is a consent or a refusal; "
            "withdraw it (status inactive) and record a new one instead.",
            code="consent-not-amendable",
            expressions=[("Consent.status", "cannot change here")],
        )
    amendment = ConsentAmendment(
        practitioner=read.practitioner,
        method=read.method,
        form_reference=read.form_reference,
        purposes=read.purposes,
        recipient_agencies=read.recipient_agencies,
        recipient_kinds=read.recipient_kinds,
        categories=read.categories,
        excluded_categories=read.excluded_categories,
        provisions=read.provisions,
        period_start=read.period_start,
        period_end=read.period_end,
    )
    return amend_consent(session, agency=agency, consent_id=consent.id, payload=amendment)


def _practitioner(resource: dict[str, Any]) -> str | None:
    for ext in resource.get("extension", []) or []:
        if ext.get("url") == EXT_RECORDED_BY:
            value = (ext.get("valueIdentifier") or {}).get("value")
            return str(value)[:64] if value else None
    return None


def _bundle(kind: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "total": len(resources),
        "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
        "entry": [{"resource": r} for r in resources],
    }


__all__ = ["router"]
