"""Bulk import for agency systems that push their exports instead of dropping files.

The agency is the one the token names, never one named in the file; a file of another
kind than the agency's is refused. The body is streamed to a temporary file under the
same size limit as every request, then imported exactly as ``hub import`` does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from adapters.base import StructuralError
from adapters.run import import_file
from hub.api.deps import CallerDep, HubDep, calling_agency
from hub.auth.scopes import Scope
from hub.errors import BadRequest, Forbidden, HubError

router = APIRouter(prefix="/v1")

SUFFIX = {"health": ".ndjson", "school": ".xml", "police": ".jsonl", "council": ".csv"}


class ProblemOut(BaseModel):
    row: int
    field: str
    reason: str


class ImportOut(BaseModel):
    kind: str
    agency: str
    read: int
    imported: int
    updated: int
    unchanged: int
    quarantined: int
    problems: list[ProblemOut]


@router.post("/imports/{kind}", response_model=ImportOut, tags=["imports"])
async def post_import(
    kind: Annotated[Literal["health", "school", "police", "council"], PathParam()],
    request: Request,
    hub: HubDep,
    caller: CallerDep,
) -> ImportOut:
    """Import your agency's export file (the request body) row by row; bad rows are listed."""
    with hub.sessions() as session:
        agency = calling_agency(caller, session, Scope.RECORDS_WRITE)
        calling_agency(caller, session, Scope.INVOLVEMENTS_WRITE)
        if kind == "council":
            calling_agency(caller, session, Scope.CONSENT_WRITE)
        if agency.kind != kind:
            raise Forbidden(
                f"Your agency is a {agency.kind} agency: it can push only {agency.kind} files.",
                code="wrong-import-kind",
            )
        code = agency.code
    limit = hub.settings.max_request_bytes
    with tempfile.TemporaryDirectory(prefix="ehh-import-") as directory:
        path = Path(directory) / f"upload{SUFFIX[kind]}"
        size = 0
        with open(path, "wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HubError(
                        f"The file is larger than {limit} bytes: send it in smaller parts.",
                        code="body-too-large",
                        status_code=413,
                    )
                handle.write(chunk)
        if size == 0:
            raise BadRequest("The request has no file in its body.", code="empty-import")
        try:
            summary, problems = await run_in_threadpool(
                import_file, hub, kind, path, agency=code, register=False
            )
        except StructuralError as exc:
            raise BadRequest(str(exc), code="file-structure") from None
    return ImportOut(
        kind=kind,
        agency=code,
        read=summary.read,
        imported=summary.imported,
        updated=summary.updated,
        unchanged=summary.unchanged,
        quarantined=summary.quarantined,
        problems=[
            ProblemOut(row=int(p["row"]), field=p["field"], reason=p["reason"]) for p in problems
        ],
    )
