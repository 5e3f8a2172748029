"""The FHIR face under /fhir: Patient, CareTeam and EpisodeOfCare through the one disclosure flow.

Nothing here decides or logs on its own: each read is an ``InvolvementsQuery`` handed to
``hub.disclosure.flow``, exactly as /v1 does, so FHIR cannot become a second path around the
rules, the consent check, the shield or the log. This module only translates: FHIR search
parameters in, FHIR resources and OperationOutcomes out.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hub.api.deps import HubDep, SessionDep
from hub.auth.scopes import Scope
from hub.db.base import utcnow
from hub.disclosure.flow import InvolvementsAnswer, InvolvementsQuery, who_else_is_involved
from hub.errors import BadRequest, HubError
from hub.fhir import resources
from hub.fhir.capability import capability_statement
from hub.fhir.outcome import FHIR_JSON, FhirResponse, FhirRoute, outcome_response
from hub.fhir.subscriptions import router as subscriptions_router
from hub.notify.topics import TOPICS
from hub.runtime import Hub

DEFAULT_COUNT = 20
MAX_COUNT = 100
FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"
SERVED_TYPES = frozenset(
    {"metadata", "Patient", "CareTeam", "EpisodeOfCare", "Subscription", "Consent", "AuditEvent"}
)
JSON_FORMATS = frozenset({"json", "application/json", FHIR_JSON})


router = APIRouter(prefix="/fhir", route_class=FhirRoute, tags=["FHIR"])
STARTED = utcnow()

ResourceId = Annotated[str, Path(pattern=FHIR_ID)]


def base_url(request: Request) -> str:
    hub: Any = request.app.state.hub
    return f"{hub.settings.public_url}/fhir"


@router.get("/metadata")
def metadata(hub: HubDep) -> FhirResponse:
    """What this FHIR face serves; public, as FHIR clients read it before signing in."""
    statement = capability_statement(hub.settings, started=STARTED, topics=sorted(TOPICS))
    return FhirResponse(resources.dump(statement))


@router.get("/Patient/{resource_id}")
def read_patient(
    resource_id: ResourceId, request: Request, hub: HubDep, session: SessionDep
) -> Response:
    """A child by the hub's id, with only the linked identifiers the requester may see."""
    _search_params(request, allowed=frozenset())
    answer = _answer(
        hub, session, _query(request, what="patient", scope=Scope.PATIENT_READ, person=resource_id)
    )
    assert answer.subject is not None
    patient = resources.patient(answer.subject, answer.identifiers)
    return FhirResponse(resources.dump(patient), headers=_decision_header(answer))


@router.get("/Patient")
def search_patient(request: Request, hub: HubDep, session: SessionDep) -> Response:
    params = _search_params(request, allowed=frozenset({"identifier"}))
    count, offset = _paging(params)
    answer = _answer(
        hub,
        session,
        _query(
            request,
            what="patient",
            scope=Scope.PATIENT_READ,
            identifier=params.get("identifier"),
        ),
    )
    assert answer.subject is not None
    found = [resources.patient(answer.subject, answer.identifiers)]
    return _bundle(request, "Patient", params, found, count, offset, answer)


@router.get("/CareTeam")
def search_care_team(request: Request, hub: HubDep, session: SessionDep) -> Response:
    """Who else is involved with the child, as the team around them."""
    params = _search_params(request, allowed=frozenset({"patient", "patient.identifier"}))
    count, offset = _paging(params)
    answer = _answer(hub, session, _patient_query(request, params, scope=Scope.INVOLVEMENTS_READ))
    assert answer.subject is not None
    team = resources.care_team(answer.subject, answer.involvements, set(answer.decision.shielded))
    return _bundle(request, "CareTeam", params, [team], count, offset, answer)


@router.get("/EpisodeOfCare")
def search_episodes(request: Request, hub: HubDep, session: SessionDep) -> Response:
    """Each agency's open work with the child, shielded services as the shield says."""
    params = _search_params(request, allowed=frozenset({"patient", "patient.identifier"}))
    count, offset = _paging(params)
    answer = _answer(hub, session, _patient_query(request, params, scope=Scope.EPISODES_READ))
    assert answer.subject is not None
    shielded = set(answer.decision.shielded)
    episodes = [
        resources.episode_of_care(answer.subject, i, i.id in shielded) for i in answer.involvements
    ]
    return _bundle(request, "EpisodeOfCare", params, episodes, count, offset, answer)


def _query(
    request: Request,
    *,
    what: str,
    scope: str,
    identifier: str | None = None,
    person: str | None = None,
) -> InvolvementsQuery:
    headers = request.headers
    return InvolvementsQuery(
        authorization=headers.get("authorization"),
        identifier=identifier,
        purpose=headers.get("x-purpose"),
        practitioner=headers.get("x-practitioner"),
        role=headers.get("x-practitioner-role"),
        person_id=person,
        what=what,
        scope=scope,
        interface="fhir",
    )


def _patient_query(request: Request, params: dict[str, str], *, scope: str) -> InvolvementsQuery:
    by_id = params.get("patient")
    by_identifier = params.get("patient.identifier")
    if by_id is not None and by_identifier is not None:
        raise BadRequest(
            "Name the child once: give patient or patient.identifier, not both.",
            code="search-parameter-conflict",
        )
    if by_id is not None:
        person = by_id.removeprefix("Patient/")
        if not person or "/" in person:
            raise BadRequest(
                "patient must be Patient/<id>, the id the hub gave the child.",
                code="search-parameter-invalid",
            )
        return _query(request, what="involvements", scope=scope, person=person)
    return _query(request, what="involvements", scope=scope, identifier=by_identifier)


def _search_params(request: Request, *, allowed: frozenset[str]) -> dict[str, str]:
    """The parameters this search understands; others are ignored unless the client is strict."""
    strict = "handling=strict" in request.headers.get("prefer", "").replace(" ", "")
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name == "_format":
            if value not in JSON_FORMATS:
                raise HubError(
                    "The hub answers in FHIR JSON only (application/fhir+json).",
                    code="format-not-supported",
                    status_code=406,
                )
            continue
        if name in allowed or name in {"_count", "_offset"}:
            if name in found:
                raise BadRequest(f"Give {name} once.", code="search-parameter-repeated")
            found[name] = value
        elif strict:
            raise BadRequest(
                f"The search parameter '{name}' is not supported here; "
                "see /fhir/metadata for the ones that are.",
                code="search-parameter-not-supported",
            )
    return found


def _paging(params: dict[str, str]) -> tuple[int, int]:
    def number(name: str, default: int, top: int) -> int:
        text = params.get(name, str(default))
        if not text.isdigit() or int(text) > top:
            raise BadRequest(
                f"{name} must be a whole number from 0 to {top}.", code="paging-invalid"
            )
        return int(text)

    return number("_count", DEFAULT_COUNT, MAX_COUNT), number("_offset", 0, 1_000_000)


def _bundle(
    request: Request,
    resource_type: str,
    params: dict[str, str],
    found: list[Any],
    count: int,
    offset: int,
    answer: InvolvementsAnswer,
) -> FhirResponse:
    base = base_url(request)
    total = len(found)
    criteria = {k: v for k, v in params.items() if k not in {"_count", "_offset"}}

    def page(at: int) -> str:
        return f"{base}/{resource_type}?" + urlencode({**criteria, "_count": count, "_offset": at})

    links = {"self": page(offset), "first": page(0)}
    if count:
        last = max(0, (total - 1) // count * count)
        if offset + count < total:
            links["next"] = page(offset + count)
        if offset > 0:
            links["previous"] = page(max(0, offset - count))
        links["last"] = page(last)
    bundle = resources.searchset(
        resources=found[offset : offset + count],
        total=total,
        links=links,
        base=base,
        decision_id=answer.receipt.entry_id,
    )
    return FhirResponse(resources.dump(bundle), headers=_decision_header(answer))


def _decision_header(answer: InvolvementsAnswer) -> dict[str, str]:
    return {"X-Decision-Id": answer.receipt.entry_id}


def _answer(hub: Hub, session: Session, query: InvolvementsQuery) -> InvolvementsAnswer:
    """The flow's answer; a refusal leaves as an OperationOutcome with the decision's id.

    Refusals keep the flow's words and codes, so an unknown child and a no look the same.
    """
    answer = who_else_is_involved(hub, session, query)
    if answer.error is not None:
        error = answer.error
        raise HubError(
            error.message,
            code=error.code,
            status_code=error.status_code,
            headers={**(error.headers or {}), **_decision_header(answer)},
        )
    return answer


router.include_router(subscriptions_router)


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
def not_served(rest: str, request: Request) -> Response:
    """Anything else under /fhir: an OperationOutcome that says what is and is not served."""
    resource_type = rest.split("/", 1)[0]
    if resource_type in SERVED_TYPES:
        return outcome_response(
            code="interaction-not-supported",
            message=f"{request.method} is not supported on {resource_type} here; "
            "see /fhir/metadata for what is.",
            status_code=405,
        )
    return outcome_response(
        code="resource-type-not-supported",
        message=f"The hub does not serve '{resource_type or rest}' resources; "
        "see /fhir/metadata for what it serves.",
        status_code=404,
    )
