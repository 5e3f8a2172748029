"""The linkage review queue and corrections, for the hub's data stewards.

Only a system holding the ``system/Linkage.review`` scope (never granted by default) may
use these routes, and each decision names the steward in ``X-Practitioner``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path
from pydantic import BaseModel, ConfigDict, Field

from hub.api.deps import CallerDep, HubDep, SessionDep, calling_agency
from hub.auth.scopes import Scope
from hub.linkage import service
from hub.linkage.models import LinkReview
from hub.requesters import practitioner_named
from hub.vocab import ReviewStatus

router = APIRouter(prefix="/v1/linkage", tags=["linkage"])

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


class ReviewSummary(BaseModel):
    id: str
    status: str
    weight: float
    model_version: str
    created_at: str


class FieldAgreement(BaseModel):
    field: str
    level: str
    weight: float


class ReviewDetail(ReviewSummary):
    record: dict[str, Any]
    candidate: dict[str, Any]
    fields: list[FieldAgreement]
    decided_by: str | None
    reason: str | None


class ReviewDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "reject"]
    reason: str | None = Field(default=None, max_length=500)


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class MergeIn(CorrectionIn):
    into: str = Field(min_length=1, max_length=64)


class CorrectionOut(BaseModel):
    person_id: str
    records_moved: int


def _steward(practitioner: str | None) -> str:
    return practitioner_named(
        practitioner,
        refusal="Say who decides: send the steward's id in the X-Practitioner header.",
    )


def _summary(review: LinkReview) -> ReviewSummary:
    return ReviewSummary(
        id=review.id,
        status=review.status,
        weight=round(review.weight, 3),
        model_version=review.model_version,
        created_at=review.created_at.isoformat(),
    )


@router.get("/reviews", response_model=list[ReviewSummary])
def list_reviews(
    session: SessionDep, caller: CallerDep, status: ReviewStatus = ReviewStatus.OPEN
) -> list[ReviewSummary]:
    """Doubtful pairs waiting for (or given) a person's decision, oldest first."""
    calling_agency(caller, session, Scope.LINKAGE_REVIEW)
    return [_summary(r) for r in service.list_reviews(session, status)]


@router.get("/reviews/{review_id}", response_model=ReviewDetail)
def show_review(review_id: Id, hub: HubDep, session: SessionDep, caller: CallerDep) -> ReviewDetail:
    """Both records side by side, with each field's agreement level and weight."""
    calling_agency(caller, session, Scope.LINKAGE_REVIEW)
    view = service.show_review(session, hub.crypto.cipher, review_id)
    return ReviewDetail(
        **_summary(view.review).model_dump(),
        record=view.record,
        candidate=view.candidate,
        fields=[FieldAgreement(**f) for f in view.fields],
        decided_by=view.review.decided_by,
        reason=view.review.reason,
    )


@router.post("/reviews/{review_id}/decision", response_model=ReviewSummary)
def decide_review(
    review_id: Id,
    payload: ReviewDecisionIn,
    session: SessionDep,
    caller: CallerDep,
    x_practitioner: Annotated[str | None, Header()] = None,
) -> ReviewSummary:
    """Accept (link the two people) or reject (keep them apart); written to the log."""
    calling_agency(caller, session, Scope.LINKAGE_REVIEW)
    review = service.decide_review(
        session,
        review_id,
        accept=payload.decision == "accept",
        actor=_steward(x_practitioner),
        reason=payload.reason,
    )
    session.commit()
    return _summary(review)


@router.post("/records/{record_id}/split", response_model=CorrectionOut)
def split_record(
    record_id: Id,
    payload: CorrectionIn,
    session: SessionDep,
    caller: CallerDep,
    x_practitioner: Annotated[str | None, Header()] = None,
) -> CorrectionOut:
    """Undo a wrong link: the record becomes a person of its own; history is kept."""
    calling_agency(caller, session, Scope.LINKAGE_REVIEW)
    person = service.split_record(
        session, record_id, actor=_steward(x_practitioner), reason=payload.reason
    )
    session.commit()
    return CorrectionOut(person_id=person.id, records_moved=1)


@router.post("/people/{person_id}/merge", response_model=CorrectionOut)
def merge_people(
    person_id: Id,
    payload: MergeIn,
    session: SessionDep,
    caller: CallerDep,
    x_practitioner: Annotated[str | None, Header()] = None,
) -> CorrectionOut:
    """Join two people found to be one; refused where their NHS numbers differ."""
    calling_agency(caller, session, Scope.LINKAGE_REVIEW)
    moved = service.merge_people(
        session,
        source_id=person_id,
        target_id=payload.into,
        actor=_steward(x_practitioner),
        reason=payload.reason,
        method="merged",
    )
    session.commit()
    return CorrectionOut(
        person_id=service.current_person(session, payload.into), records_moved=moved
    )
