"""Hash one share of an exported log: leaf hashes, chain links and whole Merkle subtrees.

An export check (hub.disclosure.export) uses these functions in-process, and on a large
export also runs this file on its own as a second process over the first share of the
entries, so that both cores hash:

    python -I -S verify_share.py ENTRIES CHAIN TARGET GENESIS_HEX   (signed sizes on stdin)

Its share is every line up to the first that starts at or after byte TARGET. It answers on
stdout with one line "<lines> <first broken link or -1>" and then the roots of the subtrees
``spans(0, sizes below <lines>, then <lines>)`` as raw 32-byte values. It imports only the
standard library's hashlib, io and sys, so it starts in milliseconds rather than paying for
the hub's imports, and it needs nothing from the parent but file paths and numbers.
"""

from __future__ import annotations

import hashlib
import io
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing would slow the start
if TYPE_CHECKING:
    from typing import BinaryIO

HASH_SIZE = 32
CHUNK = 1 << 18
"""Bytes read at a time: small enough that each read reuses memory (a fresh process pays a
page fault for every new page it touches) and stays in cache while it is hashed."""

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
    """Leaf hashes of the lines in bytes start..stop of a file, read a chunk at a time.

    None unless the bytes end with a newline, as every entry does (a file that changed while
    it was read shows this way too). Lines are cut by io.BytesIO, which finds each newline
    with memchr; bytes.split looks at every byte in turn and costs a third of the hashing.
    """
    fresh = _LEAF_STATE.copy
    leaves: list[bytes] = []
    keep = leaves.append
    file.seek(start)
    pos = start
    while pos < stop:
        block = file.read(min(CHUNK, stop - pos))
        if pos + len(block) < stop and not block.endswith(b"\n"):
            block += file.readline()
        if not block.endswith(b"\n"):
            return None
        pos += len(block)
        for line in io.BytesIO(block):
            state = fresh()
            state.update(line[:-1])
            keep(state.digest())
    return leaves if pos == stop else None


def line_end(file: BinaryIO, at: int) -> int:
    """Where the line holding byte ``at`` ends: just after its newline, or at the end."""
    file.seek(at)
    file.readline()
    return file.tell()


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
    entries, chain, target, genesis = argv[1], argv[2], int(argv[3]), bytes.fromhex(argv[4])
    # Read at once, so that a long list never blocks the parent's write; it is sent as soon
    # as the signed heads are verified, well before this interpreter has started.
    sizes = [int(size) for size in sys.stdin.buffer.readline().split()]
    if target < 1:
        return 2
    with open(entries, "rb") as file:
        leaves = read_leaf_hashes(file, 0, line_end(file, target - 1))
    if leaves is None:
        return 3
    count = len(leaves)
    with open(chain, "rb") as file:
        recorded = file.read(HASH_SIZE * count)
    broken = first_break(leaves, genesis, recorded)
    roots = b""
    if broken is None:
        covered = spans(0, [size for size in sizes if size < count] + [count])
        roots = b"".join(subtree_roots(leaves, 0, covered))
    out = sys.stdout.buffer
    out.write(f"{count} {-1 if broken is None else broken}\n".encode() + roots)
    out.flush()
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    try:  # skip the teardown (freeing every leaf hash) that the parent would wait for
        from posix import _exit  # loaded at start-up; importing os would cost 1.5 ms
    except ImportError:
        sys.exit(code)
    _exit(code)
