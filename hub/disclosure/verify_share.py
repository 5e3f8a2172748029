"""Hash the entries of an exported log: leaf hashes, chain links and whole Merkle subtrees.

An export check (hub.disclosure.export) uses these functions in-process, and on a large
export also runs this file on its own as a second process, so that both cores hash:

    python -I -S verify_share.py ENTRIES CHAIN GENESIS_HEX CHUNK BATON_READ_FD BATON_WRITE_FD

The parent first sends the signed sizes (one line on stdin). The two then share the entries
through a Baton: this helper claims chunks from the front, the parent from the back, until
they meet; each hashes the Merkle subtrees between signed sizes as soon as it holds their
leaves. The helper answers on stdout with one line "<lines> <first broken link or -1>" and
the roots of the subtrees ``spans(0, sizes below <lines>, then <lines>)``, 32 bytes each. It
imports only the standard library's hashlib, io, select, sys and time (and posix, loaded at
start-up), so it starts in milliseconds rather than paying for the hub's imports.
"""

from __future__ import annotations

import hashlib
import io
import select
import sys
from time import monotonic

try:  # posix is loaded at start-up, where importing os would cost the helper a millisecond
    from posix import read, write
except ImportError:  # pragma: no cover - not a POSIX system
    from os import read, write

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing would slow the start
if TYPE_CHECKING:
    from typing import BinaryIO

HASH_SIZE = 32
WORD = 8
CHUNK = 1 << 17
"""Bytes claimed at a time (then up to the end of a line): small enough that the two processes
meet within a few hundred entries of each other and that a chunk stays in cache while it is
hashed, large enough that passing the baton costs little."""

_LEAF = b"\x00"
_NODE = b"\x01"
_LEAF_STATE = hashlib.sha256(_LEAF)


def leaf_hashes(lines: list[bytes]) -> list[bytes]:
    """SHA-256(0x00 || line) of each line; copying a primed state skips copying the line."""
    fresh = _LEAF_STATE.copy
    leaves: list[bytes] = []
    keep = leaves.append
    for line in lines:
        state = fresh()
        state.update(line)
        keep(state.digest())
    return leaves


def read_leaf_hashes(file: BinaryIO, start: int, stop: int) -> list[bytes] | None:
    """Leaf hashes of the lines in bytes start..stop of a file (a chunk claimed at a time).

    None unless the bytes are there and end with a newline, as every entry does (a file that
    changed while it was read shows this way too). They are read in one go: reading a chunk
    and then the rest of its last line makes a fresh process fault in new pages every time.
    Lines are cut by io.BytesIO, which finds each newline with memchr; bytes.split looks at
    every byte in turn and costs a third as much as the hashing.
    """
    file.seek(start)
    block = file.read(stop - start)
    if len(block) != stop - start or not block.endswith(b"\n"):
        return None
    fresh = _LEAF_STATE.copy
    leaves: list[bytes] = []
    keep = leaves.append
    for line in io.BytesIO(block):
        state = fresh()
        state.update(line[:-1])
        keep(state.digest())
    return leaves


def line_end(file: BinaryIO, at: int) -> int:
    """Where the line holding byte ``at`` ends: just after its newline, or at the end."""
    file.seek(at)
    file.readline()
    return file.tell()


class Baton:
    """The bytes of the entries nobody has claimed yet, lo..hi, passed between two processes.

    It travels in one pipe that both hold: whoever reads it owns it, claims a chunk of whole
    lines at its own end (the helper from the front, the parent from the back) and writes it
    back at once. So the two meet wherever their speeds bring them: a helper slow to start,
    or a core running slower than the other, only shifts the meeting point.
    """

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd

    @classmethod
    def new(cls) -> Baton:
        """A pipe for the baton, its read end non-blocking (see take); made by the parent."""
        import os  # not at the top: the helper never needs it

        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        return cls(read_fd, write_fd)

    def take(
        self, timeout: float | None = None, watch: int | None = None
    ) -> tuple[int, int] | None:
        """Wait for the baton; None on timeout, or if ``watch`` is readable first (ended).

        Both processes read the one pipe, so the baton select saw may be gone by the read:
        the other took it first. The read end is non-blocking (see new), so that is one more
        wait; a blocking read would wait for ever were the other to die holding the baton.
        """
        fds = [self.read_fd] if watch is None else [self.read_fd, watch]
        end = None if timeout is None else monotonic() + timeout
        while True:
            left = None if end is None else max(0.0, end - monotonic())
            ready, _, _ = select.select(fds, [], [], left)
            if self.read_fd not in ready:
                return None
            try:
                data = read(self.read_fd, 2 * WORD)
            except BlockingIOError:
                continue
            if len(data) != 2 * WORD:
                raise ValueError("the baton came back cut short")
            return int.from_bytes(data[:WORD], "little"), int.from_bytes(data[WORD:], "little")

    def give(self, lo: int, hi: int) -> None:
        write(self.write_fd, lo.to_bytes(WORD, "little") + hi.to_bytes(WORD, "little"))


def first_break(leaves: list[bytes], previous: bytes, recorded: bytes) -> int | None:
    """Which of the leaves first breaks the recorded chain, if any.

    ``previous`` is the recorded chain hash just before the leaves and ``recorded`` the ones
    recorded for them. While the links before an entry hold, the chain recomputed from
    ``previous`` equals the one recomputed from the start of the log, so the first mismatch
    here is the first broken link among these leaves and a share can be checked on its own.
    The whole recomputed chain is compared in one go; only a mismatch is searched entry by
    entry.
    """
    sha256 = hashlib.sha256
    chained: list[bytes] = []
    keep = chained.append
    for leaf in leaves:
        previous = sha256(previous + leaf).digest()
        keep(previous)
    if b"".join(chained) == recorded[: HASH_SIZE * len(chained)]:
        return None
    for i, value in enumerate(chained):
        if value != recorded[i * HASH_SIZE : i * HASH_SIZE + HASH_SIZE]:
            return i
    return None


def spans(start: int, sizes: list[int]) -> list[tuple[int, int]]:
    """The aligned subtrees, as (first leaf, height), covering start..size for each size.

    For ascending sizes these are the RFC 6962 subtrees a compact range folds, one after the
    other; any extra boundary (where a share ends) only splits them further, so shares
    hashed apart still fold to the same roots.
    """
    covered: list[tuple[int, int]] = []
    pos = start
    for size in sizes:
        while pos < size:
            level = (pos & -pos).bit_length() - 1 if pos else (size - pos).bit_length() - 1
            while (1 << level) > size - pos:
                level -= 1
            covered.append((pos, level))
            pos += 1 << level
    return covered


def subtree_roots(leaves: list[bytes], start: int, covered: list[tuple[int, int]]) -> list[bytes]:
    """Merkle roots of the given subtrees, from the leaf hashes of entries start onwards."""
    sha256 = hashlib.sha256
    roots = []
    for pos, height in covered:
        level = leaves[pos - start : pos - start + (1 << height)]
        for _ in range(height):
            pairs = iter(level)
            level = [sha256(_NODE + a + b).digest() for a, b in zip(pairs, pairs, strict=True)]
        roots.append(level[0])
    return roots


def main(argv: list[str]) -> int:
    entries, chain, genesis, chunk_size = argv[1], argv[2], bytes.fromhex(argv[3]), int(argv[4])
    baton = Baton(int(argv[5]), int(argv[6]))
    # The parent sends the signed sizes once it has verified them, before either side hashes.
    bounds = [int(size) for size in sys.stdin.buffer.readline().split()]
    leaves: list[bytes] = []
    roots: list[bytes] = []
    done = 0  # the subtrees of entries 0..done are hashed, a signed size at a time
    broken: int | None = None
    previous = genesis
    with open(entries, "rb") as file, open(chain, "rb") as recorded:
        while True:
            claim = baton.take(watch=sys.stdin.fileno())  # stdin ends if the parent is gone
            if claim is None:
                return 4
            lo, hi = claim
            end = hi if hi - lo <= chunk_size else min(hi, line_end(file, lo + chunk_size - 1))
            baton.give(end, hi)
            if lo >= hi:
                break
            chunk = read_leaf_hashes(file, lo, end)
            if chunk is None:
                return 3
            if broken is None:
                theirs = recorded.read(HASH_SIZE * len(chunk))
                found = first_break(chunk, previous, theirs)
                if found is None:
                    previous = theirs[-HASH_SIZE:]
                else:
                    broken = len(leaves) + found
            leaves += chunk
            while broken is None and bounds and bounds[0] <= len(leaves):
                roots += subtree_roots(leaves, 0, spans(done, [bounds[0]]))
                done = max(done, bounds.pop(0))
    count = len(leaves)
    if broken is None:
        roots += subtree_roots(leaves, 0, spans(done, [count]))
    answer = f"{count} {-1 if broken is None else broken}\n".encode()
    out = sys.stdout.buffer
    out.write(answer + b"".join(roots) if broken is None else answer)
    out.flush()
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    try:  # skip the teardown (freeing every leaf hash) that the parent would wait for
        from posix import _exit
    except ImportError:  # pragma: no cover - not a POSIX system
        sys.exit(code)
    _exit(code)
