"""Proofs that the disclosure log keeps what it recorded, for any agency system.

A decision's answer carries a receipt (entry index, leaf hash, chain hash). With these routes
the agency fetches a signed tree head (a C2SP checkpoint) and the hub's verifier key, an
inclusion proof for its entry against that head, and a consistency proof between two heads,
and checks them with any RFC 6962 verifier. Hashes only: nothing here is personal.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from hub.api.deps import CallerDep, HubDep, SessionDep
from hub.disclosure import tree
from hub.disclosure.models import LogCheckpoint, LogEntry
from hub.errors import BadRequest, NotFound

MAX_INDEX = 2**62
"""Beyond any real log, and within a 64-bit database integer."""

router = APIRouter(prefix="/v1/log", tags=["disclosure log proofs"])


class CheckpointOut(BaseModel):
    size: int
    root_hash: str
    signed_at: str
    checkpoint: str
    """The signed note, as text; verify it with ``vkey``."""
    vkey: str


class InclusionOut(BaseModel):
    index: int
    entry_id: str
    leaf_hash: str
    tree_size: int
    root_hash: str
    proof: list[str]
    checkpoint: str


class ConsistencyOut(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]
    first_checkpoint: str
    second_checkpoint: str


@router.get("/vkey")
def get_vkey(hub: HubDep, _caller: CallerDep) -> dict[str, str]:
    """The public key that verifies the log's checkpoints (signed-note verifier key)."""
    return {"vkey": hub.log_signer.vkey, "origin": hub.log_signer.origin}


@router.get("/checkpoint", response_model=CheckpointOut)
def get_checkpoint(hub: HubDep, session: SessionDep, _caller: CallerDep) -> CheckpointOut:
    """The latest signed tree head; signs one now if none covers the newest entry."""
    latest = tree.latest_checkpoint(session)
    if latest is None or latest.size < tree.current_head(session).size:
        session.rollback()
        hub.log.sign_now()
        latest = tree.latest_checkpoint(session)
    assert latest is not None
    return _checkpoint_out(hub, latest)


@router.get("/entries/{index}/inclusion", response_model=InclusionOut)
def get_inclusion(
    index: Annotated[int, Path(ge=0, le=MAX_INDEX)],
    hub: HubDep,
    session: SessionDep,
    _caller: CallerDep,
    tree_size: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="A signed head's size")
    ] = None,
) -> InclusionOut:
    """Inclusion proof for one entry against a signed tree head (the latest by default)."""
    entry = session.get(LogEntry, index)
    if entry is None:
        raise NotFound("The log has no entry at that index.", code="entry-not-found")
    head = _signed_head(hub, session, tree_size, at_least=index + 1)
    proof = tree.inclusion_proof(session, index, head.size)
    return InclusionOut(
        index=index,
        entry_id=entry.entry_id,
        leaf_hash=entry.leaf_hash,
        tree_size=head.size,
        root_hash=head.root_hash,
        proof=[p.hex() for p in proof],
        checkpoint=head.note,
    )


@router.get("/consistency", response_model=ConsistencyOut)
def get_consistency(
    hub: HubDep,
    session: SessionDep,
    _caller: CallerDep,
    first: Annotated[int, Query(ge=1, le=MAX_INDEX)],
    second: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None,
) -> ConsistencyOut:
    """Consistency proof between two signed tree heads (the second is the latest by default)."""
    older = _signed_head(hub, session, first, at_least=first)
    newer = _signed_head(hub, session, second, at_least=first)
    if newer.size < older.size:
        raise BadRequest(
            "The second tree head must not be smaller than the first.", code="bad-size"
        )
    proof = tree.consistency_proof(session, older.size, newer.size)
    return ConsistencyOut(
        first=older.size,
        second=newer.size,
        first_root=older.root_hash,
        second_root=newer.root_hash,
        proof=[p.hex() for p in proof],
        first_checkpoint=older.note,
        second_checkpoint=newer.note,
    )


def _signed_head(
    hub: HubDep, session: SessionDep, size: int | None, *, at_least: int
) -> LogCheckpoint:
    if size is not None:
        found = tree.checkpoint_at(session, size)
        if found is None:
            raise NotFound(
                "No tree head of that size was signed; ask for /v1/log/checkpoint.",
                code="checkpoint-not-found",
            )
        if found.size < at_least:
            raise NotFound(
                "That tree head is older than the entry asked about.", code="checkpoint-too-old"
            )
        return found
    latest = tree.latest_checkpoint(session)
    if latest is None or latest.size < at_least:
        session.rollback()
        hub.log.sign_now()
        latest = tree.latest_checkpoint(session)
    assert latest is not None
    return latest


def _checkpoint_out(hub: HubDep, row: LogCheckpoint) -> CheckpointOut:
    return CheckpointOut(
        size=row.size,
        root_hash=row.root_hash,
        signed_at=row.signed_at.isoformat(),
        checkpoint=row.note,
        vkey=hub.log_signer.vkey,
    )
