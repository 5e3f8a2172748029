"""Export the disclosure log, and verify an export offline with nothing but the public key.

An export is a directory:

- ``entries.ndjson``: every entry exactly as stored (RFC 8785 canonical JSON), one per line,
  in log order. Canonical JSON escapes control characters, so an entry never holds a newline.
- ``chain.bin``: the chain hash the hub recorded for each entry, 32 raw bytes each, in order;
  it lets a verifier name the exact entry that was changed, not only the range.
- ``checkpoints.ndjson``: every signed tree head (C2SP checkpoint note) up to the export's
  size, one JSON object ``{"size", "note"}`` per line; the last one covers every entry.
- ``vkey.txt``: the hub's verifier key, for convenience. A verifier must get the key it trusts
  from elsewhere (the hub's published key, an IG officer's copy), not from the export.

The signed checkpoints are what make the export trustworthy: an attacker can recompute the
chain after rewriting entries, but not sign a new tree head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.disclosure import checkpoint, merkle
from hub.disclosure.log import GENESIS, canonical, iter_entries
from hub.disclosure.models import LogCheckpoint

ENTRIES = "entries.ndjson"
CHAIN = "chain.bin"
CHECKPOINTS = "checkpoints.ndjson"
VKEY = "vkey.txt"


@dataclass(frozen=True)
class Exported:
    entries: int
    checkpoints: int


def export_log(session: Session, out: Path, *, size: int, vkey: str) -> Exported:
    """Write the first ``size`` entries and the checkpoints up to ``size`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    with (out / ENTRIES).open("wb") as entries, (out / CHAIN).open("wb") as chain:
        for row in iter_entries(session):
            if row.seq >= size:
                break
            entries.write(row.body.encode("utf-8") + b"\n")
            chain.write(bytes.fromhex(row.chain_hash))
            written += 1
    heads = session.execute(
        select(LogCheckpoint).where(LogCheckpoint.size <= size).order_by(LogCheckpoint.size)
    ).scalars()
    count = 0
    with (out / CHECKPOINTS).open("w", encoding="utf-8") as notes:
        for head in heads:
            notes.write(canonical({"size": head.size, "note": head.note}).decode() + "\n")
            count += 1
    (out / VKEY).write_text(vkey + "\n", encoding="utf-8")
    return Exported(entries=written, checkpoints=count)


@dataclass(frozen=True)
class ExportCheck:
    ok: bool
    entries: int
    checkpoints: int
    first_bad: int | None = None
    reason: str | None = None


def _bad(entries: int, checkpoints: int, where: int, reason: str) -> ExportCheck:
    return ExportCheck(False, entries, checkpoints, first_bad=where, reason=reason)


def verify_export(
    directory: Path, vkey: str, *, extra_notes: Sequence[str] = (), deep: bool = False
) -> ExportCheck:
    """Check an export with only the verifier key; name the first entry that does not hold.

    Recomputes every leaf hash and the chain (and compares it with the recorded chain hashes),
    verifies every checkpoint's signature, recomputes the Merkle root at each checkpoint's
    size and compares it with the signed root, and requires the newest checkpoint to cover
    every entry. Roots recomputed from one sequence of leaves are consistent with each other,
    so matching roots also prove the heads consistent. ``extra_notes`` are checkpoints held
    outside the export (an IG officer's copy, an agency's): a cut-off tail shows against them.
    ``deep`` also parses every entry and checks its canonical form and sequence number.
    """
    try:
        origin, _, _ = checkpoint.parse_vkey(vkey)
    except checkpoint.CheckpointError as exc:
        return _bad(0, 0, 0, f"the verifier key is malformed: {exc}")
    heads, problem = _read_checkpoints(directory, vkey, origin, extra_notes)
    if problem is not None:
        return _bad(0, 0, problem[0], problem[1])
    lines = (directory / ENTRIES).read_bytes().split(b"\n")
    if lines[-1] != b"":
        return _bad(len(lines) - 1, len(heads), len(lines) - 1, "the last entry is cut short")
    lines.pop()
    chain = (directory / CHAIN).read_bytes()
    n = len(lines)
    if len(chain) % 32:
        return _bad(n, len(heads), len(chain) // 32, "the recorded chain hashes are cut short")

    leaves, where = _leaves_and_chain(lines, chain)
    if where is not None:
        return _bad(n, len(heads), where, f"entry {where} does not match its recorded chain hash")
    if len(chain) // 32 != n:
        return _bad(
            n, len(heads), n, f"{len(chain) // 32} chain hashes were recorded for {n} entries"
        )
    if deep:
        for seq, line in enumerate(lines):
            reason = _entry_problem(seq, line)
            if reason:
                return _bad(n, len(heads), seq, reason)

    sizes = sorted(heads)
    beyond = [s for s in sizes if s > n]
    if beyond:
        return _bad(
            n,
            len(heads),
            n,
            f"a checkpoint was signed for {beyond[-1]} entries but the export holds {n}: "
            f"the log was cut after entry {n - 1}",
        )
    if not sizes or sizes[-1] != n:
        covered = sizes[-1] if sizes else 0
        return _bad(
            n, len(heads), covered, f"entries from {covered} on are not covered by a signed head"
        )
    last_good = 0
    for size, root in zip(sizes, roots_at(leaves, sizes), strict=True):
        if root != heads[size]:
            return _bad(
                n,
                len(heads),
                last_good,
                f"the entries {last_good} to {size - 1} do not give the Merkle root signed at "
                f"size {size}: one of them was rewritten",
            )
        last_good = size
    return ExportCheck(True, n, len(heads))


def _leaves_and_chain(lines: list[bytes], chain: bytes) -> tuple[list[bytes], int | None]:
    """Leaf hashes of every entry, and the index of the first that breaks the chain.

    The whole recomputed chain is compared in one go; only a mismatch is searched entry by
    entry, so the common case costs two hashes an entry and little else.
    """
    sha256 = hashlib.sha256
    leaves = [sha256(b"\x00" + line).digest() for line in lines]
    chained: list[bytes] = []
    keep = chained.append
    previous = bytes.fromhex(GENESIS)
    for leaf in leaves:
        previous = sha256(previous + leaf).digest()
        keep(previous)
    if b"".join(chained) == chain[: 32 * len(chained)]:
        return leaves, None
    for i, value in enumerate(chained):
        if value != chain[i * 32 : i * 32 + 32]:
            return leaves, i
    return leaves, None


def _entry_problem(seq: int, line: bytes) -> str | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return f"entry {seq} is not JSON"
    if not isinstance(entry, dict) or canonical(entry) != line:
        return f"entry {seq} is not in canonical form"
    if entry.get("seq") != seq:
        return f"entry {seq} says it is entry {entry.get('seq')}"
    return None


def _read_checkpoints(
    directory: Path, vkey: str, origin: str, extra_notes: Iterable[str]
) -> tuple[dict[int, bytes], tuple[int, str] | None]:
    notes: list[tuple[str, str]] = []
    sizes: dict[str, object] = {}
    for number, line in enumerate(
        (directory / CHECKPOINTS).read_bytes().split(b"\n")[:-1], start=1
    ):
        label = f"checkpoint {number} of the export"
        try:
            record = json.loads(line)
            note, size = str(record["note"]), record["size"]
        except (ValueError, KeyError, TypeError):
            return {}, (0, f"{label} is not readable")
        if canonical(record) != line:
            return {}, (0, f"{label} is not in canonical form: it was edited")
        notes.append((label, note))
        sizes[note] = size
    notes.extend((f"the checkpoint held outside ({i + 1})", n) for i, n in enumerate(extra_notes))
    heads: dict[int, bytes] = {}
    for label, note in notes:
        try:
            signed = checkpoint.verify_note(note, vkey, origin=origin)
        except checkpoint.CheckpointError as exc:
            return {}, (0, f"{label} is not validly signed: {exc}")
        if sizes.get(note, signed.size) != signed.size:
            return {}, (0, f"{label} gives a size its signed note does not")
        if heads.get(signed.size, signed.root_hash) != signed.root_hash:
            return {}, (signed.size, f"two signed heads of size {signed.size} disagree")
        heads[signed.size] = signed.root_hash
    return heads, None


def roots_at(leaves: Sequence[bytes], sizes: Sequence[int]) -> list[bytes]:
    """Merkle roots of the first ``size`` leaves for each ascending size, in one pass.

    Hashes whole aligned subtrees level by level (merkle.root) and keeps only the frontier,
    so the cost is about one node hash per leaf however many checkpoints there are.
    """
    frontier: list[tuple[int, bytes]] = []
    roots: list[bytes] = []
    pos = 0
    for size in sizes:
        while pos < size:
            level = (pos & -pos).bit_length() - 1 if pos else (size - pos).bit_length() - 1
            while (1 << level) > size - pos:
                level -= 1
            span = 1 << level
            value = merkle.root(leaves[pos : pos + span])
            while frontier and frontier[-1][0] == level:
                value = merkle.node_hash(frontier.pop()[1], value)
                level += 1
            frontier.append((level, value))
            pos += span
        roots.append(_fold(frontier))
    return roots


def _fold(frontier: list[tuple[int, bytes]]) -> bytes:
    if not frontier:
        return merkle.EMPTY_ROOT
    value = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        value = merkle.node_hash(left, value)
    return value
