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
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from hub.db.base import time_ordered_ids, utcnow
from hub.disclosure import checkpoint, merkle
from hub.disclosure.models import LogCheckpoint, LogEntry, LogFacet, LogHead, LogNode
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
    """RFC 8785 canonical JSON of an entry.

    For the values entries hold (strings, safe integers, booleans, null, lists, objects with
    ASCII keys) the standard library's sorted, compact, non-ASCII-preserving output is
    byte-for-byte the RFC 8785 form (a test checks this against the rfc8785 package), and
    several times faster; anything else (floats above all) goes through rfc8785 itself.
    """
    if _plain(entry):
        return _stdlib_canonical(entry)
    return rfc8785.dumps(entry)


def _stdlib_canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_SAFE_INT = 2**53


def checked(pending: Pending) -> Pending:
    """The entry, refused now if its body cannot be encoded, and marked ``plain`` when the
    standard library's encoding is its canonical form: a writer checks on the request's own
    thread, so the batch it builds later, one entry after another, need not look again."""
    if _plain(pending.body):
        return replace(pending, plain=True)
    rfc8785.dumps(pending.body)
    return pending


def _plain(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -_SAFE_INT < item < _SAFE_INT:
                continue
            return False
        if kind is dict:
            if not all(type(k) is str and k.isascii() for k in item):
                return False
            stack.extend(item.values())
            continue
        if kind is list:
            stack.extend(item)
            continue
        return False
    return True


def leaf_hash(data: bytes) -> str:
    return hashlib.sha256(b"\x00" + data).hexdigest()


def chain_hash(previous: str, leaf: str) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(leaf)).hexdigest()


def format_time(moment: datetime) -> str:
    """The entry's time as written in it: UTC, to the microsecond, with a Z (what
    strftime("%Y-%m-%dT%H:%M:%S.%fZ") writes, at a third of the cost)."""
    if moment.year < 1000:  # strftime does not pad the year; keep its form exactly
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True)
class Pending:
    """One entry waiting to be appended: what happened, about whom, and the details."""

    event: LogEvent
    body: dict[str, Any]
    subject: str | None = None
    agency: str | None = None
    outcome: str | None = None
    plain: bool = False
    """Set by checked(): the body holds only values the standard library encodes canonically."""


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
    pending = Pending(event=event, body=body, subject=subject, agency=agency, outcome=outcome)
    return append_many(session, [pending])[0]


def append_many(session: Session, batch: Sequence[Pending]) -> list[Receipt]:
    """Append entries in order under one turn of the head lock (group commit uses this)."""
    head = session.execute(select(LogHead).where(LogHead.id == 1).with_for_update()).scalar_one()
    built = build_batch(head.size, head.chain_hash, parse_frontier(head.frontier), batch)
    session.execute(insert(LogEntry), built.entries)
    session.execute(insert(LogFacet), built.facets)
    if built.nodes:
        session.execute(insert(LogNode), built.nodes)
    head.size = built.size
    head.chain_hash = built.chain_hash
    head.frontier = built.frontier
    session.flush()
    return built.receipts


@dataclass
class Built:
    """The rows one batch adds and the head it leaves: computed, not yet written."""

    receipts: list[Receipt]
    entries: list[dict[str, Any]]
    facets: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    size: int
    chain_hash: str
    frontier: str


def build_batch(size: int, chained: str, frontier: list[bytes], batch: Sequence[Pending]) -> Built:
    """Number, encode and hash a batch after the head (size, chain hash, frontier).

    On PostgreSQL the log writer's one thread runs this for every entry, so it is written
    to do each piece of work once (one hex conversion of each hash, one clock read).
    """
    built = Built([], [], [], [], size, chained, "")
    sha256 = hashlib.sha256
    previous = bytes.fromhex(chained)
    for pending, entry_id in zip(batch, time_ordered_ids(len(batch)), strict=True):
        now = utcnow()
        event = str(pending.event)
        entry: dict[str, Any] = {
            "v": ENTRY_VERSION,
            "seq": size,
            "id": entry_id,
            "time": format_time(now),
            "event": event,
            "subject": pending.subject,
            "agency": pending.agency,
            "outcome": pending.outcome,
            **pending.body,
        }
        data = _stdlib_canonical(entry) if pending.plain else canonical(entry)
        leaf = sha256(b"\x00" + data).digest()
        previous = sha256(previous + leaf).digest()
        leaf_hex, chained = leaf.hex(), previous.hex()
        frontier, completed = extend_frontier(frontier, size, leaf)
        if completed:
            built.nodes.extend(
                {"level": lv, "index": ix, "hash": h.hex()} for lv, ix, h in completed
            )
        built.entries.append(
            {
                "seq": size,
                "entry_id": entry_id,
                "recorded_at": now,
                "event": event,
                "subject": pending.subject,
                "agency": pending.agency,
                "outcome": pending.outcome,
                "body": data.decode("utf-8"),
                "leaf_hash": leaf_hex,
                "chain_hash": chained,
            }
        )
        facets = facets_of(entry)
        facets["seq"] = size
        built.facets.append(facets)
        built.receipts.append(Receipt(size, entry_id, leaf_hex, chained))
        size += 1
    built.size, built.chain_hash = size, chained
    built.frontier = ",".join(h.hex() for h in frontier)
    return built


_HEAD = "SELECT size, chain_hash, frontier FROM disclosure_log_head WHERE id = 1"
_PG_HEAD = _HEAD + " FOR UPDATE"
_PG_ENTRY = (
    "INSERT INTO disclosure_log (seq, entry_id, recorded_at, event, subject, agency, outcome, "
    "body, leaf_hash, chain_hash) VALUES (%(seq)s, %(entry_id)s, %(recorded_at)s, %(event)s, "
    "%(subject)s, %(agency)s, %(outcome)s, %(body)s, %(leaf_hash)s, %(chain_hash)s)"
)
_PG_FACET = (
    "INSERT INTO disclosure_log_facet (seq, purpose, legal_basis, practitioner, needs_review, "
    "review_of, review_state) VALUES (%(seq)s, %(purpose)s, %(legal_basis)s, %(practitioner)s, "
    "%(needs_review)s, %(review_of)s, %(review_state)s)"
)
_PG_NODE = (
    'INSERT INTO disclosure_log_node (level, "index", hash) VALUES (%(level)s, %(index)s, %(hash)s)'
)
_MOVE = "UPDATE disclosure_log_head SET size = %s, chain_hash = %s, frontier = %s WHERE id = 1"


@dataclass(frozen=True)
class Head:
    """Where the log ended after a writer's last commit: what it expects to build on next."""

    size: int
    chain_hash: str
    frontier: str


_PG_APPEND = """
WITH moved AS (
    UPDATE disclosure_log_head SET
        size = CASE WHEN size = %(was_size)s::bigint AND chain_hash = %(was_chain_hash)s::text
            AND frontier = %(was_frontier)s::text
            THEN %(size)s::bigint ELSE size END,
        chain_hash = CASE WHEN size = %(was_size)s::bigint AND chain_hash = %(was_chain_hash)s::text
            AND frontier = %(was_frontier)s::text
            THEN %(chain_hash)s::text ELSE chain_hash END,
        frontier = CASE WHEN size = %(was_size)s::bigint AND chain_hash = %(was_chain_hash)s::text
            AND frontier = %(was_frontier)s::text
            THEN %(frontier)s::text ELSE frontier END
    WHERE id = 1
    RETURNING size = %(size)s::bigint AND chain_hash = %(chain_hash)s::text AS appended,
        size, chain_hash, frontier
), batch AS (
    SELECT * FROM json_to_recordset(%(entries)s::json) AS entry(seq bigint, entry_id text,
        recorded_at timestamptz, event text, subject text, agency text, outcome text,
        body text, leaf_hash text, chain_hash text, purpose text, legal_basis text,
        practitioner text, needs_review boolean, review_of bigint, review_state text)
), entries AS (
    INSERT INTO disclosure_log (seq, entry_id, recorded_at, event, subject, agency, outcome,
        body, leaf_hash, chain_hash)
    SELECT seq, entry_id, recorded_at, event, subject, agency, outcome, body, leaf_hash,
        chain_hash FROM batch
    WHERE EXISTS (SELECT FROM moved WHERE appended)
), facets AS (
    INSERT INTO disclosure_log_facet (seq, purpose, legal_basis, practitioner, needs_review,
        review_of, review_state)
    SELECT seq, purpose, legal_basis, practitioner, needs_review, review_of, review_state
        FROM batch
    WHERE EXISTS (SELECT FROM moved WHERE appended)
), nodes AS (
    INSERT INTO disclosure_log_node (level, "index", hash)
    SELECT * FROM json_to_recordset(%(nodes)s::json) AS node(level smallint, "index" bigint,
        hash text)
    WHERE EXISTS (SELECT FROM moved WHERE appended)
)
SELECT appended, size, chain_hash, frontier FROM moved
"""
"""Append a batch built on the head (was_size, was_chain_hash, was_frontier), in one
statement and so one transaction: the head moves only if it is still there, all of it (so
that a head the writer was only told of, hub/disclosure/shared_head.py, is checked whole),
and the entries go in only if it moved. Either way the head row is rewritten (with its own
values when it had moved) and so read at its newest: a statement sent after another one's
waits for that one's lock and sees what it left. The batch travels as JSON text, one
parameter for the entries and one for the tree nodes, so that the same statement serves
psycopg and libpq's pipeline alike."""

_APPEND_PARAMETERS = (
    "entries", "nodes", "size", "chain_hash", "frontier", "was_size", "was_chain_hash",
    "was_frontier",
)  # fmt: skip
PG_APPEND_NUMBERED = re.sub(
    r"%\((\w+)\)s", lambda m: f"${_APPEND_PARAMETERS.index(m[1]) + 1}", _PG_APPEND
)
"""The same statement with libpq's numbered parameters, to prepare on a raw connection."""


def append_parameters(built: Built, was: Head) -> dict[str, str]:
    """The batch as the append statement's text parameters (see _PG_APPEND)."""
    rows = [
        {**entry, **facet, "recorded_at": format_time(entry["recorded_at"])}
        for entry, facet in zip(built.entries, built.facets, strict=True)
    ]
    return {
        "entries": json.dumps(rows, ensure_ascii=False, separators=(",", ":")),
        "nodes": json.dumps(built.nodes, separators=(",", ":")),
        "size": str(built.size),
        "chain_hash": built.chain_hash,
        "frontier": built.frontier,
        "was_size": str(was.size),
        "was_chain_hash": was.chain_hash,
        "was_frontier": was.frontier,
    }


def numbered_parameters(parameters: dict[str, str]) -> list[bytes]:
    """append_parameters in PG_APPEND_NUMBERED's order, as libpq text parameters."""
    return [parameters[name].encode() for name in _APPEND_PARAMETERS]


def append_locked_pg(connection: Any, batch: Sequence[Pending]) -> tuple[list[Receipt], Head]:
    """PostgreSQL: lock the head, build the batch on it, append and commit.

    The writer's pipeline builds batches on the head it expects and lets the statement
    check it; when another worker keeps moving the head first, a batch comes here instead,
    so that no busy rival can keep it waiting for ever.
    """
    with connection.transaction(), connection.pipeline(), connection.cursor() as cursor:
        cursor.execute(_PG_HEAD)
        size, chained, frontier = cursor.fetchone()
        head = Head(size, chained, frontier)
        built = build_batch(size, chained, parse_frontier(frontier), batch)
        cursor.execute(_PG_APPEND, append_parameters(built, head))
    return built.receipts, Head(built.size, built.chain_hash, built.frontier)


def append_and_commit_sqlite(connection: Any, batch: Sequence[Pending]) -> list[Receipt]:
    """SQLite: the same append on a plain sqlite3 connection (no ORM work per entry).

    BEGIN IMMEDIATE takes the database's write lock, which is the head lock on SQLite.
    Timestamps are written in the form SQLAlchemy's SQLite DateTime reads back.
    """
    cursor = connection.cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        size, chained, frontier = cursor.execute(_HEAD).fetchone()
        built = build_batch(size, chained, parse_frontier(frontier), batch)
        for row in built.entries:
            row["recorded_at"] = row["recorded_at"].strftime("%Y-%m-%d %H:%M:%S.%f")
        cursor.executemany(_sqlite(_PG_ENTRY), built.entries)
        cursor.executemany(_sqlite(_PG_FACET), built.facets)
        if built.nodes:
            cursor.executemany(_sqlite(_PG_NODE), built.nodes)
        cursor.execute(_MOVE.replace("%s", "?"), (built.size, built.chain_hash, built.frontier))
        cursor.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            cursor.execute("ROLLBACK")
        raise
    finally:
        cursor.close()
    return built.receipts


def _sqlite(statement: str) -> str:
    """The PostgreSQL statement with sqlite3's named parameters (%(name)s -> :name)."""
    return re.sub(r"%\((\w+)\)s", r":\1", statement)


NODE_LEVEL = 8
"""Roots of complete subtrees of 2**8 = 256 leaves and more are stored: 1/128 of a row per
entry, and a proof then reads at most a few hundred leaf hashes besides O(log n) nodes."""


def parse_frontier(text: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in text.split(",")] if text else []


def extend_frontier(
    frontier: list[bytes], size: int, leaf: bytes
) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Append one leaf to the CompactRange frontier of a tree of ``size`` leaves.

    Returns the new frontier and the stored-level subtrees the append completed, as
    (level, index, hash): the same merges as merkle.CompactRange.append, made visible.
    """
    hashes = list(frontier)
    right = leaf
    level = 0
    completed: list[tuple[int, int, bytes]] = []
    n = size
    while n & 1:
        right = merkle.node_hash(hashes.pop(), right)
        level += 1
        n >>= 1
        if level >= NODE_LEVEL:
            completed.append((level, size >> level, right))
    hashes.append(right)
    return hashes, completed


def rebuild_tree(leaves: Sequence[bytes]) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """The frontier and stored nodes of a tree over ``leaves``, built from nothing."""
    frontier: list[bytes] = []
    nodes: list[tuple[int, int, bytes]] = []
    for size, leaf in enumerate(leaves):
        frontier, completed = extend_frontier(frontier, size, leaf)
        nodes.extend(completed)
    return frontier, nodes


OVERRIDE_REASONS = frozenset({"shared-despite-recorded-refusal", "rule-needs-no-consent"})
"""A disclosure made without the family's consent is an override IG officers review."""


def facets_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The searchable fields of an entry (see LogFacet); pure, so a migration can use it."""
    requester = entry.get("requester") or {}
    decision = entry.get("decision") or {}
    review = entry.get("review")
    if not isinstance(review, dict):  # a match review names its item by id, not a log review
        review = {}
    permitted = decision.get("outcome") in {"permit", "partial"}
    overridden = bool(entry.get("override")) or (
        permitted and bool(OVERRIDE_REASONS & set(decision.get("reasons") or ()))
    )
    purpose = entry.get("purpose")
    return {
        "purpose": purpose[:64] if isinstance(purpose, str) else None,
        "legal_basis": decision.get("legal_basis"),
        "practitioner": requester.get("practitioner"),
        "needs_review": overridden,
        "review_of": review.get("seq"),
        "review_state": review.get("state"),
    }


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad: int | None = None
    reason: str | None = None
    checkpoints: int = 0


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


def verify(session: Session, *, vkey: str | Ed25519PublicKey | None = None) -> Verification:
    """Walk the whole log and name the first entry that does not hold.

    Checks each entry against its hashes, the chain, the head (size, chain hash, Merkle
    frontier), the stored subtree nodes, and every signed checkpoint: its signature (when
    ``vkey`` is given), that the log still holds that many entries, and that the Merkle root
    of that many entries is the one signed. Truncation with a rewritten head passes the chain
    check; only the signed checkpoint catches it.
    """
    checkpoints = list(
        session.execute(select(LogCheckpoint).order_by(LogCheckpoint.size)).scalars()
    )
    for cp in checkpoints:
        problem = _check_checkpoint_note(cp, vkey)
        if problem:
            return _fail(0, min(cp.size, _stored_count(session)), problem)
    wanted = {cp.size: cp for cp in checkpoints}
    nodes = {(n.level, n.index): n.hash for n in session.execute(select(LogNode)).scalars()}
    previous = GENESIS
    expected = 0
    frontier: list[bytes] = []
    last_good = 0
    for row in iter_entries(session):
        if row.seq != expected:
            return _fail(
                expected, expected, f"entry {expected} is missing (next stored is {row.seq})"
            )
        problem = _check_entry(row, previous)
        if problem:
            return _fail(expected, row.seq, problem)
        frontier, completed = extend_frontier(frontier, expected, bytes.fromhex(row.leaf_hash))
        for level, index, value in completed:
            if nodes.pop((level, index), None) != value.hex():
                first = index << level
                return _fail(
                    expected,
                    first,
                    f"the stored subtree hash over entries {first} to {expected} is missing "
                    "or wrong",
                )
        previous = row.chain_hash
        expected += 1
        signed = wanted.get(expected)
        if signed is not None:
            root = merkle.CompactRange.from_list(expected, frontier).root().hex()
            if root != signed.root_hash:
                return _fail(
                    expected,
                    last_good,
                    f"the entries {last_good} to {expected - 1} do not give the Merkle root "
                    f"signed at size {expected}: one of them was rewritten",
                )
            last_good = expected
    if nodes:
        level, index = min(nodes, key=lambda k: k[1] << k[0])
        return _fail(expected, index << level, "a stored subtree hash covers missing entries")
    if checkpoints and checkpoints[-1].size > expected:
        return _fail(
            expected,
            expected,
            f"a checkpoint was signed for {checkpoints[-1].size} entries but only {expected} "
            f"are stored: the log was cut after entry {expected - 1}",
        )
    head = session.execute(select(LogHead).where(LogHead.id == 1)).scalar_one()
    if head.size != expected:
        return _fail(
            expected, expected, f"the head records {head.size} entries but {expected} are stored"
        )
    if head.chain_hash != previous:
        return _fail(
            expected, max(expected - 1, 0), "the head's chain hash does not match the last entry"
        )
    if parse_frontier(head.frontier) != frontier:
        return _fail(
            expected, max(expected - 1, 0), "the head's Merkle frontier does not match the entries"
        )
    return Verification(ok=True, entries=expected, checkpoints=len(checkpoints))


def _stored_count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(LogEntry)).scalar_one())


def _check_checkpoint_note(cp: LogCheckpoint, vkey: str | Ed25519PublicKey | None) -> str | None:
    if vkey is None:
        return None
    try:
        if isinstance(vkey, Ed25519PublicKey):
            origin = cp.note.split("\n", 1)[0]
            signed = checkpoint.verify_note(cp.note, checkpoint.vkey_for(origin, vkey))
        else:
            signed = checkpoint.verify_note(cp.note, vkey)
    except checkpoint.CheckpointError as exc:
        return f"the checkpoint at size {cp.size} is not validly signed ({exc})"
    if signed.size != cp.size or signed.root_hash.hex() != cp.root_hash:
        return f"the checkpoint at size {cp.size} does not say what its row says"
    return None


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
