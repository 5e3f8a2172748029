"""The append-only, hash-chained disclosure log.

Each entry is a JSON object in RFC 8785 canonical form. Its leaf hash is
SHA-256(0x00 || entry), as for an RFC 6962 Merkle leaf, and the chain hash is
SHA-256(previous chain hash || leaf hash), so that any change, deletion or reordering of a
stored entry shows up when the chain is walked again. Appenders take their turn by locking
the single head row, so concurrent workers still write one gapless chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db.base import new_id, utcnow
from hub.disclosure.models import LogEntry, LogHead
from hub.vocab import LogEvent

GENESIS = "0" * 64
ENTRY_VERSION = 1


@dataclass(frozen=True)
class Receipt:
    """What the caller gets back: enough to ask later for proof that its entry is kept."""

    index: int
    entry_id: str
    leaf_hash: str
    chain_hash: str


def canonical(entry: dict[str, Any]) -> bytes:
    return rfc8785.dumps(entry)


def leaf_hash(data: bytes) -> str:
    return hashlib.sha256(b"\x00" + data).hexdigest()


def chain_hash(previous: str, leaf: str) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(leaf)).hexdigest()


def format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append(
    session: Session,
    *,
    event: LogEvent,
    body: dict[str, Any],
    subject: str | None = None,
    agency: str | None = None,
    outcome: str | None = None,
) -> Receipt:
    """Add one entry in the caller's transaction; it is durable when that transaction commits.

    The head row is locked last thing before the insert so the turn is held only for the
    remainder of the caller's transaction.
    """
    head = session.execute(select(LogHead).where(LogHead.id == 1).with_for_update()).scalar_one()
    now = utcnow()
    entry_id = new_id()
    entry: dict[str, Any] = {
        "v": ENTRY_VERSION,
        "seq": head.size,
        "id": entry_id,
        "time": format_time(now),
        "event": str(event),
        "subject": subject,
        "agency": agency,
        "outcome": outcome,
        **body,
    }
    data = canonical(entry)
    leaf = leaf_hash(data)
    chained = chain_hash(head.chain_hash, leaf)
    session.add(
        LogEntry(
            seq=head.size,
            entry_id=entry_id,
            recorded_at=now,
            event=str(event),
            subject=subject,
            agency=agency,
            outcome=outcome,
            body=data.decode("utf-8"),
            leaf_hash=leaf,
            chain_hash=chained,
        )
    )
    receipt = Receipt(index=head.size, entry_id=entry_id, leaf_hash=leaf, chain_hash=chained)
    head.size += 1
    head.chain_hash = chained
    session.flush()
    return receipt


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad: int | None = None
    reason: str | None = None


def _fail(entries: int, seq: int, reason: str) -> Verification:
    return Verification(ok=False, entries=entries, first_bad=seq, reason=reason)


def iter_entries(session: Session, batch: int = 5000) -> Iterator[LogEntry]:
    last = -1
    while True:
        rows = (
            session.execute(
                select(LogEntry).where(LogEntry.seq > last).order_by(LogEntry.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> Verification:
    """Walk the whole chain and name the first entry that does not hold."""
    previous = GENESIS
    expected = 0
    for row in iter_entries(session):
        if row.seq != expected:
            return _fail(
                expected, expected, f"entry {expected} is missing (next stored is {row.seq})"
            )
        problem = _check_entry(row, previous)
        if problem:
            return _fail(expected, row.seq, problem)
        previous = row.chain_hash
        expected += 1
    head = session.execute(select(LogHead).where(LogHead.id == 1)).scalar_one()
    if head.size != expected:
        return _fail(
            expected, expected, f"the head records {head.size} entries but {expected} are stored"
        )
    if head.chain_hash != previous:
        return _fail(
            expected, max(expected - 1, 0), "the head's chain hash does not match the last entry"
        )
    return Verification(ok=True, entries=expected)


def _check_entry(row: LogEntry, previous: str) -> str | None:
    data = row.body.encode("utf-8")
    if leaf_hash(data) != row.leaf_hash:
        return f"entry {row.seq}: its content does not match its hash"
    if chain_hash(previous, row.leaf_hash) != row.chain_hash:
        return f"entry {row.seq}: it does not follow from the entry before it"
    try:
        entry = json.loads(data)
    except ValueError:
        return f"entry {row.seq}: its content is not JSON"
    if canonical(entry) != data:
        return f"entry {row.seq}: its content is not in canonical form"
    stored = {
        "seq": row.seq,
        "id": row.entry_id,
        "time": format_time(row.recorded_at),
        "event": row.event,
        "subject": row.subject,
        "agency": row.agency,
        "outcome": row.outcome,
    }
    for key, value in stored.items():
        if entry.get(key) != value:
            return f"entry {row.seq}: its stored '{key}' differs from the hashed entry"
    return None
