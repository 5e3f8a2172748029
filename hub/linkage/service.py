"""Linkage in the database: live linking of a new record, review, split and merge, history.

Every change of a record's person opens a :class:`LinkEvidence` row and ends the previous
one, so the records that made up a person at any moment (and so what a disclosure about that
person covered) can be read back after a split or merge.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from consent.models import ConsentRecord
from hub.agencies.models import Agency
from hub.crypto.fields import BlindIndex, FieldCipher
from hub.db.base import bulk_insert, in_chunks, new_id, utcnow
from hub.disclosure import log
from hub.errors import BadRequest, Conflict, NotFound
from hub.identifiers import NHS_NUMBER_SYSTEM, UPN_SYSTEM
from hub.involvements.models import Involvement
from hub.linkage.features import Features, features
from hub.linkage.live import (
    Candidate,
    LiveDecision,
    LiveLinker,
    Scored,
    block_keys,
    decide,
    query_keys,
)
from hub.linkage.models import LinkBlockKey, LinkEvidence, LinkReview
from hub.linkage.records import SourceRecord
from hub.people.models import AgencyRecord, Person, RecordIdentifier
from hub.vocab import LinkMethod, LogEvent, ReviewStatus

BLOCK_SYSTEM = "urn:early-help-hub:linkage-block"


def _decrypt(cipher: FieldCipher, record: AgencyRecord, name: str) -> str | None:
    token = getattr(record, f"{name}_enc")
    return cipher.decrypt(token, column=f"agency_record.{name}")


def source_record(cipher: FieldCipher, record: AgencyRecord) -> SourceRecord:
    """The record's demographics in plain text, for the model only (never logged)."""
    ids = {
        i.system: cipher.decrypt(i.value_enc, column="record_identifier.value")
        for i in record.identifiers
    }
    born = _decrypt(cipher, record, "birth_date")
    return SourceRecord(
        record_id=record.id,
        agency=record.agency.code,
        nhs_number=ids.get(NHS_NUMBER_SYSTEM),
        upn=ids.get(UPN_SYSTEM),
        given_name=_decrypt(cipher, record, "given_name"),
        family_name=_decrypt(cipher, record, "family_name"),
        birth_date=date.fromisoformat(born) if born else None,
        sex=_decrypt(cipher, record, "sex"),
        address=_decrypt(cipher, record, "address"),
        postcode=_decrypt(cipher, record, "postcode"),
        kind=record.kind,
    )


def current_person(session: Session, person_id: str) -> str:
    seen: set[str] = set()
    person = session.get(Person, person_id)
    while person is not None and person.merged_into_id and person.id not in seen:
        seen.add(person.id)
        person = session.get(Person, person.merged_into_id)
    return person.id if person is not None else person_id


class LiveBatch:
    """Live linking for a batch of records: candidate blocks read once, not once per record.

    The records the batch writes become candidates for the ones after them (``add``), so a
    batch links exactly as the same records written one at a time would.
    """

    def __init__(
        self,
        session: Session,
        cipher: FieldCipher,
        blind: BlindIndex,
        linker: LiveLinker | None,
        incoming: Sequence[Features],
    ) -> None:
        self.scorer = linker.scorer() if linker is not None else None
        self.linker = linker
        self._by_key: dict[str, dict[str, Candidate]] = {}
        self._keys_of: dict[str, list[str]] = {}
        self._kind_of: dict[str, str] = {}
        self.persons: set[str] = set()
        if self.scorer is None or not incoming:
            return
        plain = {k for f in incoming for k in query_keys(f)}
        hashed = {blind.of(BLOCK_SYSTEM, k): k for k in plain}
        if not hashed:
            return
        found = _candidate_records(session, cipher, hashed)
        current = current_people(session, {person_id for _, person_id, _ in found})
        for source, person_id, kind in found:
            self.add(source.record_id, current[person_id], kind, features(source))
        self.persons = set(current.values())

    def add(self, record_id: str, person_id: str, kind: str, f: Features) -> None:
        """The record as it now stands is a candidate for the records after it."""
        for key in self._keys_of.pop(record_id, []):
            self._by_key[key].pop(record_id, None)
        keys = block_keys(f)
        candidate = Candidate(record_id, person_id, f)
        for key in keys:
            self._by_key.setdefault(key, {})[record_id] = candidate
        self._keys_of[record_id] = keys
        self._kind_of[record_id] = kind

    def candidates(self, kind: str, f: Features, skip: str) -> list[Candidate]:
        found: dict[str, Candidate] = {}
        for key in query_keys(f):
            for record_id, candidate in self._by_key.get(key, {}).items():
                if record_id != skip and self._kind_of[record_id] == kind:
                    found.setdefault(record_id, candidate)
        return list(found.values())

    def decide(
        self, candidates: list[Candidate], f: Features, conflicting: set[str]
    ) -> LiveDecision:
        assert self.scorer is not None and self.linker is not None
        return decide(self.scorer, self.linker.thresholds, f, _Fixed(candidates), conflicting)


_PLAIN = ("given_name", "family_name", "birth_date", "sex", "address", "postcode")


def _candidate_records(
    session: Session, cipher: FieldCipher, hashed_keys: Iterable[str]
) -> list[tuple[SourceRecord, str, str]]:
    """Records holding any of the keys, each as (plain record, person id, kind).

    Read as plain rows rather than ORM objects: a batch can have thousands of candidates.
    """
    columns = [AgencyRecord.id, AgencyRecord.person_id, AgencyRecord.kind, Agency.code]
    columns += [getattr(AgencyRecord, f"{name}_enc") for name in _PLAIN]
    rows: dict[str, Any] = {}
    for chunk in in_chunks(hashed_keys):
        for row in session.execute(
            select(*columns)
            .join(LinkBlockKey, LinkBlockKey.record_id == AgencyRecord.id)
            .join(Agency, Agency.id == AgencyRecord.agency_id)
            .where(LinkBlockKey.key.in_(chunk))
        ).all():
            rows[row[0]] = row
    numbers: dict[str, dict[str, str | None]] = {}
    for chunk in in_chunks(rows):
        for record_id, system, value in session.execute(
            select(RecordIdentifier.record_id, RecordIdentifier.system, RecordIdentifier.value_enc)
            .where(
                RecordIdentifier.record_id.in_(chunk),
                RecordIdentifier.system.in_((NHS_NUMBER_SYSTEM, UPN_SYSTEM)),
            )
        ).all():  # fmt: skip
            numbers.setdefault(record_id, {})[system] = cipher.decrypt(
                value, column="record_identifier.value"
            )
    found = []
    for record_id, person_id, kind, agency, *sealed in rows.values():
        plain = {
            name: cipher.decrypt(token, column=f"agency_record.{name}")
            for name, token in zip(_PLAIN, sealed, strict=True)
        }
        ids = numbers.get(record_id, {})
        born = plain.pop("birth_date")
        source = SourceRecord(
            record_id=record_id,
            agency=agency,
            nhs_number=ids.get(NHS_NUMBER_SYSTEM),
            upn=ids.get(UPN_SYSTEM),
            given_name=plain["given_name"],
            family_name=plain["family_name"],
            birth_date=date.fromisoformat(born) if born else None,
            sex=plain["sex"],
            address=plain["address"],
            postcode=plain["postcode"],
            kind=kind,
        )
        found.append((source, person_id, kind))
    return found


def current_people(session: Session, person_ids: set[str]) -> dict[str, str]:
    """Each person id followed through merges, in one query when (as usual) none was merged."""
    merged = {
        pid
        for chunk in in_chunks(person_ids)
        for pid, into in session.execute(
            select(Person.id, Person.merged_into_id).where(Person.id.in_(chunk))
        ).all()
        if into
    }
    return {pid: current_person(session, pid) if pid in merged else pid for pid in person_ids}


class _Fixed:
    def __init__(self, candidates: list[Candidate]) -> None:
        self._candidates = candidates

    def candidates(self, keys: Sequence[str]) -> Iterable[Candidate]:
        return self._candidates


def block_key_rows(blind: BlindIndex, record_id: str, f: Features) -> list[dict[str, str]]:
    """Blocking keys for live linking, and the household key (prefixed ``h:``) for families."""
    from hub.linkage.families import household_hash

    rows = [{"record_id": record_id, "key": blind.of(BLOCK_SYSTEM, key)} for key in block_keys(f)]
    household = household_hash(blind, f)
    if household is not None:
        rows.append({"record_id": record_id, "key": f"h:{household[:62]}"})
    return rows


def evidence_row(
    *,
    record_id: str,
    person_id: str,
    method: str,
    scored: Scored | None = None,
    model_version: str | None = None,
    decided_by: str | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "record_id": record_id,
        "person_id": person_id,
        "method": method,
        "matched_record_id": scored.candidate.record_id if scored else None,
        "weight": scored.score.weight if scored else None,
        "fields_json": json.dumps(scored.score.as_json() if scored else []),
        "model_version": model_version,
        "decided_by": decided_by,
        "created_at": utcnow(),
    }


def reindex_all(
    sessions: Callable[[], Session], cipher: FieldCipher, blind: BlindIndex, *, batch: int = 1000
) -> int:
    """Rebuild every record's blocking keys (after an upgrade changes the blocking rules)."""
    with sessions() as session:
        ids = list(session.execute(select(AgencyRecord.id).order_by(AgencyRecord.id)).scalars())
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with sessions() as session:
            rows = session.execute(select(AgencyRecord).where(AgencyRecord.id.in_(chunk)))
            keys = [
                key
                for row in rows.scalars()
                for key in block_key_rows(blind, row.id, features(source_record(cipher, row)))
            ]
            session.execute(delete(LinkBlockKey).where(LinkBlockKey.record_id.in_(chunk)))
            if keys:
                session.execute(bulk_insert(LinkBlockKey), keys)
            session.commit()
    return len(ids)


def open_evidence(
    session: Session,
    *,
    record_id: str,
    person_id: str,
    method: str,
    scored: Scored | None = None,
    model_version: str | None = None,
    decided_by: str | None = None,
) -> LinkEvidence:
    evidence = LinkEvidence(
        **evidence_row(
            record_id=record_id,
            person_id=person_id,
            method=method,
            scored=scored,
            model_version=model_version,
            decided_by=decided_by,
        )
    )
    session.add(evidence)
    return evidence


def end_evidence(session: Session, record_id: str, reason: str) -> None:
    for row in session.execute(
        select(LinkEvidence).where(
            LinkEvidence.record_id == record_id, LinkEvidence.ended_at.is_(None)
        )
    ).scalars():
        row.ended_at = utcnow()
        row.ended_reason = reason


def link_made(
    *,
    person_id: str,
    agency: str,
    record_id: str,
    method: str,
    confidence: float,
    weight: float | None = None,
    model_version: str | None = None,
) -> log.Pending:
    """The log entry for a record joining a person unasked: how, how sure, by which model."""
    body: dict[str, Any] = {
        "record": record_id,
        "method": str(method),
        "confidence": round(confidence, 6),
    }
    if weight is not None:
        body |= {"weight": round(weight, 3), "model": model_version}
    return log.Pending(event=LogEvent.LINK_MADE, subject=person_id, agency=agency, body=body)


def review_row(record_id: str, doubtful: Scored, model_version: str) -> dict[str, Any]:
    return {
        "id": new_id(),
        "record_id": record_id,
        "candidate_record_id": doubtful.candidate.record_id,
        "weight": doubtful.score.weight,
        "fields_json": json.dumps(doubtful.score.as_json()),
        "model_version": model_version,
        "status": ReviewStatus.OPEN,
        "created_at": utcnow(),
    }


# People deciding -------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewView:
    review: LinkReview
    record: dict[str, Any]
    candidate: dict[str, Any]
    fields: list[dict[str, Any]]


def _plain(cipher: FieldCipher, record: AgencyRecord) -> dict[str, Any]:
    source = source_record(cipher, record)
    return {
        "record_id": record.id,
        "agency": record.agency.code,
        "person_id": record.person_id,
        "nhs_number": source.nhs_number,
        "upn": source.upn,
        "given_name": source.given_name,
        "family_name": source.family_name,
        "birth_date": source.birth_date.isoformat() if source.birth_date else None,
        "sex": source.sex,
        "address": source.address,
        "postcode": source.postcode,
    }


def get_review(session: Session, review_id: str) -> LinkReview:
    review = session.get(LinkReview, review_id)
    if review is None:
        raise NotFound("There is no such review item.", code="review-not-found")
    return review


def show_review(session: Session, cipher: FieldCipher, review_id: str) -> ReviewView:
    review = get_review(session, review_id)
    record = session.get(AgencyRecord, review.record_id)
    candidate = session.get(AgencyRecord, review.candidate_record_id)
    assert record is not None and candidate is not None
    return ReviewView(
        review=review,
        record=_plain(cipher, record),
        candidate=_plain(cipher, candidate),
        fields=json.loads(review.fields_json),
    )


def list_reviews(session: Session, status: str = ReviewStatus.OPEN) -> list[LinkReview]:
    return list(
        session.execute(
            select(LinkReview).where(LinkReview.status == status).order_by(LinkReview.created_at)
        ).scalars()
    )


def _nhs_numbers(session: Session, person_id: str) -> set[str]:
    """Blind-indexed NHS numbers of every record of the person (and those merged into it)."""
    from hub.linkage.families import _merged_ids
    from hub.people.service import _person_nhs_numbers

    found: set[str] = set()
    for pid in _merged_ids(session, person_id):
        found |= _person_nhs_numbers(session, pid)
    return found


def merge_people(
    session: Session, *, source_id: str, target_id: str, actor: str, reason: str, method: str
) -> int:
    """Move every record of ``source_id`` to ``target_id``; refused across NHS numbers."""
    source_id, target_id = current_person(session, source_id), current_person(session, target_id)
    if source_id == target_id:
        return 0
    source, target = session.get(Person, source_id), session.get(Person, target_id)
    if source is None or target is None:
        raise NotFound("There is no such person in the index.", code="person-not-found")
    if source.kind != target.kind:
        raise Conflict("A child and an adult cannot be merged.", code="merge-kind-differs")
    theirs, ours = _nhs_numbers(session, source_id), _nhs_numbers(session, target_id)
    if theirs and ours and theirs != ours:
        raise Conflict(
            "These records carry different NHS numbers, so they are different people.",
            code="merge-nhs-conflict",
        )
    records = list(
        session.execute(select(AgencyRecord).where(AgencyRecord.person_id == source_id)).scalars()
    )
    for record in records:
        end_evidence(session, record.id, "merged")
        record.person_id = target_id
        record.link_method = LinkMethod.REVIEWED
        record.link_confidence = 1.0
        open_evidence(
            session, record_id=record.id, person_id=target_id, method=method, decided_by=actor
        )
    _move_involvements(session, source_id, target_id)
    for consent in session.execute(
        select(ConsentRecord).where(ConsentRecord.person_id == source_id)
    ).scalars():
        consent.person_id = target_id  # one child: the consent given for them follows
    source.merged_into_id = target_id
    log.append(
        session,
        event=LogEvent.PEOPLE_MERGED,
        subject=target_id,
        body={
            "merged": source_id,
            "records": sorted(r.id for r in records),
            "by": actor,
            "reason": reason,
        },
    )
    return len(records)


def decide_review(
    session: Session, review_id: str, *, accept: bool, actor: str, reason: str | None
) -> LinkReview:
    review = get_review(session, review_id)
    if review.status != ReviewStatus.OPEN:
        raise Conflict("This review item has already been decided.", code="review-decided")
    record = session.get(AgencyRecord, review.record_id)
    candidate = session.get(AgencyRecord, review.candidate_record_id)
    assert record is not None and candidate is not None
    if accept:
        merge_people(
            session,
            source_id=record.person_id,
            target_id=candidate.person_id,
            actor=actor,
            reason=reason or "review accepted",
            method=LinkMethod.REVIEWED,
        )
    review.status = ReviewStatus.ACCEPTED if accept else ReviewStatus.REJECTED
    review.decided_by, review.decided_at, review.reason = actor, utcnow(), reason
    log.append(
        session,
        event=LogEvent.LINK_REVIEW_DECIDED,
        subject=current_person(session, candidate.person_id),
        outcome=str(review.status),
        body={
            "review": review.id,
            "records": [record.id, candidate.id],
            "weight": round(review.weight, 3),
            "model": review.model_version,
            "by": actor,
            "reason": reason,
        },
    )
    return review


def split_record(session: Session, record_id: str, *, actor: str, reason: str) -> Person:
    """Take one record out of its person into a new person of its own (undo a wrong link)."""
    record = session.get(AgencyRecord, record_id)
    if record is None:
        raise NotFound("There is no such agency record.", code="record-not-found")
    old = record.person_id
    others = session.execute(
        select(AgencyRecord.id).where(AgencyRecord.person_id == old, AgencyRecord.id != record_id)
    ).first()
    if others is None:
        raise BadRequest(
            "This record is the only one of its person: nothing to split.", code="split-alone"
        )
    person = Person(kind=record.kind)
    session.add(person)
    session.flush()
    end_evidence(session, record.id, "split")
    still_there = session.execute(
        select(AgencyRecord.id).where(
            AgencyRecord.person_id == old,
            AgencyRecord.agency_id == record.agency_id,
            AgencyRecord.id != record.id,
        )
    ).first()
    if still_there is None:
        # Involvements name the person, not the record: the agency's go with its record.
        _move_involvements(session, old, person.id, agency_id=record.agency_id)
    record.person_id = person.id
    record.link_method = LinkMethod.NEW
    record.link_confidence = 1.0
    open_evidence(
        session, record_id=record.id, person_id=person.id, method="split", decided_by=actor
    )
    # The pair is now known to be two people: close any review that would join them again.
    for review in session.execute(
        select(LinkReview).where(
            LinkReview.status == ReviewStatus.OPEN,
            or_(LinkReview.record_id == record_id, LinkReview.candidate_record_id == record_id),
        )
    ).scalars():
        review.status = ReviewStatus.WITHDRAWN
    log.append(
        session,
        event=LogEvent.LINK_SPLIT,
        subject=old,
        body={"record": record.id, "new_person": person.id, "by": actor, "reason": reason},
    )
    return person


def _move_involvements(
    session: Session, source_id: str, target_id: str, agency_id: int | None = None
) -> None:
    query = select(Involvement).where(Involvement.person_id == source_id)
    if agency_id is not None:
        query = query.where(Involvement.agency_id == agency_id)
    for involvement in session.execute(query).scalars():
        involvement.person_id = target_id


def records_at(session: Session, person_id: str, moment: datetime) -> list[str]:
    """The records that made up a person at a moment: what a disclosure then was about."""
    rows = session.execute(
        select(LinkEvidence.record_id).where(
            LinkEvidence.person_id == person_id,
            LinkEvidence.created_at <= moment,
            or_(LinkEvidence.ended_at.is_(None), LinkEvidence.ended_at > moment),
        )
    )
    return sorted({r[0] for r in rows})
