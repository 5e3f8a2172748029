"""Signed tree heads and Merkle proofs over the stored disclosure log.

The head row keeps the tree's frontier, so the current root costs O(log n). Proofs are built
from the stored roots of complete 256-leaf-and-larger subtrees (``disclosure_log_node``) plus
at most a few hundred leaf hashes, so a proof over a large log never reads every leaf.
A new checkpoint is signed only after a consistency proof from the previous signed head to the
new one verifies: the hub never signs two heads that contradict each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hub.db.base import utcnow
from hub.disclosure import checkpoint, merkle
from hub.disclosure.log import NODE_LEVEL, parse_frontier
from hub.disclosure.models import LogCheckpoint, LogEntry, LogHead, LogNode


class LogInconsistent(RuntimeError):
    """The stored log no longer extends the last signed head; the hub refuses to sign."""


@dataclass(frozen=True)
class LogSigner:
    """The hub's Ed25519 log key and the name (origin) its checkpoints carry."""

    origin: str
    key: Ed25519PrivateKey

    @property
    def vkey(self) -> str:
        return checkpoint.vkey_for(self.origin, self.key.public_key())

    def sign(self, size: int, root: bytes) -> str:
        head = checkpoint.Checkpoint(origin=self.origin, size=size, root_hash=root)
        return checkpoint.sign_checkpoint(head, self.origin, self.key)


def log_origin(public_url: str) -> str:
    """A C2SP origin for this hub's log: its public host and path, without scheme or port.

    The port is left out so that the same hub's log keeps one name when it is served on
    another port (the demo's --port, a proxy in front).
    """
    parts = urlsplit(public_url)
    return f"{parts.hostname or parts.netloc}{parts.path.rstrip('/')}/disclosure-log"


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


def current_head(session: Session) -> TreeHead:
    head = session.execute(select(LogHead).where(LogHead.id == 1)).scalar_one()
    tree = merkle.CompactRange.from_list(head.size, parse_frontier(head.frontier))
    return TreeHead(size=head.size, root=tree.root())


def latest_checkpoint(session: Session) -> LogCheckpoint | None:
    return session.execute(
        select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)
    ).scalar_one_or_none()


def checkpoint_at(session: Session, size: int) -> LogCheckpoint | None:
    return session.get(LogCheckpoint, size)


def sign_checkpoint(session: Session, signer: LogSigner) -> LogCheckpoint:
    """Sign the current tree head, once it is shown consistent with the last signed one.

    Takes no lock, so appends go on while it works: the head row holds the size and the
    frontier together, so one read of it is a committed (size, root) pair, and every entry
    and stored node under that size is already committed and never changes. The latest
    checkpoint is read before the head, so a head smaller than it is a rollback, never a
    race. Two workers signing at once both sign heads of the one log (so consistent with each
    other); if both sign the same size, the second keeps the first's checkpoint.
    Returns the existing checkpoint when nothing was appended since.
    """
    latest = latest_checkpoint(session)
    head = current_head(session)
    if latest is not None:
        previous = bytes.fromhex(latest.root_hash)
        try:
            if latest.size > head.size:
                raise merkle.ProofError(
                    f"the log holds {head.size} entries, fewer than the {latest.size} signed"
                )
            if latest.size == head.size:
                merkle.verify_consistency(latest.size, head.size, previous, head.root, [])
                return latest
            if latest.size > 0:
                proof = consistency_proof(session, latest.size, head.size)
                merkle.verify_consistency(latest.size, head.size, previous, head.root, proof)
        except merkle.ProofError as exc:
            raise LogInconsistent(
                f"the log does not extend the checkpoint signed at size {latest.size}: {exc}"
            ) from None
    row = LogCheckpoint(
        size=head.size,
        root_hash=head.root.hex(),
        signed_at=utcnow(),
        note=signer.sign(head.size, head.root),
    )
    if not _insert_once(session, row):  # another worker signed this very size a moment ago
        signed = checkpoint_at(session, head.size)
        if signed is None or signed.root_hash != row.root_hash:
            raise LogInconsistent(f"a checkpoint at size {head.size} was signed over another root")
        return signed
    return row


def _insert_once(session: Session, row: LogCheckpoint) -> bool:
    """Insert the checkpoint unless its size is already signed; True if this one went in.

    ON CONFLICT DO NOTHING rather than catching the duplicate key: both databases support it,
    and a worker that lost the race leaves no error in the database's log.
    """
    values = {
        "size": row.size,
        "root_hash": row.root_hash,
        "signed_at": row.signed_at,
        "note": row.note,
    }
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(LogCheckpoint)
    done = session.execute(statement.values(values).on_conflict_do_nothing())
    return bool(getattr(done, "rowcount", 0))


# Proofs ------------------------------------------------------------------------------------


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    """RFC 6962 audit path for leaf ``index`` in the tree of the first ``size`` entries."""
    if not 0 <= index < size:
        raise ValueError(f"entry {index} is not in a tree of {size} entries")
    ranges: list[tuple[int, int]] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            m -= k
    ranges.reverse()
    return _resolve(session, ranges)


def consistency_proof(session: Session, size1: int, size2: int) -> list[bytes]:
    """RFC 6962 consistency proof from the first ``size1`` entries to the first ``size2``."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        return []
    ranges: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, size2, size1, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            m -= k
            complete = False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()
    return _resolve(session, ranges)


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _parts(lo: int, hi: int) -> list[tuple[int, int]]:
    """The complete aligned subtrees, largest first, that make up [lo, hi) in RFC 6962."""
    parts: list[tuple[int, int]] = []
    while lo < hi:
        level = (lo & -lo).bit_length() - 1 if lo else (hi - lo).bit_length() - 1
        while (1 << level) > hi - lo:
            level -= 1
        parts.append((level, lo >> level))
        lo += 1 << level
    return parts


def _resolve(session: Session, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """Root hashes of the given ranges, from stored nodes and as few leaves as possible."""
    plans = [_parts(lo, hi) for lo, hi in ranges]
    wanted = {p for parts in plans for p in parts}
    big = [p for p in wanted if p[0] >= NODE_LEVEL]
    small = [p for p in wanted if p[0] < NODE_LEVEL]
    known: dict[tuple[int, int], bytes] = {}
    if big:
        rows = session.execute(
            select(LogNode.level, LogNode.index, LogNode.hash).where(
                tuple_(LogNode.level, LogNode.index).in_(big)
            )
        )
        known.update({(lv, ix): bytes.fromhex(h) for lv, ix, h in rows})
        missing = set(big) - known.keys()
        if missing:
            raise LookupError(f"stored subtree hashes are missing: {sorted(missing)}")
    if small:
        leaves = _leaves(session, ((ix << lv, (ix + 1) << lv) for lv, ix in small))
        for lv, ix in small:
            start = ix << lv
            span = [leaves.get(s) for s in range(start, start + (1 << lv))]
            if any(h is None for h in span):
                raise LookupError(f"entries from {start} are missing")
            known[(lv, ix)] = merkle.root([h for h in span if h is not None])
    out: list[bytes] = []
    for parts in plans:
        acc = known[parts[-1]]
        for part in reversed(parts[:-1]):
            acc = merkle.node_hash(known[part], acc)
        out.append(acc)
    return out


def _leaves(session: Session, spans: Iterable[tuple[int, int]]) -> dict[int, bytes]:
    merged: list[list[int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    found: dict[int, bytes] = {}
    for lo, hi in merged:
        rows = session.execute(
            select(LogEntry.seq, LogEntry.leaf_hash).where(LogEntry.seq >= lo, LogEntry.seq < hi)
        )
        found.update({r.seq: bytes.fromhex(r.leaf_hash) for r in rows})
    return found
