"""Writing agency records into the master index, encrypted, and linking them to people.

Linking is deterministic first: a record joins the person who already holds the same NHS
number or UPN, and a record whose NHS number differs from the matched person's is never joined
to them. A new record that no identifier links is then scored live against the index with the
trained model (``hub.linkage``): linked above the threshold, sent to review in the doubtful
band, kept apart below it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hub.agencies.models import Agency
from hub.crypto.fields import BlindIndex, FieldCipher
from hub.disclosure import log
from hub.errors import BadRequest
from hub.identifiers import (
    NHS_NUMBER_SYSTEM,
    UPN_SYSTEM,
    Identifier,
    InvalidIdentifier,
    agency_system,
    normalise,
    normalise_postcode,
)
from hub.linkage.live import LiveLinker
from hub.linkage.records import SourceRecord
from hub.people.models import AgencyRecord, Person, RecordIdentifier, Relationship
from hub.people.schemas import RecordIn
from hub.vocab import LinkMethod, LogEvent

LINKING_SYSTEMS = (NHS_NUMBER_SYSTEM, UPN_SYSTEM)


@dataclass(frozen=True)
class Crypto:
    cipher: FieldCipher
    blind: BlindIndex


@dataclass(frozen=True)
class RecordWrite:
    record: AgencyRecord
    created: bool


def _validated_identifiers(payload: RecordIn, agency: Agency, local_id: str) -> list[Identifier]:
    found: dict[str, Identifier] = {}
    for given in payload.identifiers:
        try:
            identifier = normalise(given.system, given.value)
        except InvalidIdentifier as exc:
            raise BadRequest(str(exc), code=str(exc.code)) from None
        if identifier.system in found and found[identifier.system] != identifier:
            raise BadRequest(
                "A record can carry one identifier of each kind.", code="duplicate-identifier"
            )
        found[identifier.system] = identifier
    own = normalise(agency_system(agency.code), local_id)
    found[own.system] = own
    return list(found.values())


def persons_holding(session: Session, blind: BlindIndex, identifier: Identifier) -> set[str]:
    rows = session.execute(
        select(AgencyRecord.person_id)
        .join(RecordIdentifier, RecordIdentifier.record_id == AgencyRecord.id)
        .where(
            RecordIdentifier.system == identifier.system,
            RecordIdentifier.blind_index == blind.of(identifier.system, identifier.value),
        )
    )
    return {row[0] for row in rows}


_PEOPLE_HOLDING = (
    select(Person)
    .join(AgencyRecord, AgencyRecord.person_id == Person.id)
    .join(RecordIdentifier, RecordIdentifier.record_id == AgencyRecord.id)
    .where(
        RecordIdentifier.system == bindparam("system"),
        RecordIdentifier.blind_index == bindparam("blind_index"),
    )
)


def people_holding(session: Session, blind: BlindIndex, identifier: Identifier) -> list[Person]:
    """The people whose records carry the identifier, fetched with the match in one query."""
    rows = session.execute(
        _PEOPLE_HOLDING,
        {
            "system": identifier.system,
            "blind_index": blind.of(identifier.system, identifier.value),
        },
    )
    return list(rows.scalars().unique())


def _person_nhs_numbers(session: Session, person_id: str) -> set[str]:
    rows = session.execute(
        select(RecordIdentifier.blind_index)
        .join(AgencyRecord, RecordIdentifier.record_id == AgencyRecord.id)
        .where(AgencyRecord.person_id == person_id, RecordIdentifier.system == NHS_NUMBER_SYSTEM)
    )
    return {row[0] for row in rows}


def _link(
    session: Session, crypto: Crypto, identifiers: list[Identifier], kind: str
) -> tuple[Person, LinkMethod]:
    by_system = {i.system: i for i in identifiers}
    nhs = by_system.get(NHS_NUMBER_SYSTEM)
    nhs_hash = crypto.blind.of(nhs.system, nhs.value) if nhs else None
    for system in LINKING_SYSTEMS:
        identifier = by_system.get(system)
        if identifier is None:
            continue
        candidates = persons_holding(session, crypto.blind, identifier)
        for person_id in sorted(candidates):
            person = session.get(Person, person_id)
            if person is None or person.kind != kind:
                continue
            their_numbers = _person_nhs_numbers(session, person_id)
            if nhs_hash is not None and their_numbers and nhs_hash not in their_numbers:
                continue  # two different valid NHS numbers are two different people
            return person, LinkMethod.DETERMINISTIC
    person = Person(kind=kind)
    session.add(person)
    session.flush()
    return person, LinkMethod.NEW


def upsert_record(
    session: Session,
    crypto: Crypto,
    *,
    agency: Agency,
    local_id: str,
    payload: RecordIn,
    linker: LiveLinker | None = None,
) -> RecordWrite:
    """Create or update what this agency holds about one person; idempotent by local id."""
    identifiers = _validated_identifiers(payload, agency, local_id)
    postcode = None
    if payload.postcode is not None:
        try:
            postcode = normalise_postcode(payload.postcode)
        except InvalidIdentifier as exc:
            raise BadRequest(str(exc), code=str(exc.code)) from None
    record = _own_record(session, agency, local_id)
    created = record is None
    if record is None:
        person, method = _link(session, crypto, identifiers, payload.kind)
        record = AgencyRecord(
            agency_id=agency.id,
            local_id=local_id,
            person_id=person.id,
            kind=payload.kind,
            link_method=method,
            link_confidence=1.0,
        )
        session.add(record)
        if method is LinkMethod.DETERMINISTIC:
            log.append(
                session,
                event=LogEvent.LINK_MADE,
                subject=person.id,
                agency=agency.code,
                body={"record": record.id, "method": str(method), "confidence": 1.0},
            )
    elif record.kind != payload.kind:
        raise BadRequest("A record cannot change between child and adult.", code="kind-changed")

    c = crypto.cipher
    record.given_name_enc = c.encrypt(payload.given_name, column="agency_record.given_name")
    record.family_name_enc = c.encrypt(payload.family_name, column="agency_record.family_name")
    record.birth_date_enc = c.encrypt(
        payload.birth_date.isoformat() if payload.birth_date else None,
        column="agency_record.birth_date",
    )
    record.sex_enc = c.encrypt(payload.sex, column="agency_record.sex")
    record.address_enc = c.encrypt(payload.address, column="agency_record.address")
    record.postcode_enc = c.encrypt(postcode, column="agency_record.postcode")
    _replace_identifiers(record, crypto, identifiers)
    session.flush()
    from hub.linkage.service import after_record_written

    by_system = {i.system: i.value for i in identifiers}
    after_record_written(
        session,
        crypto.cipher,
        crypto.blind,
        linker,
        record=record,
        incoming=SourceRecord(
            record_id=record.id,
            agency=agency.code,
            nhs_number=by_system.get(NHS_NUMBER_SYSTEM),
            upn=by_system.get(UPN_SYSTEM),
            given_name=payload.given_name,
            family_name=payload.family_name,
            birth_date=payload.birth_date,
            sex=payload.sex,
            address=payload.address,
            postcode=postcode,
        ),
        created=created,
    )
    _record_relationships(session, agency=agency, record=record, payload=payload)
    return RecordWrite(record=record, created=created)


def _replace_identifiers(
    record: AgencyRecord, crypto: Crypto, identifiers: list[Identifier]
) -> None:
    wanted = {i.system: i for i in identifiers}
    for existing in list(record.identifiers):
        if existing.system not in wanted:
            record.identifiers.remove(existing)
    have = {i.system: i for i in record.identifiers}
    for system, identifier in wanted.items():
        index = crypto.blind.of(system, identifier.value)
        value = crypto.cipher.encrypt(identifier.value, column="record_identifier.value")
        assert value is not None
        if system in have:
            if have[system].blind_index != index:
                have[system].blind_index = index
                have[system].value_enc = value
        else:
            record.identifiers.append(
                RecordIdentifier(system=system, value_enc=value, blind_index=index)
            )


def _record_relationships(
    session: Session, *, agency: Agency, record: AgencyRecord, payload: RecordIn
) -> None:
    for tie in payload.relationships:
        other = _own_record(session, agency, tie.record)
        if other is None:
            raise BadRequest(
                f"The related record '{tie.record}' has not been registered by your agency yet.",
                code="related-record-not-found",
            )
        exists = session.execute(
            select(Relationship.id).where(
                Relationship.person_id == record.person_id,
                Relationship.related_person_id == other.person_id,
                Relationship.kind == tie.kind,
                Relationship.agency_id == agency.id,
            )
        ).first()
        if exists is None:
            session.add(
                Relationship(
                    person_id=record.person_id,
                    related_person_id=other.person_id,
                    kind=tie.kind,
                    agency_id=agency.id,
                )
            )


def _own_record(session: Session, agency: Agency, local_id: str) -> AgencyRecord | None:
    return session.execute(
        select(AgencyRecord).where(
            AgencyRecord.agency_id == agency.id, AgencyRecord.local_id == local_id
        )
    ).scalar_one_or_none()


def record_for(session: Session, *, agency: Agency, local_id: str) -> AgencyRecord:
    """The agency's own record by its local id; agencies only ever address their own."""
    record = _own_record(session, agency, local_id)
    if record is None:
        raise BadRequest(
            f"Your agency has not registered a person record '{local_id}' with the hub yet.",
            code="record-not-found",
        )
    return record
