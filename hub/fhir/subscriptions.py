"""Subscription create, read and delete: an agency system asks to be told about a topic.

Registering says who is to be told (the agency, the practitioner, their role) and why (the
purpose); each notification is then decided for exactly that requester, like a search.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, FastAPI, Path, Request
from fastapi.responses import Response
from fhir.resources.R4B.subscription import Subscription as FhirSubscription
from pydantic import ValidationError
from sqlalchemy.orm import Session

from hub.api.deps import CallerDep, HubDep, SessionDep, calling_agency
from hub.auth.scopes import Scope
from hub.auth.tokens import Caller
from hub.errors import BadRequest, NotFound
from hub.fhir import resources
from hub.fhir.outcome import FHIR_JSON, FhirResponse, FhirRoute
from hub.notify.delivery import DeliveryWorker
from hub.notify.models import Subscription
from hub.notify.topics import TOPICS
from hub.requesters import practitioner_named, purpose_named, role_named


@asynccontextmanager
async def delivery_worker(app: FastAPI) -> AsyncIterator[None]:
    """Deliver notifications inside the hub process when HUB_NOTIFY_IN_PROCESS is set."""
    hub = app.state.hub
    worker = DeliveryWorker(hub) if hub.settings.notify_in_process else None
    if worker is not None:
        worker.start()
    try:
        yield
    finally:
        if worker is not None:
            worker.stop()


router = APIRouter(route_class=FhirRoute, lifespan=delivery_worker)
ResourceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$")]


def as_fhir(subscription: Subscription) -> dict[str, Any]:
    resource = FhirSubscription.model_validate(
        {
            "resourceType": "Subscription",
            "id": subscription.id,
            "status": "active" if subscription.status == "active" else "off",
            "reason": subscription.reason,
            "criteria": subscription.topic,
            "channel": {
                "type": "rest-hook",
                "endpoint": subscription.endpoint,
                "payload": FHIR_JSON,
            },
        }
    )
    return resources.dump(resource)


@router.post("/Subscription", status_code=201)
def create_subscription(
    payload: Annotated[dict[str, Any], Body()],
    request: Request,
    hub: HubDep,
    session: SessionDep,
    caller: CallerDep,
) -> Response:
    agency = calling_agency(caller, session, Scope.SUBSCRIPTIONS_WRITE)
    try:
        given = FhirSubscription.model_validate(payload)
    except ValidationError:
        raise BadRequest(
            "The body is not a valid FHIR R4B Subscription.", code="invalid-resource"
        ) from None
    if given.criteria not in TOPICS:
        raise BadRequest(
            "criteria must be one of the hub's topics: " + ", ".join(sorted(TOPICS)) + ".",
            code="topic-not-supported",
        )
    channel = given.channel
    if channel.type != "rest-hook":
        raise BadRequest("Only rest-hook channels are supported.", code="channel-not-supported")
    if channel.payload not in (None, FHIR_JSON):
        raise BadRequest(
            "Notifications are sent as application/fhir+json only.",
            code="payload-not-supported",
        )
    if channel.header:
        raise BadRequest(
            "Channel headers are not supported: verify the hub's signature instead.",
            code="channel-header-not-supported",
        )
    endpoint = str(channel.endpoint or "")
    _check_endpoint(endpoint, allow_http=hub.settings.environment != "production")
    practitioner, role, purpose = _requester(request)
    subscription = Subscription(
        agency_id=agency.id,
        client_id=caller.client_id,
        topic=given.criteria,
        endpoint=endpoint,
        reason=(given.reason or "")[:500],
        practitioner=practitioner,
        role=role,
        purpose=purpose,
    )
    session.add(subscription)
    session.commit()
    location = f"{hub.settings.public_url}/fhir/Subscription/{subscription.id}"
    return FhirResponse(as_fhir(subscription), status_code=201, headers={"Location": location})


@router.get("/Subscription/{resource_id}")
def read_subscription(
    resource_id: ResourceId, session: SessionDep, caller: CallerDep
) -> FhirResponse:
    return FhirResponse(as_fhir(_own(session, caller, resource_id)))


@router.delete("/Subscription/{resource_id}", status_code=204)
def delete_subscription(
    resource_id: ResourceId, session: SessionDep, caller: CallerDep
) -> Response:
    """Turn a subscription off; notifications not yet sent for it are not sent."""
    subscription = _own(session, caller, resource_id)
    subscription.status = "off"
    session.commit()
    return Response(status_code=204)


def _own(session: Session, caller: Caller, resource_id: str) -> Subscription:
    agency = calling_agency(caller, session, Scope.SUBSCRIPTIONS_WRITE)
    subscription = session.get(Subscription, resource_id)
    if subscription is None or subscription.agency_id != agency.id:
        raise NotFound(
            "Your agency has no subscription with that id.", code="subscription-not-found"
        )
    return subscription


def _check_endpoint(endpoint: str, *, allow_http: bool) -> None:
    parts = urlsplit(endpoint)
    schemes = {"https", "http"} if allow_http else {"https"}
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
        raise BadRequest(
            "channel.endpoint must be an https:// address"
            + (" (http:// is accepted outside production)" if allow_http else "")
            + ", without credentials in it.",
            code="endpoint-invalid",
        )


def _requester(request: Request) -> tuple[str, str, str]:
    """Who is to be told, and why: the same three facts every disclosure is decided on."""
    practitioner = practitioner_named(
        request.headers.get("x-practitioner"),
        refusal="Say on whose behalf you subscribe: the practitioner's id at your agency "
        "in the X-Practitioner header (1 to 64 characters).",
    )
    role = role_named(request.headers.get("x-practitioner-role"))
    purpose = purpose_named(
        request.headers.get("x-purpose"),
        asking="Say why you want to be told: X-Purpose must be one of ",
    )
    return practitioner, role, purpose
