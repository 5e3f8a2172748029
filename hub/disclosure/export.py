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

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.disclosure import checkpoint, merkle, verify_share
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


PARALLEL_ABOVE = 8000
"""From this many recorded entries on, a second process hashes part of the export (measured:
no gain at 6,000 entries, a tenth faster at 8,000, half again as fast at 21,000)."""

WORKER = Path(__file__).with_name("verify_share.py")


def verify_export(
    directory: Path,
    vkey: str,
    *,
    extra_notes: Sequence[str] = (),
    deep: bool = False,
    parallel_above: int = PARALLEL_ABOVE,
) -> ExportCheck:
    """Check an export with only the verifier key; name the first entry that does not hold.

    Recomputes every leaf hash and the chain (and compares it with the recorded chain hashes),
    verifies every checkpoint's signature, recomputes the Merkle root at each checkpoint's
    size and compares it with the signed root, and requires the newest checkpoint to cover
    every entry. Roots recomputed from one sequence of leaves are consistent with each other,
    so matching roots also prove the heads consistent. ``extra_notes`` are checkpoints held
    outside the export (an IG officer's copy, an agency's): a cut-off tail shows against them.
    ``deep`` also parses every entry and checks its canonical form and sequence number.

    From ``parallel_above`` recorded entries on (and not with ``deep``, which parses every
    entry here anyway), when another core is idle, a second process hashes entries from the
    front while this one hashes them from the back; anything amiss with it and this process
    hashes everything itself, so the answer is the same either way.
    """
    try:
        origin, _, _ = checkpoint.parse_vkey(vkey)
    except checkpoint.CheckpointError as exc:
        return _bad(0, 0, 0, f"the verifier key is malformed: {exc}")
    helper, recorded = None, _recorded(directory)
    if not deep and recorded >= parallel_above and recorded > 0 and _a_core_is_free():
        helper = _Helper.start(directory)  # now, so that it starts while the heads are read
    try:
        heads, problem = _read_checkpoints(directory, vkey, origin, extra_notes)
        if problem is not None:
            return _bad(0, 0, problem[0], problem[1])
        sizes = sorted(heads)
        hashed = None if helper is None else _hash_in_parallel(helper, directory, sizes)
    finally:
        if helper is not None:
            helper.stop()
    lines: list[bytes] = []
    if hashed is None:
        lines = (directory / ENTRIES).read_bytes().split(b"\n")
        if lines[-1] != b"":
            return _bad(len(lines) - 1, len(heads), len(lines) - 1, "the last entry is cut short")
        lines.pop()
        chain = (directory / CHAIN).read_bytes()
        if len(chain) % 32:
            return _bad(
                len(lines), len(heads), len(chain) // 32, "the recorded chain hashes are cut short"
            )
        hashed = _hash_here(lines, chain, sizes)
    n, recorded, where = hashed.entries, hashed.recorded, hashed.broken
    if where is not None:
        return _bad(n, len(heads), where, f"entry {where} does not match its recorded chain hash")
    if recorded != n:
        return _bad(n, len(heads), n, f"{recorded} chain hashes were recorded for {n} entries")
    if deep:
        for seq, line in enumerate(lines):
            reason = _entry_problem(seq, line)
            if reason:
                return _bad(n, len(heads), seq, reason)

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
    for size, root in zip(sizes, _fold(hashed.covered, hashed.roots, sizes), strict=True):
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


@dataclass(frozen=True)
class _Hashed:
    """An export's entries hashed: the first broken chain link, else the subtree roots."""

    entries: int
    recorded: int
    broken: int | None
    covered: list[tuple[int, int]]
    roots: list[bytes]


def _recorded(directory: Path) -> int:
    try:
        return (directory / CHAIN).stat().st_size // 32
    except OSError:
        return 0


def _a_core_is_free() -> bool:
    """Whether a core is idle now (by the kernel's count of running tasks, this one included).

    On a busy machine the helper gets no core of its own and only adds its start-up.
    """
    try:
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return True
    return running < len(os.sched_getaffinity(0))


def _hash_here(lines: list[bytes], chain: bytes, sizes: list[int]) -> _Hashed:
    n = len(lines)
    leaves = verify_share.leaf_hashes(lines)
    broken = verify_share.first_break(leaves, bytes.fromhex(GENESIS), chain)
    if broken is not None or len(chain) != 32 * n:
        return _Hashed(n, len(chain) // 32, broken, [], [])
    covered = verify_share.spans(0, [s for s in sizes if s < n] + [n])
    return _Hashed(n, n, None, covered, verify_share.subtree_roots(leaves, 0, covered))


@dataclass(frozen=True)
class _Helper:
    """A second process hashing entries from the front while this one hashes from the back.

    It is a fresh, lean interpreter running verify_share.py, not a fork of this process,
    whose copy-on-write faults would cost more than the hashing saves. The two share the
    entries through a verify_share.Baton, which this process puts in the pipe first.
    """

    process: subprocess.Popen[bytes]
    baton: verify_share.Baton
    size: int

    @classmethod
    def start(cls, directory: Path) -> _Helper | None:
        entries = directory / ENTRIES
        if not sys.executable:
            return None
        try:
            with entries.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size == 0:
                    return None
                file.seek(size - 1)
                if file.read(1) != b"\n":
                    return None  # cut short: the check alone names the entry
            baton = verify_share.Baton.new()
        except OSError:
            return None
        try:
            files = [str(WORKER), str(entries), str(directory / CHAIN)]
            numbers = [GENESIS, str(verify_share.CHUNK), str(baton.read_fd), str(baton.write_fd)]
            process = subprocess.Popen(  # noqa: S603 - this interpreter, our own file, no shell
                [sys.executable, "-I", "-S", *files, *numbers],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                pass_fds=(baton.read_fd, baton.write_fd),
            )
            baton.give(0, size)
        except OSError:
            os.close(baton.read_fd)
            os.close(baton.write_fd)
            return None
        return cls(process, baton, size)

    def take(self, deadline: float) -> tuple[int, int] | None:
        """The baton, or None if the helper died holding it or the time is up."""
        while True:
            claim = self.baton.take(timeout=0.05)
            if claim is not None:
                return claim
            if self.process.poll() is not None or time.monotonic() > deadline:
                return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with self.process:  # closes its pipes and reaps it
            pass
        os.close(self.baton.read_fd)
        os.close(self.baton.write_fd)


def _hash_in_parallel(helper: _Helper, directory: Path, sizes: list[int]) -> _Hashed | None:
    """Hash entries from the back while the helper hashes from the front; None if it failed.

    This process numbers its entries back from the last recorded chain hash, and keeps its
    result only when the helper's line count confirms that numbering. Whenever the export is
    malformed or the helper fails in any way (it could not start, crashed, was killed,
    answered short or late), the caller hashes everything itself, so the answer is always the
    one it would give alone.
    """
    try:
        return _share_with(helper, directory, sizes)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def _share_with(helper: _Helper, directory: Path, sizes: list[int]) -> _Hashed | None:
    deadline = time.monotonic() + WAIT_SECONDS + helper.size / 1e6
    chain = (directory / CHAIN).read_bytes()
    if len(chain) % 32 or helper.process.stdin is None:
        return None
    recorded = len(chain) // 32
    # In a thread: a list longer than the pipe holds must not stall this process on a helper
    # that never reads it.
    sending = threading.Thread(
        target=_send,
        args=(helper.process.stdin, " ".join(map(str, sizes)).encode() + b"\n"),
        daemon=True,
    )
    sending.start()
    bounds = sorted({s for s in sizes if 0 < s < recorded}, reverse=True)
    tail: list[bytes] = []  # our leaf hashes, the last entry's first
    blocks: list[tuple[list[tuple[int, int]], list[bytes]]] = []  # subtrees, top block first
    top = recorded  # the subtrees of entries top.. are hashed, a signed size at a time
    broken = None
    with (directory / ENTRIES).open("rb") as file:
        while True:
            claim = helper.take(deadline)
            if claim is None:
                return None
            lo, hi = claim
            start = lo  # the rest, when no more than a chunk is left (or it is one long line)
            if hi - lo > verify_share.CHUNK:
                start = verify_share.line_end(file, hi - verify_share.CHUNK)
                start = lo if start >= hi else start
            helper.baton.give(lo, start)
            if lo >= hi:
                break
            chunk = verify_share.read_leaf_hashes(file, start, hi)
            if chunk is None:
                return None
            first = recorded - len(tail) - len(chunk)  # ours end with the last recorded hash
            if first < 0:
                return None
            previous = chain[32 * first - 32 : 32 * first] if first else bytes.fromhex(GENESIS)
            found = verify_share.first_break(
                chunk, previous, chain[32 * first : 32 * first + 32 * len(chunk)]
            )
            if found is not None:
                broken = first + found  # chunks come from the back: each find is earlier
            tail += reversed(chunk)
            while broken is None and bounds and bounds[0] >= first:
                blocks.append(_subtrees(tail, recorded, bounds[0], top))
                top = bounds.pop(0)
    start = recorded - len(tail)
    if broken is None:
        blocks.append(_subtrees(tail, recorded, start, top))
    covered = [span for block in reversed(blocks) for span in block[0]]
    roots = [root for block in reversed(blocks) for root in block[1]]
    if lo == 0:  # the helper took nothing: every entry was hashed here
        return None if start else _Hashed(recorded, recorded, broken, covered, roots)

    sending.join(max(0.0, deadline - time.monotonic()))
    if sending.is_alive():
        return None
    answer, _ = helper.process.communicate(timeout=max(0.0, deadline - time.monotonic()))
    header, _, theirs = answer.partition(b"\n")
    count, their_broken = map(int, header.split())
    if helper.process.returncode != 0:
        return None
    n = count + len(tail)
    if 0 <= their_broken < count and not theirs:
        return _Hashed(n, recorded, their_broken, [], [])
    their_covered = verify_share.spans(0, [s for s in sizes if s < count] + [count])
    if their_broken != -1 or count != start or len(theirs) != 32 * len(their_covered):
        return None
    if broken is not None:
        return _Hashed(n, recorded, broken, [], [])
    their_roots = [theirs[i : i + 32] for i in range(0, len(theirs), 32)]
    return _Hashed(n, recorded, None, their_covered + covered, their_roots + roots)


def _subtrees(
    tail: list[bytes], recorded: int, lo: int, hi: int
) -> tuple[list[tuple[int, int]], list[bytes]]:
    """The subtrees covering entries lo..hi and their roots, from leaf hashes kept last first."""
    covered = verify_share.spans(lo, [hi])
    leaves = tail[recorded - hi : recorded - lo][::-1]
    return covered, verify_share.subtree_roots(leaves, lo, covered)


def _send(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.flush()
    except (OSError, ValueError):  # the helper is gone, or was stopped: it is not used
        pass


WAIT_SECONDS = 30.0
"""How long to wait for the helper, plus a second a megabyte, before hashing without it."""


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

    Hashes whole aligned subtrees level by level and keeps only the frontier, so the cost is
    about one node hash per leaf however many checkpoints there are.
    """
    covered = verify_share.spans(0, list(sizes))
    return _fold(covered, verify_share.subtree_roots(list(leaves), 0, covered), sizes)


def _fold(covered: list[tuple[int, int]], roots: list[bytes], sizes: Sequence[int]) -> list[bytes]:
    """The root at each size from consecutive subtree roots, keeping a compact range."""
    frontier: list[tuple[int, bytes]] = []
    answers: list[bytes] = []
    subtrees = iter(zip(covered, roots, strict=True))
    pos = 0
    for size in sizes:
        while pos < size:
            (first, level), value = next(subtrees)
            if first != pos:
                raise ValueError(f"a subtree starts at {first}, expected {pos}")
            pos += 1 << level
            while frontier and frontier[-1][0] == level:
                value = merkle.node_hash(frontier.pop()[1], value)
                level += 1
            frontier.append((level, value))
        answers.append(_root(frontier))
    return answers


def _root(frontier: list[tuple[int, bytes]]) -> bytes:
    if not frontier:
        return merkle.EMPTY_ROOT
    value = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        value = merkle.node_hash(left, value)
    return value
