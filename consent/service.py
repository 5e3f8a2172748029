"""Recording and withdrawing consents; each change is written to the disclosure log."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from consent.models import ConsentRecord
from consent.schemas import ConsentIn
from hub.agencies.models import Agency
from hub.db.base import utcnow
from hub.disclosure import log
from hub.errors import Conflict, NotFound
from hub.notify.events import consent_changed
from hub.people.service import record_for
from hub.vocab import ConsentStatus, LogEvent


def record_consent(session: Session, *, agency: Agency, payload: ConsentIn) -> ConsentRecord:
    subject = record_for(session, agency=agency, local_id=payload.record)
    grantor = (
        record_for(session, agency=agency, local_id=payload.grantor_record)
        if payload.grantor_record
        else None
    )
    consent = ConsentRecord(
        person_id=subject.person_id,
        status=payload.status,
        given_by=payload.given_by,
        grantor_person_id=grantor.person_id if grantor else None,
        competence_assessed_by=payload.competence_assessed_by,
        recorded_by_agency_id=agency.id,
        recorded_by_practitioner=payload.practitioner,
        method=payload.method,
        form_reference=payload.form_reference,
        purposes=json.dumps(sorted(payload.purposes)),
        recipient_agencies=json.dumps(sorted(payload.recipient_agencies)),
        recipient_kinds=json.dumps(sorted(payload.recipient_kinds)),
        categories=json.dumps(sorted(payload.categories)),
        excluded_categories=json.dumps(sorted(payload.excluded_categories)),
        period_start=payload.period_start or utcnow(),
        period_end=payload.period_end,
    )
    session.add(consent)
    session.flush()
    consent_changed(session, consent)
    log.append(
        session,
        event=LogEvent.CONSENT_RECORDED,
        subject=subject.person_id,
        agency=agency.code,
        body={
            "consent_id": consent.id,
            "status": consent.status,
            "given_by": consent.given_by,
            "practitioner": payload.practitioner,
            "purposes": json.loads(consent.purposes),
            "recipient_agencies": json.loads(consent.recipient_agencies),
            "recipient_kinds": json.loads(consent.recipient_kinds),
        },
    )
    return consent


def withdraw_consent(
    session: Session, *, agency: Agency, consent_id: str, practitioner: str
) -> ConsentRecord:
    """Withdrawal takes effect at once: the next decision no longer sees it as permitting."""
    consent = session.get(ConsentRecord, consent_id)
    if consent is None or consent.recorded_by_agency_id != agency.id:
        raise NotFound(
            "No consent with that id was recorded by your agency.", code="consent-not-found"
        )
    if consent.status != ConsentStatus.ACTIVE:
        raise Conflict(f"This consent is {consent.status}, not active.", code="consent-not-active")
    consent.status = ConsentStatus.WITHDRAWN
    consent.withdrawn_at = utcnow()
    session.flush()
    consent_changed(session, consent)
    log.append(
        session,
        event=LogEvent.CONSENT_WITHDRAWN,
        subject=consent.person_id,
        agency=agency.code,
        body={"consent_id": consent.id, "practitioner": practitioner},
    )
    return consent
