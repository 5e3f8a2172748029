"""``GET /fhir/AuditEvent``: the disclosure log as FHIR for IG systems (IHE BALP shape).

The same search and the same AuditEvent conversion as the IG API's NDJSON export; the search
itself is logged (who looked, and at whose entries), since reading the log is also access.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hub.api.audit import IgCaller, _subjects
from hub.api.deps import HubDep, SessionDep
from hub.disclosure import audit_event, search
from hub.disclosure.log import Pending
from hub.errors import BadRequest
from hub.fhir import resources
from hub.fhir.outcome import FhirResponse, FhirRoute
from hub.fhir.router import _paging, _search_params, base_url
from hub.vocab import LogEvent

router = APIRouter(prefix="/fhir", route_class=FhirRoute, tags=["FHIR"])

MAX_MATCHES = 10_000
PARAMETERS = frozenset({"patient", "patient.identifier", "date", "outcome"})


@router.get("/AuditEvent")
def search_audit_events(
    request: Request, hub: HubDep, session: SessionDep, caller: IgCaller
) -> Response:
    """Disclosures and other logged acts, by child and date, for information governance."""
    params = _search_params(request, allowed=PARAMETERS)
    count, offset = _paging(params)
    filters = search.Filters(
        subjects=_subjects(hub, session, _patient_id(params), params.get("patient.identifier")),
        outcome=_outcome(params.get("outcome")),
        **_dates(params.get("date")),
    )
    found = search.search(session, filters, limit=MAX_MATCHES)
    session.commit()  # end the reads before the log writer takes its turn
    receipt = hub.log.record(
        Pending(
            event=LogEvent.AUDIT_SEARCHED,
            agency=caller.agency_code,
            body={
                "requester": {"agency": caller.agency_code, "client": caller.client_id},
                "asked": {
                    "what": "audit-events",
                    "interface": "fhir",
                    "subjects": list(filters.subjects),
                    "date": params.get("date"),
                    "outcome": filters.outcome,
                },
                "matches": len(found),
            },
        )
    )
    page = [
        audit_event.to_audit_event(
            f.entry, base_url=hub.settings.public_url, origin=hub.log_signer.origin
        )
        for f in found[offset : offset + count]
    ]
    base = base_url(request)
    criteria = {k: v for k, v in params.items() if k not in {"_count", "_offset"}}
    links = _links(base, criteria, count, offset, len(found))
    bundle = resources.searchset(
        resources=[], total=len(found), links=links, base=base, decision_id=receipt.entry_id
    )
    body = resources.dump(bundle)
    if page:
        body["entry"] = [
            {
                "fullUrl": f"{base}/AuditEvent/{event.id}",
                "resource": resources.dump(event),
                "search": {"mode": "match"},
            }
            for event in page
        ]
    return FhirResponse(body, headers={"X-Decision-Id": receipt.entry_id})


def _patient_id(params: dict[str, str]) -> str | None:
    reference = params.get("patient")
    if reference is None:
        return None
    if not reference.startswith("Patient/") or len(reference) > 8 + 36:
        raise BadRequest("patient must be Patient/<id>.", code="search-parameter-invalid")
    return reference.removeprefix("Patient/")


def _outcome(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in {"permit", "partial", "deny"}:
        raise BadRequest("outcome is permit, partial or deny.", code="search-parameter-invalid")
    return value


def _dates(value: str | None) -> dict[str, Any]:
    """FHIR date prefixes: ge/gt set the start, le/lt the end (one of each, comma-separated)."""
    found: dict[str, Any] = {}
    for part in (value or "").split(","):
        if not part:
            continue
        prefix, text = part[:2], part[2:]
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BadRequest(
                "date is ge/gt/le/lt followed by a date, e.g. date=ge2026-01-01.",
                code="search-parameter-invalid",
            ) from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if prefix in {"ge", "gt"}:
            found["since"] = moment
        elif prefix in {"le", "lt"}:
            found["until"] = moment
        else:
            raise BadRequest(
                "date is ge/gt/le/lt followed by a date, e.g. date=ge2026-01-01.",
                code="search-parameter-invalid",
            )
    return found


def _links(
    base: str, criteria: dict[str, str], count: int, offset: int, total: int
) -> dict[str, str]:
    from urllib.parse import urlencode

    def page(at: int) -> str:
        return f"{base}/AuditEvent?" + urlencode({**criteria, "_count": count, "_offset": at})

    links = {"self": page(offset), "first": page(0)}
    if count:
        if offset + count < total:
            links["next"] = page(offset + count)
        if offset > 0:
            links["previous"] = page(max(0, offset - count))
        links["last"] = page(max(0, (total - 1) // count * count))
    return links
