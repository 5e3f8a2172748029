"""Writing agency records into the master index, encrypted, and linking them to people.

Linking is deterministic first: a record joins the person who already holds the same NHS
number or UPN, and a record whose NHS number differs from the matched person's is never joined
to them. A new record that no identifier links is then scored live against the index with the
trained model (``hub.linkage``): linked above the threshold, sent to review in the doubtful
band, kept apart below it. An adult known by name alone is not scored against the county (a
name fits many people); the batch places them among the carers of the child it ties them to
(``hub.people.placing``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from hub.agencies.models import Agency
from hub.crypto.fields import BlindIndex, FieldCipher
from hub.db.base import bulk_insert, in_chunks, new_id, utcnow
from hub.db.engine import Reads
from hub.db.reads import fetch_rows
from hub.disclosure import log
from hub.errors import BadRequest, HubError
from hub.identifiers import (
    NHS_NUMBER_SYSTEM,
    UPN_SYSTEM,
    Identifier,
    InvalidIdentifier,
    agency_system,
    normalise,
    normalise_postcode,
)
from hub.linkage.features import Features, features
from hub.linkage.live import LiveLinker
from hub.linkage.models import LinkBlockKey, LinkEvidence, LinkReview
from hub.linkage.records import SourceRecord
from hub.linkage.service import LiveBatch, block_key_rows, evidence_row, link_made, review_row
from hub.people.models import AgencyRecord, Person, RecordIdentifier, Relationship
from hub.people.placing import Placement, Placing, apply, known_by_name_alone, merge_earlier
from hub.people.schemas import RecordIn, RelationshipIn
from hub.vocab import LinkMethod, LinkOutcome

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


_PEOPLE_HOLDING = (
    select(Person.id, Person.merged_into_id)
    .join(AgencyRecord, AgencyRecord.person_id == Person.id)
    .join(RecordIdentifier, RecordIdentifier.record_id == AgencyRecord.id)
    .where(
        RecordIdentifier.system == bindparam("system"),
        RecordIdentifier.blind_index == bindparam("blind_index"),
    )
)
"""Built once: on the decision path, building the statement cost as much as running it."""


def people_holding(
    reads: Reads, blind: BlindIndex, identifier: Identifier
) -> list[tuple[str, str | None]]:
    """The people whose records carry the identifier (id, and whom each was merged into)."""
    rows = fetch_rows(
        reads,
        _PEOPLE_HOLDING,
        {
            "system": identifier.system,
            "blind_index": blind.of(identifier.system, identifier.value),
        },
    )
    return list(dict.fromkeys((row[0], row[1]) for row in rows))


def _person_nhs_numbers(session: Session, person_id: str) -> set[str]:
    rows = session.execute(
        select(RecordIdentifier.blind_index)
        .join(AgencyRecord, RecordIdentifier.record_id == AgencyRecord.id)
        .where(AgencyRecord.person_id == person_id, RecordIdentifier.system == NHS_NUMBER_SYSTEM)
    )
    return {row[0] for row in rows}


@dataclass(frozen=True)
class RecordUpsert:
    """One record to write: the agency's own id for the person and what it holds about them."""

    local_id: str
    payload: RecordIn


@dataclass
class RecordOutcome:
    """What became of one record of a batch: written (created or not), or refused and why.

    ``untied`` says the record was written without its family ties because a related record
    was missing (only when the caller asked for that instead of a refusal).
    """

    local_id: str
    record_id: str | None = None
    person_id: str | None = None
    created: bool = False
    error: HubError | None = None
    untied: HubError | None = None


@dataclass
class _Plan:
    """One valid record of the batch on its way to the database."""

    local_id: str
    payload: RecordIn
    identifiers: list[Identifier]
    hashes: dict[str, str]
    postcode: str | None
    incoming: SourceRecord
    features: Features
    relationships: list[RelationshipIn]
    existing: Any  # the record's row (id, local id, person, kind) when it exists
    record_id: str


class _LinkIndex:
    """The slice of the master index a batch can link to, kept current as the batch is applied.

    Records are held by their linking identifiers (blind indexes) and their people, so that
    each record of the batch sees the records written before it, as one-at-a-time writes would.
    """

    def __init__(self) -> None:
        self.person_of: dict[str, str] = {}
        self.hashes_of: dict[str, dict[str, str]] = {}
        self.holders: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.records_of: dict[str, set[str]] = defaultdict(set)
        self.kind_of: dict[str, str] = {}
        self.merged_from: dict[str, set[str]] = defaultdict(set)

    def put(self, record_id: str, person_id: str, hashes: dict[str, str]) -> None:
        for system, index in self.hashes_of.get(record_id, {}).items():
            self.holders[(system, index)].discard(record_id)
        old = self.person_of.get(record_id)
        if old is not None:
            self.records_of[old].discard(record_id)
        self.person_of[record_id] = person_id
        linking = {s: h for s, h in hashes.items() if s in LINKING_SYSTEMS}
        self.hashes_of[record_id] = linking
        self.records_of[person_id].add(record_id)
        for system, index in linking.items():
            self.holders[(system, index)].add(record_id)

    def persons_holding(self, system: str, index: str) -> set[str]:
        return {self.person_of[r] for r in self.holders.get((system, index), ())}

    def nhs_numbers(self, person_id: str) -> set[str]:
        return {
            number
            for r in self.records_of.get(person_id, ())
            if (number := self.hashes_of[r].get(NHS_NUMBER_SYSTEM)) is not None
        }

    def nhs_numbers_merged(self, person_id: str) -> set[str]:
        """NHS numbers of the person and of everyone merged into them."""
        found: set[str] = set()
        seen: set[str] = set()
        frontier = {person_id}
        while frontier:
            pid = frontier.pop()
            seen.add(pid)
            found |= self.nhs_numbers(pid)
            frontier |= self.merged_from.get(pid, set()) - seen
        return found

    def load(self, session: Session, persons: set[str], hashes: set[str]) -> None:
        """Records holding any of ``hashes``, and every linking identifier of their people."""
        for chunk in in_chunks(hashes):
            persons = persons | set(
                session.execute(
                    select(AgencyRecord.person_id)
                    .join(RecordIdentifier, RecordIdentifier.record_id == AgencyRecord.id)
                    .where(
                        RecordIdentifier.system.in_(LINKING_SYSTEMS),
                        RecordIdentifier.blind_index.in_(chunk),
                    )
                ).scalars()
            )
        frontier = set(persons)
        while frontier:  # people merged into these: their numbers count for live linking
            rows = [
                row
                for chunk in in_chunks(frontier)
                for row in session.execute(
                    select(Person.id, Person.merged_into_id).where(Person.merged_into_id.in_(chunk))
                ).all()
            ]
            frontier = {pid for pid, _ in rows} - persons
            persons |= frontier
            for pid, into in rows:
                if into is not None:
                    self.merged_from[into].add(pid)
        held: dict[str, tuple[str, dict[str, str]]] = {}
        for chunk in in_chunks(persons):
            self.kind_of.update(
                session.execute(select(Person.id, Person.kind).where(Person.id.in_(chunk))).all()
            )
            for record_id, person_id, system, index in session.execute(
                select(
                    AgencyRecord.id, AgencyRecord.person_id, RecordIdentifier.system,
                    RecordIdentifier.blind_index,
                )
                .join(RecordIdentifier, RecordIdentifier.record_id == AgencyRecord.id)
                .where(
                    AgencyRecord.person_id.in_(chunk), RecordIdentifier.system.in_(LINKING_SYSTEMS)
                )
            ).all():  # fmt: skip
                held.setdefault(record_id, (person_id, {}))[1][system] = index
        for record_id, (person_id, found) in held.items():
            if record_id not in self.person_of:
                self.put(record_id, person_id, found)

    def link(self, plan: _Plan, kind: str) -> str | None:
        """The person an identifier links this record to, if any (NHS number first)."""
        nhs = plan.hashes.get(NHS_NUMBER_SYSTEM)
        for system in LINKING_SYSTEMS:
            index = plan.hashes.get(system)
            if index is None:
                continue
            for person_id in sorted(self.persons_holding(system, index)):
                if self.kind_of.get(person_id) != kind:
                    continue
                theirs = self.nhs_numbers(person_id)
                if nhs is not None and theirs and nhs not in theirs:
                    continue  # two different valid NHS numbers are two different people
                return person_id
        return None


def source_of(
    payload: RecordIn,
    *,
    record_id: str,
    agency: str,
    identifiers: Mapping[str, str],
    postcode: str | None,
) -> SourceRecord:
    """A record as linkage reads it: the same for a live write and for a county linked in bulk."""
    return SourceRecord(
        record_id=record_id,
        agency=agency,
        nhs_number=identifiers.get(NHS_NUMBER_SYSTEM),
        upn=identifiers.get(UPN_SYSTEM),
        given_name=payload.given_name,
        family_name=payload.family_name,
        birth_date=payload.birth_date,
        sex=payload.sex,
        address=payload.address,
        postcode=postcode,
        kind=str(payload.kind),
    )


def _postcode_of(payload: RecordIn) -> str | None:
    if payload.postcode is None:
        return None
    try:
        return normalise_postcode(payload.postcode)
    except InvalidIdentifier as exc:
        raise BadRequest(str(exc), code=str(exc.code)) from None


def _missing_tie(record: str) -> BadRequest:
    return BadRequest(
        f"The related record '{record}' has not been registered by your agency yet.",
        code="related-record-not-found",
    )


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
    (outcome,) = upsert_records(
        session, crypto, agency=agency, records=[RecordUpsert(local_id, payload)], linker=linker
    )
    if outcome.error is not None:
        raise outcome.error
    record = session.get(AgencyRecord, outcome.record_id)
    assert record is not None
    return RecordWrite(record=record, created=outcome.created)


def upsert_records(
    session: Session,
    crypto: Crypto,
    *,
    agency: Agency,
    records: Sequence[RecordUpsert],
    linker: LiveLinker | None = None,
    untie_missing: bool = False,
) -> list[RecordOutcome]:
    """Create or update a batch of this agency's records, as if written one after another.

    Each record is checked before anything is written; a refused record is reported in its
    outcome and the others are written. The index is read once per batch and written with one
    statement per table. With ``untie_missing``, a record whose related record is unknown is
    written without its ties (and says so) instead of being refused.
    """
    outcomes: list[RecordOutcome] = []
    run: list[RecordUpsert] = []
    ids: set[str] = set()
    for item in records:  # a local id twice in a batch: the second write sees the first
        if item.local_id in ids:
            outcomes += _upsert_run(session, crypto, agency, run, linker, untie_missing)
            run, ids = [], set()
        run.append(item)
        ids.add(item.local_id)
    if run:
        outcomes += _upsert_run(session, crypto, agency, run, linker, untie_missing)
    return outcomes


def _upsert_run(
    session: Session,
    crypto: Crypto,
    agency: Agency,
    records: Sequence[RecordUpsert],
    linker: LiveLinker | None,
    untie_missing: bool,
) -> list[RecordOutcome]:
    session.flush()
    outcomes = [RecordOutcome(item.local_id) for item in records]
    existing = {
        row.local_id: row
        for row in session.execute(
            select(
                AgencyRecord.id, AgencyRecord.local_id, AgencyRecord.person_id, AgencyRecord.kind
            ).where(
                AgencyRecord.agency_id == agency.id,
                AgencyRecord.local_id.in_({item.local_id for item in records}),
            )
        )
    }
    plans: list[_Plan | None] = []
    for item, outcome in zip(records, outcomes, strict=True):
        try:
            plans.append(_plan(crypto, agency, item, existing.get(item.local_id)))
        except HubError as exc:
            outcome.error = exc
            plans.append(None)

    # Ties name records by local id: known already, or written earlier in this batch.
    named = {tie.record for plan in plans if plan for tie in plan.relationships}
    known: dict[str, str] = {
        local_id: person_id
        for chunk in in_chunks(named)
        for local_id, person_id in session.execute(
            select(AgencyRecord.local_id, AgencyRecord.person_id).where(
                AgencyRecord.agency_id == agency.id, AgencyRecord.local_id.in_(chunk)
            )
        ).all()
    }
    written: set[str] = set()
    for n, plan in enumerate(plans):
        if plan is None:
            continue
        unknown = (t.record for t in plan.relationships if t.record not in known)
        missing = next((record for record in unknown if record not in written), None)
        if missing is not None:
            if not untie_missing:
                outcomes[n].error = _missing_tie(missing)
                plans[n] = None
                continue
            outcomes[n].untied = _missing_tie(missing)
            plan.relationships = []
        written.add(plan.local_id)

    valid = [plan for plan in plans if plan is not None]
    new = [plan for plan in valid if plan.existing is None]
    live = LiveBatch(session, crypto.cipher, crypto.blind, linker, [plan.features for plan in new])
    index = _LinkIndex()
    index.load(
        session,
        {plan.existing.person_id for plan in valid if plan.existing is not None} | live.persons,
        {h for plan in new for s, h in plan.hashes.items() if s in LINKING_SYSTEMS},
    )
    ties_held = _ties_held(session, agency, index, valid, known)

    c = crypto.cipher
    people: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    evidence: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    entries: list[log.Pending] = []
    identifiers: list[dict[str, Any]] = []
    block_keys: list[dict[str, str]] = []
    ties: list[dict[str, Any]] = []
    person_of_local: dict[str, str] = {}
    placing = Placing()
    ties_before = set(ties_held)
    now = utcnow()
    for n, plan in enumerate(plans):
        if plan is None:
            continue
        f = plan.features
        payload = plan.payload
        fields = {
            "given_name_enc": c.encrypt(payload.given_name, column="agency_record.given_name"),
            "family_name_enc": c.encrypt(payload.family_name, column="agency_record.family_name"),
            "birth_date_enc": c.encrypt(
                payload.birth_date.isoformat() if payload.birth_date else None,
                column="agency_record.birth_date",
            ),
            "sex_enc": c.encrypt(payload.sex, column="agency_record.sex"),
            "address_enc": c.encrypt(payload.address, column="agency_record.address"),
            "postcode_enc": c.encrypt(plan.postcode, column="agency_record.postcode"),
            "updated_at": now,
        }
        if plan.existing is not None:
            person_id = plan.existing.person_id
            updates.append({"id": plan.record_id, **fields})
        else:
            person_id, method, confidence = _link_new(
                index, live, plan, f, evidence, reviews, entries, agency
            )
            if person_id is None:
                person_id = new_id()
                people.append({"id": person_id, "kind": payload.kind, "created_at": now})
                index.kind_of[person_id] = payload.kind
                evidence.append(
                    evidence_row(record_id=plan.record_id, person_id=person_id, method=method)
                )
            inserts.append(
                {
                    "id": plan.record_id,
                    "agency_id": agency.id,
                    "local_id": plan.local_id,
                    "person_id": person_id,
                    "kind": payload.kind,
                    "link_method": method,
                    "link_confidence": confidence,
                    "created_at": now,
                    **fields,
                }
            )
            outcomes[n].created = True
        index.put(plan.record_id, person_id, plan.hashes)
        if live.scorer is not None:
            live.add(plan.record_id, person_id, payload.kind, f)
        placing.written(plan.record_id, person_id, payload.kind, f, new=plan.existing is None)
        identifiers += _identifier_rows(crypto, plan)
        block_keys += block_key_rows(crypto.blind, plan.record_id, f)
        person_of_local[plan.local_id] = person_id
        for tie in plan.relationships:
            other = person_of_local.get(tie.record) or known[tie.record]
            placing.tied(person_id, other, tie.kind)
            key = (person_id, other, str(tie.kind))
            if key not in ties_held:
                ties_held.add(key)
                ties.append(
                    {"person_id": person_id, "related_person_id": other, "kind": tie.kind,
                     "agency_id": agency.id}
                )  # fmt: skip
        outcomes[n].record_id, outcomes[n].person_id = plan.record_id, person_id

    placed: list[Placement] = []
    if live.scorer is not None and live.linker is not None:
        placed = placing.place(session, c, live.scorer, live.linker.thresholds, ties)
        moved = apply(
            placed,
            model_version=live.scorer.version,
            agency_code=agency.code,
            people=people,
            inserts=inserts,
            evidence=evidence,
            reviews=reviews,
            ties=ties,
            ties_held=ties_before,
            entries=entries,
        )
        for outcome in outcomes:
            if outcome.person_id in moved:
                outcome.person_id = moved[outcome.person_id]
    _write(session, people, inserts, updates, identifiers, block_keys, evidence, reviews, ties)
    if entries:
        log.append_many(session, entries)
    if placed and live.scorer is not None:
        merge_earlier(session, placed, model_version=live.scorer.version)
    _forget(session, [plan.record_id for plan in valid if plan.existing is not None])
    return outcomes


def _plan(crypto: Crypto, agency: Agency, item: RecordUpsert, existing: Any) -> _Plan:
    """Everything about one record that can be checked before writing: refused here, or valid."""
    payload = item.payload
    identifiers = _validated_identifiers(payload, agency, item.local_id)
    postcode = _postcode_of(payload)
    if existing is not None and existing.kind != payload.kind:
        raise BadRequest("A record cannot change between child and adult.", code="kind-changed")
    record_id = existing.id if existing is not None else new_id()
    incoming = source_of(
        payload,
        record_id=record_id,
        agency=agency.code,
        identifiers={i.system: i.value for i in identifiers},
        postcode=postcode,
    )
    return _Plan(
        local_id=item.local_id,
        payload=payload,
        identifiers=identifiers,
        hashes={i.system: crypto.blind.of(i.system, i.value) for i in identifiers},
        postcode=postcode,
        incoming=incoming,
        features=features(incoming),
        relationships=list(payload.relationships),
        existing=existing,
        record_id=record_id,
    )


def _link_new(
    index: _LinkIndex,
    live: LiveBatch,
    plan: _Plan,
    f: Features,
    evidence: list[dict[str, Any]],
    reviews: list[dict[str, Any]],
    entries: list[log.Pending],
    agency: Agency,
) -> tuple[str | None, str, float]:
    """Link a new record: by identifier, else live by the model; None means a new person."""
    kind = plan.payload.kind
    person_id = index.link(plan, kind)
    if person_id is not None:
        evidence.append(
            evidence_row(
                record_id=plan.record_id, person_id=person_id, method=LinkMethod.DETERMINISTIC
            )
        )
        entries.append(
            link_made(
                person_id=person_id,
                agency=agency.code,
                record_id=plan.record_id,
                method=LinkMethod.DETERMINISTIC,
                confidence=1.0,
            )
        )
        return person_id, LinkMethod.DETERMINISTIC, 1.0
    if live.scorer is None or known_by_name_alone(kind, f):
        return None, LinkMethod.NEW, 1.0  # a name alone is placed through the child (placing)
    candidates = live.candidates(kind, f, skip=plan.record_id)
    conflicting: set[str] = set()
    if f.nhs:
        ours = plan.hashes[NHS_NUMBER_SYSTEM]
        for candidate_person in {c.person_id for c in candidates}:
            theirs = index.nhs_numbers_merged(candidate_person)
            if theirs and ours not in theirs:
                conflicting.add(candidate_person)  # another record of theirs has another number
    decision = live.decide(candidates, f, conflicting)
    version = live.scorer.version
    for doubtful in decision.reviews:
        reviews.append(review_row(plan.record_id, doubtful, version))
    if decision.outcome is LinkOutcome.LINK and decision.person_id and decision.best:
        best = decision.best
        evidence.append(
            evidence_row(
                record_id=plan.record_id,
                person_id=decision.person_id,
                method=LinkMethod.PROBABILISTIC,
                scored=best,
                model_version=version,
            )
        )
        entries.append(
            link_made(
                person_id=decision.person_id,
                agency=agency.code,
                record_id=plan.record_id,
                method=LinkMethod.PROBABILISTIC,
                confidence=best.score.probability,
                weight=best.score.weight,
                model_version=version,
            )
        )
        return decision.person_id, LinkMethod.PROBABILISTIC, best.score.probability
    return None, LinkMethod.NEW, 1.0


def _ties_held(
    session: Session,
    agency: Agency,
    index: _LinkIndex,
    plans: list[_Plan],
    known: dict[str, str],
) -> set[tuple[str, str, str]]:
    """The ties this agency already reported between the people a batch's ties could name."""
    if not any(plan.relationships for plan in plans):
        return set()
    people = {plan.existing.person_id for plan in plans if plan.existing is not None}
    people |= set(index.person_of.values()) | set(known.values())
    return {
        (a, b, str(kind))
        for chunk in in_chunks(people)
        for a, b, kind in session.execute(
            select(Relationship.person_id, Relationship.related_person_id, Relationship.kind).where(
                Relationship.agency_id == agency.id, Relationship.person_id.in_(chunk)
            )
        ).all()
    }


def _identifier_rows(crypto: Crypto, plan: _Plan) -> list[dict[str, Any]]:
    return [
        {
            "record_id": plan.record_id,
            "system": i.system,
            "value_enc": crypto.cipher.encrypt(i.value, column="record_identifier.value"),
            "blind_index": plan.hashes[i.system],
        }
        for i in plan.identifiers
    ]


def _write(
    session: Session,
    people: list[dict[str, Any]],
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    identifiers: list[dict[str, Any]],
    block_keys: list[dict[str, str]],
    evidence: list[dict[str, Any]],
    reviews: list[dict[str, Any]],
    ties: list[dict[str, Any]],
) -> None:
    """One statement per table; rows of updated records are replaced, not patched."""
    if people:
        session.execute(bulk_insert(Person), people)
    if inserts:
        session.execute(bulk_insert(AgencyRecord), inserts)
    if updates:
        session.execute(update(AgencyRecord), updates)
        changed = [u["id"] for u in updates]
        session.execute(delete(RecordIdentifier).where(RecordIdentifier.record_id.in_(changed)))
        session.execute(delete(LinkBlockKey).where(LinkBlockKey.record_id.in_(changed)))
    if identifiers:
        session.execute(bulk_insert(RecordIdentifier), identifiers)
    if block_keys:
        session.execute(bulk_insert(LinkBlockKey), block_keys)
    if evidence:
        session.execute(bulk_insert(LinkEvidence), evidence)
    if reviews:
        session.execute(bulk_insert(LinkReview), reviews)
    if ties:
        session.execute(bulk_insert(Relationship), ties)


def _forget(session: Session, record_ids: list[str]) -> None:
    """Records already loaded in the session are stale after a bulk update: reload on use."""
    for record_id in record_ids:
        record = session.identity_map.get(identity_key(AgencyRecord, record_id))
        if record is not None:
            session.expire(record)


def record_for(session: Session, *, agency: Agency, local_id: str) -> AgencyRecord:
    """The agency's own record by its local id; agencies only ever address their own."""
    record = session.execute(
        select(AgencyRecord).where(
            AgencyRecord.agency_id == agency.id, AgencyRecord.local_id == local_id
        )
    ).scalar_one_or_none()
    if record is None:
        raise record_not_found(local_id)
    return record


def record_not_found(local_id: str) -> BadRequest:
    return BadRequest(
        f"Your agency has not registered a person record '{local_id}' with the hub yet.",
        code="record-not-found",
    )
