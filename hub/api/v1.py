"""Version 1 of the agency API: write what you hold, ask who else is involved."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from consent.schemas import ConsentAmendment, ConsentIn, ConsentOut
from consent.service import (
    amend_consent,
    consent_out,
    consents_about,
    record_consent,
    withdraw_consent,
)
from hub.api.deps import CallerDep, HubDep, SessionDep, calling_agency
from hub.api.guards import SafeJSONResponse as JSONResponse
from hub.api.openapi import ErrorOut
from hub.api.params import documented, parsed
from hub.auth.scopes import Scope
from hub.db.base import utcnow
from hub.disclosure.flow import (
    Decided,
    InvolvementsAnswer,
    InvolvementsQuery,
    OverrideRequest,
    decide_involvements,
    record_async,
)
from hub.involvements.schemas import (
    AgencyOut,
    InvolvementEnd,
    InvolvementIn,
    InvolvementOut,
    InvolvementWritten,
    PractitionerOut,
)
from hub.involvements.service import end_involvement, upsert_involvement
from hub.involvements.views import OpenInvolvement
from hub.people.schemas import RecordIn, RecordOut
from hub.people.service import upsert_record
from hub.runtime import Hub

router = APIRouter(prefix="/v1")

LocalId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/-]+$")]


class ReceiptOut(BaseModel):
    index: int
    entry_id: str
    leaf_hash: str
    chain_hash: str


class InvolvementsOut(BaseModel):
    decision_id: str
    outcome: str
    legal_basis: str | None
    rule_ids: list[str]
    consent_ids: list[str]
    policy_version: str
    receipt: ReceiptOut
    involvements: list[InvolvementOut]


class RefusalOut(BaseModel):
    message: str
    errors: list[dict[str, str]]
    decision_id: str
    receipt: ReceiptOut


# The busiest route first: routes are matched in the order they are declared.
class InvolvementsParams(BaseModel):
    """The query, validated in one step (see hub/api/params.py)."""

    identifier: str | None = Field(
        default=None, max_length=200, description="system|value, e.g. nhs|9434765919"
    )
    purpose: str | None = Field(default=None, max_length=64)


class InvolvementsHeaders(BaseModel):
    """Who asks, and any safeguarding override they make (X-Practitioner, X-Override-*)."""

    x_practitioner: str | None = Field(default=None, max_length=200)
    x_practitioner_role: str | None = Field(default=None, max_length=64)
    x_override_legal_basis: str | None = Field(default=None, max_length=64)
    x_override_reason: str | None = Field(default=None, max_length=64)
    x_override_justification: str | None = Field(default=None, max_length=2000)
    x_override_family_told: str | None = Field(default=None, max_length=8)
    x_override_not_told_reason: str | None = Field(default=None, max_length=2000)


@router.get(
    "/children/involvements",
    response_model=InvolvementsOut,
    responses={
        400: {
            "model": ErrorOut,
            "description": "The request is malformed (with a receipt when it was logged).",
        },
        401: {"model": RefusalOut, "description": "No valid access token."},
        403: {"model": RefusalOut, "description": "Not permitted, or no such child."},
    },
    tags=["who else is involved"],
    openapi_extra={
        "parameters": documented(InvolvementsParams, "query")
        + documented(InvolvementsHeaders, "header")
    },
)
async def get_involvements(request: Request) -> Any:
    """Who else works with this child: agencies, services, practitioners, lead professional.

    Authentication happens inside the flow, not as a dependency, because even a refused
    request is a decision the disclosure log must hold.

    A front-door or social-work practitioner may share without or against consent by
    sending the X-Override-* headers: the legal basis, the DPA 2018 Sch 1 para 18(c) reason,
    a written justification, and whether the family will be told (default yes; if not, why
    not). The decision is flagged for IG review. An override that is not fully argued is
    refused with 400, and that refusal is logged too.
    """
    # Steps 1 to 4 read the database, blocking, so they run on a worker thread; the wait for
    # the log commit (step 5, the long part) is awaited on the event loop, so no thread is
    # held while the batch commits, and the worker threads (40 by default) no longer cap
    # how many requests a worker can have waiting on a commit. Running the reads on the
    # loop as well lost throughput under bench/e2e.py at full load: the loop then sat idle
    # through every round trip. The parameters are read here rather than declared
    # (hub/api/params.py says why), and the connection is opened in _decided rather than
    # as a dependency, which would cost more hops to a worker thread.
    hub: Hub = request.app.state.hub  # not HubDep: solving even that cost a dependency pass
    asked, told = parsed(InvolvementsParams, InvolvementsHeaders, request)
    query = InvolvementsQuery(
        authorization=request.headers.get("authorization"),
        identifier=asked.identifier,
        purpose=asked.purpose,
        practitioner=told.x_practitioner,
        role=told.x_practitioner_role,
        override=OverrideRequest(
            legal_basis=told.x_override_legal_basis,
            reason=told.x_override_reason,
            justification=told.x_override_justification,
            family_told=told.x_override_family_told,
            not_told_reason=told.x_override_not_told_reason,
        ),
    )
    decided = await run_in_threadpool(_decided, hub, query)  # steps 1 to 4
    receipt = await record_async(hub, decided.entry)  # step 5, committed before the answer
    return _respond(decided.answered(receipt))  # step 6


def _decided(hub: Hub, query: InvolvementsQuery) -> Decided:
    """Steps 1 to 4 on a worker thread, on a read connection held only for them."""
    with hub.read_engine.connect() as reads:
        return decide_involvements(hub, reads, query)


def _respond(answer: InvolvementsAnswer) -> Any:
    receipt = ReceiptOut(**answer.receipt.__dict__)
    if answer.error is not None:
        body = {
            **answer.error.body(),
            "decision_id": answer.receipt.entry_id,
            "receipt": receipt.model_dump(),
        }
        return JSONResponse(body, status_code=answer.status, headers=answer.error.headers)
    decision = answer.decision
    shielded = set(decision.shielded)
    answered = InvolvementsOut(
        decision_id=answer.receipt.entry_id,
        outcome=str(decision.outcome),
        legal_basis=decision.legal_basis,
        rule_ids=list(decision.rule_ids),
        consent_ids=list(decision.consent_ids),
        policy_version=decision.policy_version,
        receipt=receipt,
        involvements=[_shown(i, i.id in shielded) for i in answer.involvements],
    )
    return JSONResponse.of(answered)


def _shown(involvement: OpenInvolvement, shielded: bool) -> InvolvementOut:
    agency = involvement.agency
    if shielded:
        return InvolvementOut(
            id=involvement.id,
            shielded=True,
            agency=None,
            service=None,
            service_name="A service is involved",
            tier=None,
            level_of_need=None,
            lead_professional=False,
            practitioner=None,
            start_date=None,
            end_date=None,
            contact=agency.contact or "Contact the partnership's front door",
        )
    practitioner = involvement.practitioner
    return InvolvementOut(
        id=involvement.id,
        shielded=False,
        agency=AgencyOut(code=agency.code, name=agency.name, kind=agency.kind),
        service=involvement.service,
        service_name=involvement.service_name,
        tier=involvement.tier,
        level_of_need=involvement.level_of_need,
        lead_professional=involvement.lead_professional,
        practitioner=PractitionerOut(
            name=practitioner.name,
            role=practitioner.role,
            email=practitioner.email,
            phone=practitioner.phone,
        )
        if practitioner
        else None,
        start_date=involvement.start_date,
        end_date=involvement.end_date,
        contact=agency.contact,
    )


@router.put("/records/{local_id}", response_model=RecordOut, tags=["records"])
def put_record(
    local_id: LocalId, payload: RecordIn, hub: HubDep, session: SessionDep, caller: CallerDep
) -> RecordOut:
    """Register or update a person your agency holds, under your own id for them."""
    agency = calling_agency(caller, session, Scope.RECORDS_WRITE)
    written = upsert_record(
        session, hub.crypto, agency=agency, local_id=local_id, payload=payload, linker=hub.linker
    )
    session.commit()
    return RecordOut(local_id=local_id, status="created" if written.created else "updated")


@router.put("/involvements/{local_id}", response_model=InvolvementWritten, tags=["involvements"])
def put_involvement(
    local_id: LocalId, payload: InvolvementIn, session: SessionDep, caller: CallerDep
) -> InvolvementWritten:
    """Start or change your agency's involvement with a person you have registered."""
    agency = calling_agency(caller, session, Scope.INVOLVEMENTS_WRITE)
    _, created = upsert_involvement(session, agency=agency, local_id=local_id, payload=payload)
    session.commit()
    return InvolvementWritten(local_id=local_id, status="started" if created else "changed")


@router.post(
    "/involvements/{local_id}/end", response_model=InvolvementWritten, tags=["involvements"]
)
def post_involvement_end(
    local_id: LocalId, payload: InvolvementEnd, session: SessionDep, caller: CallerDep
) -> InvolvementWritten:
    """End your agency's involvement on the date given."""
    agency = calling_agency(caller, session, Scope.INVOLVEMENTS_WRITE)
    end_involvement(session, agency=agency, local_id=local_id, end_date=payload.end_date)
    session.commit()
    return InvolvementWritten(local_id=local_id, status="ended")


ConsentId = Annotated[str, Path(min_length=36, max_length=36)]


@router.post("/consents", response_model=ConsentOut, status_code=201, tags=["consent"])
def post_consent(payload: ConsentIn, session: SessionDep, caller: CallerDep) -> ConsentOut:
    """Record a consent, or a refusal, that your agency obtained."""
    agency = calling_agency(caller, session, Scope.CONSENT_WRITE)
    consent = record_consent(session, agency=agency, payload=payload)
    session.commit()
    return consent_out(consent, utcnow())


@router.put("/consents/{consent_id}", response_model=ConsentOut, tags=["consent"])
def put_consent(
    consent_id: ConsentId, payload: ConsentAmendment, session: SessionDep, caller: CallerDep
) -> ConsentOut:
    """Amend what a consent your agency recorded covers; the previous version is kept."""
    agency = calling_agency(caller, session, Scope.CONSENT_WRITE)
    consent = amend_consent(session, agency=agency, consent_id=consent_id, payload=payload)
    session.commit()
    return consent_out(consent, utcnow())


@router.post("/consents/{consent_id}/withdraw", response_model=ConsentOut, tags=["consent"])
def post_consent_withdrawal(
    consent_id: ConsentId,
    session: SessionDep,
    caller: CallerDep,
    x_practitioner: Annotated[str, Header(min_length=1, max_length=64)],
) -> ConsentOut:
    """Withdraw a consent your agency recorded; it stops permitting at once."""
    agency = calling_agency(caller, session, Scope.CONSENT_WRITE)
    consent = withdraw_consent(
        session, agency=agency, consent_id=consent_id, practitioner=x_practitioner
    )
    session.commit()
    return consent_out(consent, utcnow())


@router.get("/records/{local_id}/consents", response_model=list[ConsentOut], tags=["consent"])
def get_consents(local_id: LocalId, session: SessionDep, caller: CallerDep) -> list[ConsentOut]:
    """The consents your agency recorded about one of your records, with their state now."""
    agency = calling_agency(caller, session, Scope.CONSENT_READ)
    now = utcnow()
    return [consent_out(c, now) for c in consents_about(session, agency=agency, local_id=local_id)]
