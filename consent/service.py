"""Recording, amending, withdrawing and listing consents.

Every change keeps the FHIR resource as it now stands, adds a version to the history and
writes an entry to the disclosure log, all in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.check import view_of
from consent.fhir import to_fhir
from consent.models import ConsentRecord, ConsentVersion
from consent.schemas import ConsentAmendment, ConsentIn, ConsentOut, ConsentScope
from hub.agencies.models import Agency
from hub.db.base import new_id, utcnow
from hub.disclosure import log
from hub.errors import Conflict, HubError, NotFound
from hub.notify.events import anyone_subscribed, consent_changed
from hub.notify.topics import CONSENT_CHANGED
from hub.people.models import AgencyRecord
from hub.people.service import record_for, record_not_found
from hub.vocab import ConsentStatus, LogEvent


def _apply_scope(consent: ConsentRecord, scope: ConsentScope, now: datetime) -> None:
    consent.purposes = json.dumps(sorted(scope.purposes))
    consent.recipient_agencies = json.dumps(sorted(scope.recipient_agencies))
    consent.recipient_kinds = json.dumps(sorted(scope.recipient_kinds))
    consent.categories = json.dumps(sorted(scope.categories))
    consent.excluded_categories = json.dumps(sorted(scope.excluded_categories))
    consent.provisions = json.dumps([p.model_dump(mode="json") for p in scope.provisions])
    consent.period_start = scope.period_start or now
    consent.period_end = scope.period_end


def _scope_log(consent: ConsentRecord) -> dict[str, object]:
    return {
        "consent_id": consent.id,
        "version": consent.version,
        "status": consent.status,
        "given_by": consent.given_by,
        "method": consent.method,
        "purposes": json.loads(consent.purposes),
        "recipient_agencies": json.loads(consent.recipient_agencies),
        "recipient_kinds": json.loads(consent.recipient_kinds),
        "categories": json.loads(consent.categories),
        "excluded_categories": json.loads(consent.excluded_categories),
        "provisions": json.loads(consent.provisions),
    }


def record_consent(session: Session, *, agency: Agency, payload: ConsentIn) -> ConsentRecord:
    (recorded,) = record_consents(session, agency=agency, payloads=[payload])
    if isinstance(recorded, HubError):
        raise recorded
    return recorded


def record_consents(
    session: Session, *, agency: Agency, payloads: Sequence[ConsentIn]
) -> list[ConsentRecord | HubError]:
    """Record a batch of consents, in order; one whose person is unknown is refused alone."""
    session.flush()
    named = {p.record for p in payloads} | {p.grantor_record for p in payloads if p.grantor_record}
    records = {
        local_id: (person_id, kind)
        for local_id, person_id, kind in session.execute(
            select(AgencyRecord.local_id, AgencyRecord.person_id, AgencyRecord.kind).where(
                AgencyRecord.agency_id == agency.id, AgencyRecord.local_id.in_(named)
            )
        ).all()
    }
    now = utcnow()
    results: list[ConsentRecord | HubError] = []
    changes: list[_Change] = []
    for payload in payloads:
        missing = next(
            (name for name in (payload.record, payload.grantor_record)
             if name and name not in records),
            None,
        )  # fmt: skip
        if missing is not None:
            results.append(record_not_found(missing))
            continue
        person_id, kind = records[payload.record]
        consent = ConsentRecord(
            id=new_id(),
            person_id=person_id,
            subject_kind=kind,
            subject_record=payload.record,
            status=payload.status,
            given_by=payload.given_by,
            grantor_person_id=records[payload.grantor_record][0]
            if payload.grantor_record
            else None,
            grantor_record=payload.grantor_record,
            competence_assessed_by=payload.competence_assessed_by,
            competence_assessed_on=payload.competence_assessed_on,
            recorded_by_agency_id=agency.id,
            recorded_by_practitioner=payload.practitioner,
            method=payload.method,
            form_reference=payload.form_reference,
            version=1,
            created_at=now,
        )
        _apply_scope(consent, payload, now)
        session.add(consent)
        results.append(consent)
        changes.append(
            _Change(
                consent,
                "recorded",
                payload.practitioner,
                LogEvent.CONSENT_RECORDED,
                {**_scope_log(consent), "practitioner": payload.practitioner},
            )
        )
    _record_changes(session, agency, changes)
    return results


@dataclass(frozen=True)
class _Change:
    consent: ConsentRecord
    change: str
    practitioner: str
    event: LogEvent
    body: dict[str, Any]


def _record_change(
    session: Session,
    consent: ConsentRecord,
    *,
    agency: Agency,
    change: str,
    practitioner: str,
    event: LogEvent,
    body: dict[str, Any],
) -> None:
    _record_changes(session, agency, [_Change(consent, change, practitioner, event, body)])


def _record_changes(session: Session, agency: Agency, changes: Sequence[_Change]) -> None:
    """Every change to a consent: keep the version, tell subscribers, write the log entry."""
    if not changes:
        return
    session.flush()
    now = utcnow()
    for c in changes:
        c.consent.updated_at = now
        c.consent.fhir = json.dumps(to_fhir(c.consent, agency_code=agency.code, at=now))
        session.add(
            ConsentVersion(
                consent_id=c.consent.id,
                version=c.consent.version,
                change=c.change,
                status=c.consent.status,
                practitioner=c.practitioner,
                agency_id=agency.id,
                fhir=c.consent.fhir,
                recorded_at=now,
            )
        )
    session.flush()
    if anyone_subscribed(session, CONSENT_CHANGED):
        for c in changes:
            consent_changed(session, c.consent)
    log.append_many(
        session,
        [
            log.Pending(event=c.event, body=c.body, subject=c.consent.person_id, agency=agency.code)
            for c in changes
        ],
    )


def own_consent(session: Session, *, agency: Agency, consent_id: str) -> ConsentRecord:
    """A consent this agency recorded; another agency's consents are not theirs to change."""
    consent = session.get(ConsentRecord, consent_id)
    if consent is None or consent.recorded_by_agency_id != agency.id:
        raise NotFound(
            "No consent with that id was recorded by your agency.", code="consent-not-found"
        )
    return consent


def amend_consent(
    session: Session, *, agency: Agency, consent_id: str, payload: ConsentAmendment
) -> ConsentRecord:
    """A new version of what an active consent (or refusal) covers; the old one stays in history."""
    consent = own_consent(session, agency=agency, consent_id=consent_id)
    if consent.status not in (ConsentStatus.ACTIVE, ConsentStatus.REFUSED):
        raise Conflict(
            f"This consent is {consent.status}; record a new consent instead of amending it.",
            code="consent-not-amendable",
        )
    consent.version += 1
    consent.method = payload.method
    consent.form_reference = payload.form_reference
    consent.recorded_by_practitioner = payload.practitioner
    _apply_scope(consent, payload, consent.period_start)
    _record_change(
        session,
        consent,
        agency=agency,
        change="amended",
        practitioner=payload.practitioner,
        event=LogEvent.CONSENT_AMENDED,
        body={**_scope_log(consent), "practitioner": payload.practitioner},
    )
    return consent


def withdraw_consent(
    session: Session, *, agency: Agency, consent_id: str, practitioner: str
) -> ConsentRecord:
    """Withdrawal takes effect at once: the next decision no longer sees it as permitting."""
    consent = own_consent(session, agency=agency, consent_id=consent_id)
    (withdrawn,) = withdraw_consents(session, agency=agency, withdrawals=[(consent, practitioner)])
    if isinstance(withdrawn, HubError):
        raise withdrawn
    return withdrawn


def withdraw_consents(
    session: Session, *, agency: Agency, withdrawals: Sequence[tuple[ConsentRecord, str]]
) -> list[ConsentRecord | HubError]:
    """Withdraw a batch of this agency's consents (each with who withdrew it), in order."""
    results: list[ConsentRecord | HubError] = []
    changes: list[_Change] = []
    for consent, practitioner in withdrawals:
        if consent.status != ConsentStatus.ACTIVE:
            refusal = f"This consent is {consent.status}, not active."
            results.append(Conflict(refusal, code="consent-not-active"))
            continue
        consent.status = ConsentStatus.WITHDRAWN
        consent.withdrawn_at = utcnow()
        consent.version += 1
        results.append(consent)
        changes.append(
            _Change(
                consent,
                "withdrawn",
                practitioner,
                LogEvent.CONSENT_WITHDRAWN,
                {
                    "consent_id": consent.id,
                    "version": consent.version,
                    "practitioner": practitioner,
                },
            )
        )
    _record_changes(session, agency, changes)
    return results


def mark_entered_in_error(
    session: Session, *, agency: Agency, consent_id: str, practitioner: str
) -> ConsentRecord:
    """A consent recorded by mistake never permits again; its history is kept."""
    consent = own_consent(session, agency=agency, consent_id=consent_id)
    if consent.status == ConsentStatus.ENTERED_IN_ERROR:
        raise Conflict("This consent is already marked entered in error.", code="consent-in-error")
    consent.status = ConsentStatus.ENTERED_IN_ERROR
    consent.version += 1
    _record_change(
        session,
        consent,
        agency=agency,
        change="entered-in-error",
        practitioner=practitioner,
        event=LogEvent.CONSENT_WITHDRAWN,
        body={"consent_id": consent.id, "version": consent.version, "status": consent.status},
    )
    return consent


def consent_out(consent: ConsentRecord, at: datetime) -> ConsentOut:
    return ConsentOut(
        id=consent.id,
        status=view_of(consent).state(at),
        version=consent.version,
        subject_kind=consent.subject_kind,
        given_by=consent.given_by,
        method=consent.method,
        form_reference=consent.form_reference,
        purposes=json.loads(consent.purposes),
        recipient_agencies=json.loads(consent.recipient_agencies),
        recipient_kinds=json.loads(consent.recipient_kinds),
        categories=json.loads(consent.categories),
        excluded_categories=json.loads(consent.excluded_categories),
        period_start=consent.period_start,
        period_end=consent.period_end,
        withdrawn_at=consent.withdrawn_at,
    )


def consents_about(session: Session, *, agency: Agency, local_id: str) -> list[ConsentRecord]:
    """The consents your agency recorded about one of its own records, oldest first."""
    subject = record_for(session, agency=agency, local_id=local_id)
    return list(
        session.execute(
            select(ConsentRecord)
            .where(
                ConsentRecord.person_id == subject.person_id,
                ConsentRecord.recorded_by_agency_id == agency.id,
            )
            .order_by(ConsentRecord.created_at)
        ).scalars()
    )


def history(session: Session, *, agency: Agency, consent_id: str) -> list[ConsentVersion]:
    own_consent(session, agency=agency, consent_id=consent_id)
    return list(
        session.execute(
            select(ConsentVersion)
            .where(ConsentVersion.consent_id == consent_id)
            .order_by(ConsentVersion.version)
        ).scalars()
    )
