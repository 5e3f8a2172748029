"""Information governance over the disclosure log: search, review, subject access, export.

For IG systems only: every route needs ``system/AuditEvent.read`` (recording a review needs
``system/AuditEvent.write``); agency systems are not granted these unless named. An IG
officer of the partnership sees the whole log, across agencies. Reviews and subject access
reports are themselves appended to the log.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.deps import CallerDep, HubDep, SessionDep, calling_agency
from hub.auth.scopes import Scope
from hub.auth.tokens import Caller
from hub.disclosure import audit_event, search
from hub.disclosure.log import Pending
from hub.errors import BadRequest, Conflict, NotFound
from hub.identifiers import InvalidIdentifier, parse_identifier
from hub.people.models import Person
from hub.people.resolve import resolve
from hub.runtime import Hub
from hub.vocab import LogEvent, Outcome

router = APIRouter(prefix="/v1/audit", tags=["information governance"])

MAX_PAGE = 1000
MAX_EXPORT = 10000


def _ig(caller: CallerDep, session: SessionDep) -> Caller:
    calling_agency(caller, session, Scope.AUDIT_READ)
    return caller


IgCaller = Annotated[Caller, Depends(_ig)]


class SearchParams(BaseModel):
    """What IG officers search by; every filter given must match."""

    child: str | None = Field(None, max_length=36, description="The child's pseudonymous id")
    identifier: str | None = Field(
        None, max_length=200, description="Or the child's identifier, system|value"
    )
    practitioner: str | None = Field(None, max_length=64)
    agency: str | None = Field(None, max_length=32)
    purpose: str | None = Field(None, max_length=64)
    legal_basis: str | None = Field(None, max_length=64)
    outcome: Literal["permit", "partial", "deny"] | None = None
    event: str | None = Field(None, max_length=48)
    since: datetime | None = None
    until: datetime | None = None
    review_state: Literal["none", "pending", "flagged", "accepted", "concern"] | None = None
    after: int = Field(-1, ge=-1, description="Return entries after this index (paging)")
    limit: int = Field(100, ge=1, le=MAX_EXPORT)


def _params(
    child: Annotated[str | None, Query(max_length=36)] = None,
    identifier: Annotated[str | None, Query(max_length=200)] = None,
    practitioner: Annotated[str | None, Query(max_length=64)] = None,
    agency: Annotated[str | None, Query(max_length=32)] = None,
    purpose: Annotated[str | None, Query(max_length=64)] = None,
    legal_basis: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[Literal["permit", "partial", "deny"] | None, Query()] = None,
    event: Annotated[str | None, Query(max_length=48)] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    review_state: Annotated[
        Literal["none", "pending", "flagged", "accepted", "concern"] | None, Query()
    ] = None,
    after: Annotated[int, Query(ge=-1)] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT)] = 100,
) -> SearchParams:
    return SearchParams(
        child=child,
        identifier=identifier,
        practitioner=practitioner,
        agency=agency,
        purpose=purpose,
        legal_basis=legal_basis,
        outcome=outcome,
        event=event,
        since=since,
        until=until,
        review_state=review_state,
        after=after,
        limit=limit,
    )


ParamsDep = Annotated[SearchParams, Depends(_params)]


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def _subjects(hub: Hub, session: Session, child: str | None, identifier: str | None) -> list[str]:
    """The child's pseudonymous id, and the ids of any records merged into it."""
    if identifier:
        try:
            parsed = parse_identifier(identifier)
        except InvalidIdentifier as exc:
            raise BadRequest(str(exc), code=str(exc.code)) from None
        child = resolve(session, hub.crypto.blind, parsed).person_id
        if child is None:
            return ["-"]  # nobody: matches no entry
    if not child:
        return []
    merged = session.execute(select(Person.id).where(Person.merged_into_id == child)).scalars()
    return [child, *merged]


def _filters(hub: Hub, session: Session, params: SearchParams) -> search.Filters:
    return search.Filters(
        subjects=_subjects(hub, session, params.child, params.identifier),
        practitioner=params.practitioner,
        agency=params.agency,
        purpose=params.purpose,
        legal_basis=params.legal_basis,
        outcome=params.outcome,
        event=params.event,
        since=_aware(params.since),
        until=_aware(params.until),
        review_states=[params.review_state] if params.review_state else [],
    )


class FoundOut(BaseModel):
    entry: dict[str, Any]
    review_state: str
    leaf_hash: str
    chain_hash: str


class PageOut(BaseModel):
    entries: list[FoundOut]
    next_after: int | None
    """Pass as ``after`` for the next page; null when this page is the last."""


def _page(found: list[search.Found], limit: int) -> PageOut:
    return PageOut(
        entries=[FoundOut(**f.__dict__) for f in found],
        next_after=found[-1].entry["seq"] if len(found) == limit else None,
    )


@router.get("/entries", response_model=PageOut)
def get_entries(hub: HubDep, session: SessionDep, _caller: IgCaller, params: ParamsDep) -> PageOut:
    """Search the log by child, practitioner, agency, purpose, legal basis, outcome, dates
    and review state."""
    limit = min(params.limit, MAX_PAGE)
    found = search.search(session, _filters(hub, session, params), after=params.after, limit=limit)
    return _page(found, limit)


@router.get("/review-queue", response_model=PageOut)
def get_review_queue(
    session: SessionDep,
    _caller: IgCaller,
    after: Annotated[int, Query(ge=-1)] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> PageOut:
    """Overrides (disclosures without the family's consent) awaiting review, and flagged
    entries."""
    return _page(search.review_queue(session, after=after, limit=limit), limit)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["flagged", "accepted", "concern"]
    comment: str = Field(
        min_length=1,
        max_length=2000,
        description="Why: the IG reasoning. No names or case details: the log is permanent.",
    )


class ReviewOut(BaseModel):
    entry_id: str
    review_state: str
    review_entry_id: str
    receipt: dict[str, Any]


@router.post("/entries/{entry_id}/reviews", response_model=ReviewOut, status_code=201)
def post_review(
    entry_id: Annotated[str, Path(min_length=36, max_length=36)],
    payload: ReviewIn,
    hub: HubDep,
    session: SessionDep,
    caller: IgCaller,
    x_practitioner: Annotated[str, Header(min_length=1, max_length=64)],
) -> ReviewOut:
    """Record a review of a logged decision; the review is itself a log entry."""
    calling_agency(caller, session, Scope.AUDIT_REVIEW)
    target = search.find_entry(session, entry_id)
    if target is None:
        raise NotFound("The log has no entry with that id.", code="entry-not-found")
    if target.event not in search.REVIEWABLE:
        raise Conflict("A review cannot itself be reviewed.", code="not-reviewable")
    body = search.review_body(
        seq=target.seq,
        entry_id=target.entry_id,
        state=payload.state,
        comment=payload.comment,
        reviewer={
            "agency": caller.agency_code,
            "client": caller.client_id,
            "practitioner": x_practitioner,
        },
    )
    session.commit()  # end the reads before the log writer takes its turn
    receipt = hub.log.record(
        Pending(
            event=LogEvent.REVIEW_RECORDED,
            body=body,
            subject=target.subject,
            agency=caller.agency_code,
        )
    )
    return ReviewOut(
        entry_id=entry_id,
        review_state=payload.state,
        review_entry_id=receipt.entry_id,
        receipt=receipt.__dict__,
    )


class SubjectAccessItem(BaseModel):
    entry_id: str
    time: str
    outcome: str
    to_agency: str | None
    to_practitioner: str | None
    to_role: str | None
    purpose: str | None
    legal_basis: str | None
    reasons: list[str]
    rule_ids: list[str]
    consent_ids: list[str]
    disclosed: list[dict[str, str]]
    """What was disclosed: item ids and kinds, not content."""
    shielded: list[dict[str, str]]
    """Sensitive services shown only as 'a service is involved'."""


class SubjectAccessOut(BaseModel):
    child: str
    generated_at: str
    disclosures: list[SubjectAccessItem]
    """Every request about the child that disclosed something, oldest first."""
    refused: list[SubjectAccessItem]
    """Requests about the child that were refused: nothing was disclosed."""
    report_entry_id: str


@router.get("/subject-access", response_model=SubjectAccessOut)
def get_subject_access(
    hub: HubDep,
    session: SessionDep,
    caller: IgCaller,
    child: Annotated[str | None, Query(max_length=36)] = None,
    identifier: Annotated[str | None, Query(max_length=200)] = None,
) -> SubjectAccessOut:
    """Every disclosure about one child: what, to whom, when and why."""
    subjects = _subjects(hub, session, child, identifier)
    if not subjects or subjects == ["-"]:
        raise NotFound("The hub knows no child by that id or identifier.", code="child-not-found")
    found: list[search.Found] = []
    after = -1
    while True:
        page = search.search(
            session,
            search.Filters(subjects=subjects, event=str(LogEvent.DISCLOSURE_DECIDED)),
            after=after,
            limit=MAX_PAGE,
        )
        found.extend(page)
        if len(page) < MAX_PAGE:
            break
        after = page[-1].entry["seq"]
    items = [_sar_item(f.entry) for f in found]
    session.commit()
    receipt = hub.log.record(
        Pending(
            event=LogEvent.SUBJECT_ACCESS_REPORTED,
            body={"reported_entries": len(items), "client": caller.client_id},
            subject=subjects[0],
            agency=caller.agency_code,
        )
    )
    return SubjectAccessOut(
        child=subjects[0],
        generated_at=datetime.now(UTC).isoformat(),
        disclosures=[i for i in items if i.outcome != Outcome.DENY],
        refused=[i for i in items if i.outcome == Outcome.DENY],
        report_entry_id=receipt.entry_id,
    )


def _sar_item(entry: dict[str, Any]) -> SubjectAccessItem:
    decision = entry.get("decision") or {}
    requester = entry.get("requester") or {}
    return SubjectAccessItem(
        entry_id=entry["id"],
        time=entry["time"],
        outcome=decision.get("outcome") or entry.get("outcome") or "deny",
        to_agency=requester.get("agency"),
        to_practitioner=requester.get("practitioner"),
        to_role=requester.get("role"),
        purpose=entry.get("purpose"),
        legal_basis=decision.get("legal_basis"),
        reasons=list(decision.get("reasons") or ()),
        rule_ids=list(decision.get("rule_ids") or ()),
        consent_ids=list(decision.get("consent_ids") or ()),
        disclosed=[{"id": i, "kind": "involvement"} for i in decision.get("disclosed") or ()],
        shielded=[{"id": i, "kind": "involvement"} for i in decision.get("shielded") or ()],
    )


@router.get("/entries/audit-events.ndjson")
def get_audit_events(
    hub: HubDep, session: SessionDep, _caller: IgCaller, params: ParamsDep
) -> Response:
    """The matching entries as FHIR R4B AuditEvents (IHE BALP PrivacyDisclosure), NDJSON."""
    found = search.search(
        session, _filters(hub, session, params), after=params.after, limit=params.limit
    )
    lines = [
        audit_event.to_json(f.entry, base_url=hub.settings.public_url, origin=hub.log_signer.origin)
        for f in found
    ]
    return Response(
        "".join(line + "\n" for line in lines),
        media_type="application/fhir+ndjson",
        headers=_next_header(found, params.limit),
    )


CSV_COLUMNS = [
    "index", "entry_id", "time", "event", "child", "agency", "practitioner", "role", "purpose",
    "outcome", "legal_basis", "reasons", "rule_ids", "consent_ids", "disclosed", "shielded",
    "withheld", "review_state", "leaf_hash", "chain_hash",
]  # fmt: skip


@router.get("/entries.csv")
def get_csv(hub: HubDep, session: SessionDep, _caller: IgCaller, params: ParamsDep) -> Response:
    """The matching entries as CSV, one row per entry (lists joined with spaces)."""
    found = search.search(
        session, _filters(hub, session, params), after=params.after, limit=params.limit
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for f in found:
        e, decision, requester = (
            f.entry,
            f.entry.get("decision") or {},
            f.entry.get("requester") or {},
        )
        writer.writerow(
            _safe(cell)
            for cell in [
                e["seq"], e["id"], e["time"], e["event"], e.get("subject"), e.get("agency"),
                requester.get("practitioner"), requester.get("role"), e.get("purpose"),
                e.get("outcome"), decision.get("legal_basis"),
                " ".join(decision.get("reasons") or ()), " ".join(decision.get("rule_ids") or ()),
                " ".join(decision.get("consent_ids") or ()),
                " ".join(decision.get("disclosed") or ()), " ".join(decision.get("shielded") or ()),
                json.dumps(decision.get("withheld") or []), f.review_state, f.leaf_hash,
                f.chain_hash,
            ]
        )  # fmt: skip
    return Response(
        buffer.getvalue(), media_type="text/csv", headers=_next_header(found, params.limit)
    )


def _safe(cell: Any) -> str:
    """No spreadsheet formula injection: a cell never starts with = + - @."""
    text = "" if cell is None else str(cell)
    return "'" + text if text[:1] in {"=", "+", "-", "@"} else text


def _next_header(found: list[search.Found], limit: int) -> dict[str, str]:
    return {"X-Next-After": str(found[-1].entry["seq"])} if len(found) == limit else {}
