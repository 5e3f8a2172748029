"""Place adults known by name alone (a school's contacts) among their child's carers, live.

The model cannot score a record that carries only a name: it would weigh it against every
namesake in the county. But the agency also says whose contact it is, and that child is
linked. So, once a batch is linked, each new adult of the batch who carries no date of birth,
postcode or NHS number and who the batch ties to a child is compared with the carers any
agency has tied to that child (hub.linkage.county.decide_around_a_child): joined to the one
carer whose names agree, sent to review when two could be meant, left as a person of their
own otherwise. The batch's rows are amended before they are written, so a placement is one
write with the rest, with its evidence and a log entry like any other link.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hub.crypto.fields import FieldCipher
from hub.db.base import in_chunks, new_id, utcnow
from hub.disclosure import log
from hub.errors import HubError
from hub.linkage.bulk import Thresholds
from hub.linkage.county import AroundDecision, decide_around_a_child, prior_of
from hub.linkage.features import Features, features
from hub.linkage.model import Scorer, probability
from hub.linkage.service import link_made, source_record
from hub.people.models import AgencyRecord, Relationship
from hub.vocab import CARER_KINDS, LinkMethod, LinkOutcome, PersonKind, ReviewStatus


def fields_json(decision: AroundDecision) -> str:
    return json.dumps(
        [{"field": f, "level": lv, "weight": round(w, 3)} for f, lv, w in decision.fields]
    )


def confidence(decision: AroundDecision) -> float:
    return probability(decision.weight)


def known_by_name_alone(kind: str, f: Features) -> bool:
    return kind == PersonKind.ADULT and not (f.dob or f.postcode or f.nhs)


@dataclass(frozen=True)
class Placement:
    record_id: str
    person_id: str  # the adult's own person, until placed
    decision: AroundDecision
    written_before: bool  # the record was in the index before this batch


@dataclass
class Placing:
    """What one batch needs to place its name-only adults once the batch has been linked."""

    fresh: dict[str, tuple[str, Features]] = field(default_factory=dict)  # person -> record
    wanted: list[tuple[str, str]] = field(default_factory=list)  # (child person, adult person)
    batch: dict[str, list[Features]] = field(default_factory=lambda: defaultdict(list))

    def written(self, record_id: str, person_id: str, kind: str, f: Features, new: bool) -> None:
        if kind != PersonKind.ADULT:
            return
        self.batch[person_id].append(f)
        if new and known_by_name_alone(kind, f):
            self.fresh[person_id] = (record_id, f)

    def tied(self, child_person: str, adult_person: str, kind: str) -> None:
        if kind in CARER_KINDS:
            self.wanted.append((child_person, adult_person))

    def place(
        self,
        session: Session,
        cipher: FieldCipher,
        scorer: Scorer | None,
        thresholds: Thresholds,
        ties: list[dict[str, Any]],
    ) -> list[Placement]:
        """Decide each placement the batch's ties call for, in batch order.

        An adult is placed when they are new in this batch and known by name alone, or when
        they were written earlier on their own, by name alone, and nothing has joined them
        since (a contact sent before the pupil it belongs to).
        """
        if scorer is None or not self.wanted:
            return []
        alone = dict(self.fresh)
        earlier = {adult for _, adult in self.wanted} - set(self.batch)
        for person_id, f in _alone(session, cipher, earlier).items():
            alone[person_id] = (f.record_id, f)
        wanted = [(child, adult) for child, adult in self.wanted if adult in alone]
        if not wanted:
            return []
        children = {child for child, _ in wanted}
        carers: dict[str, set[str]] = defaultdict(set)
        for chunk in in_chunks(children):
            for child, adult in session.execute(
                select(Relationship.person_id, Relationship.related_person_id).where(
                    Relationship.person_id.in_(chunk), Relationship.kind.in_(CARER_KINDS)
                )
            ).all():
                carers[child].add(adult)
        for tie in ties:
            if tie["person_id"] in children and tie["kind"] in CARER_KINDS:
                carers[tie["person_id"]].add(tie["related_person_id"])
        held = _records_of(session, cipher, {a for group in carers.values() for a in group})
        for person_id, rows in self.batch.items():
            held.setdefault(person_id, []).extend(rows)
        prior = prior_of(scorer.model)
        moved: dict[str, str] = {}
        placed: list[Placement] = []
        for child, adult in wanted:
            if adult in moved:
                continue
            record_id, f = alone[adult]
            others = {moved.get(c, c) for c in carers[child]} - {adult}
            decision = decide_around_a_child(
                scorer, thresholds, prior, f, {p: held.get(p, []) for p in others}
            )
            if decision.outcome is LinkOutcome.APART:
                continue
            placed.append(Placement(record_id, adult, decision, adult not in self.fresh))
            if decision.outcome is LinkOutcome.LINK and decision.person_id is not None:
                moved[adult] = decision.person_id
                held.setdefault(decision.person_id, []).append(f)
        return placed


def _records_of(
    session: Session, cipher: FieldCipher, people: set[str]
) -> dict[str, list[Features]]:
    """Adults' records by person, as the model reads them."""
    found: dict[str, list[Features]] = defaultdict(list)
    for chunk in in_chunks(people):
        for record in _adults_records(session, chunk):
            found[record.person_id].append(features(source_record(cipher, record)))
    return found


def _alone(session: Session, cipher: FieldCipher, people: set[str]) -> dict[str, Features]:
    """The people who are one record written by name alone and joined to nobody since; only
    their records are decrypted."""
    found: dict[str, Features] = {}
    for chunk in in_chunks(people):
        held: dict[str, list[AgencyRecord]] = defaultdict(list)
        for record in _adults_records(session, chunk):
            held[record.person_id].append(record)
        for person_id, (*more, record) in held.items():
            if more or record.link_method != LinkMethod.NEW:
                continue
            f = features(source_record(cipher, record))
            if known_by_name_alone(PersonKind.ADULT, f):
                found[person_id] = f
    return found


def _adults_records(session: Session, people: Sequence[str]) -> Iterable[AgencyRecord]:
    return session.execute(
        select(AgencyRecord)
        .where(AgencyRecord.person_id.in_(people), AgencyRecord.kind == PersonKind.ADULT)
        .options(selectinload(AgencyRecord.agency), selectinload(AgencyRecord.identifiers))
    ).scalars()


def apply(
    placed: list[Placement],
    *,
    model_version: str,
    agency_code: str,
    people: list[dict[str, Any]],
    inserts: list[dict[str, Any]],
    evidence: list[dict[str, Any]],
    reviews: list[dict[str, Any]],
    ties: list[dict[str, Any]],
    ties_held: set[tuple[str, str, str]],
    entries: list[log.Pending],
) -> dict[str, str]:
    """Amend the batch's rows for each placement of a record new in it, and add a review for
    each doubtful one; returns new person -> person joined."""
    moved: dict[str, str] = {}
    now = utcnow()
    for placement in placed:
        record_id, adult, decision = placement.record_id, placement.person_id, placement.decision
        fields = fields_json(decision)
        if decision.outcome is LinkOutcome.REVIEW:
            reviews.append(
                {
                    "id": new_id(),
                    "record_id": record_id,
                    "candidate_record_id": decision.matched_record,
                    "weight": decision.weight,
                    "fields_json": fields,
                    "model_version": model_version,
                    "status": ReviewStatus.OPEN,
                    "created_at": now,
                }
            )
            continue
        if placement.written_before:
            continue  # merged once the batch is written (merge_earlier)
        assert decision.person_id is not None
        moved[adult] = decision.person_id
        sure = confidence(decision)
        for row in inserts:
            if row["person_id"] == adult:
                row.update(
                    person_id=decision.person_id,
                    link_method=LinkMethod.THROUGH_CHILD,
                    link_confidence=sure,
                )
        for row in evidence:
            if row["record_id"] == record_id and row["person_id"] == adult:
                row.update(
                    person_id=decision.person_id,
                    method=LinkMethod.THROUGH_CHILD,
                    matched_record_id=decision.matched_record,
                    weight=decision.weight,
                    fields_json=fields,
                    model_version=model_version,
                )
        entries.append(
            link_made(
                person_id=decision.person_id,
                agency=agency_code,
                record_id=record_id,
                method=LinkMethod.THROUGH_CHILD,
                confidence=sure,
                weight=decision.weight,
                model_version=model_version,
            )
        )
    if moved:
        people[:] = [p for p in people if p["id"] not in moved]
        seen = set(ties_held)  # the agency said so before: the row exists already
        kept: list[dict[str, Any]] = []
        for tie in ties:
            tie["person_id"] = moved.get(tie["person_id"], tie["person_id"])
            tie["related_person_id"] = moved.get(tie["related_person_id"], tie["related_person_id"])
            key = (tie["person_id"], tie["related_person_id"], str(tie["kind"]))
            if key not in seen:
                seen.add(key)
                kept.append(tie)
        ties[:] = kept
    return moved


def merge_earlier(session: Session, placed: list[Placement], *, model_version: str) -> None:
    """Join each adult written before this batch, by name alone, to the carer they are: a
    merge like any other (history kept, logged, reversible by a split)."""
    from hub.linkage.models import LinkEvidence
    from hub.linkage.service import merge_people

    for placement in placed:
        decision = placement.decision
        if not placement.written_before or decision.outcome is not LinkOutcome.LINK:
            continue
        assert decision.person_id is not None
        try:
            merge_people(
                session,
                source_id=placement.person_id,
                target_id=decision.person_id,
                actor="hub-linkage",
                reason="known by name alone; the names agree with one carer of their child",
                method=LinkMethod.THROUGH_CHILD,
            )
        except HubError:
            continue  # the index changed under the batch (a merge, a split): leave them be
        record = session.get(AgencyRecord, placement.record_id)
        assert record is not None
        record.link_method = LinkMethod.THROUGH_CHILD
        record.link_confidence = confidence(decision)
        evidence = session.execute(
            select(LinkEvidence).where(
                LinkEvidence.record_id == placement.record_id, LinkEvidence.ended_at.is_(None)
            )
        ).scalar_one()
        evidence.decided_by = None
        evidence.matched_record_id = decision.matched_record
        evidence.weight = decision.weight
        evidence.fields_json = fields_json(decision)
        evidence.model_version = model_version
