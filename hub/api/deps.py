"""Request dependencies as types, so that each route's signature states what it needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.agencies.models import Agency
from hub.auth.tokens import Caller
from hub.disclosure.flow import bearer
from hub.errors import Forbidden, Unauthenticated
from hub.runtime import Hub


async def get_hub(request: Request) -> Hub:
    """Async so that FastAPI does not hand this attribute lookup to a worker thread."""
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def get_session(hub: HubDep) -> Iterator[Session]:
    with hub.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_caller(request: Request, hub: HubDep) -> Caller:
    return hub.tokens.verify(bearer(request.headers.get("authorization")))


CallerDep = Annotated[Caller, Depends(get_caller)]


def calling_agency(caller: Caller, session: Session, scope: str) -> Agency:
    """The caller's agency, once its token is shown to carry the scope the route needs."""
    if scope not in caller.scopes:
        raise Forbidden(
            f"Your system's token does not carry the '{scope}' scope this needs.",
            code="insufficient-scope",
        )
    agency = session.execute(
        select(Agency).where(Agency.code == caller.agency_code)
    ).scalar_one_or_none()
    if agency is None:
        raise Unauthenticated(
            "Your agency is no longer registered with the hub.", code="unknown-agency"
        )
    return agency
