"""Shares of an export hashed apart give the same roots and the same first broken link."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import select
import threading
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.disclosure import verify_share
from hub.disclosure.export import _fold, roots_at
from hub.disclosure.merkle import leaf_hash, root

PROPERTY = settings(database=None, deadline=None, max_examples=150)


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(b"entry %d" % i) for i in range(n)]


@st.composite
def _sizes_and_split(draw: st.DrawFn) -> tuple[int, list[int], int]:
    n = draw(st.integers(2, 300))
    sizes = sorted(set(draw(st.lists(st.integers(0, n - 1), max_size=6))) | {n})
    return n, sizes, draw(st.integers(1, n - 1))


@PROPERTY
@given(_sizes_and_split())
def test_shares_split_anywhere_fold_to_the_roots_of_every_prefix(
    case: tuple[int, list[int], int],
) -> None:
    n, sizes, split = case
    leaves = _leaves(n)
    first = verify_share.spans(0, [s for s in sizes if s < split] + [split])
    rest = verify_share.spans(split, [s for s in sizes if split < s < n] + [n])
    roots = verify_share.subtree_roots(leaves[:split], 0, first)
    roots += verify_share.subtree_roots(leaves[split:], split, rest)

    expected = [root(leaves[:size]) for size in sizes]
    assert _fold(first + rest, roots, sizes) == expected
    assert roots_at(leaves, sizes) == expected


def test_subtrees_out_of_order_are_refused() -> None:
    leaves = _leaves(8)
    covered = verify_share.spans(0, [3, 8])
    roots = verify_share.subtree_roots(leaves, 0, covered)

    with pytest.raises(ValueError, match="starts at"):
        _fold(covered[1:] + covered[:1], roots[1:] + roots[:1], [3, 8])


def _chain(leaves: list[bytes]) -> bytes:
    out, previous = b"", bytes(32)
    for leaf in leaves:
        previous = hashlib.sha256(previous + leaf).digest()
        out += previous
    return out


@PROPERTY
@given(st.integers(1, 60), st.data())
def test_the_first_broken_link_is_found_from_any_starting_point(
    n: int, data: st.DataObject
) -> None:
    leaves = _leaves(n)
    recorded = bytearray(_chain(leaves))
    broken = data.draw(st.none() | st.integers(0, n - 1))
    if broken is not None:
        recorded[broken * 32 + data.draw(st.integers(0, 31))] ^= 1
    start = data.draw(st.integers(0, n - 1))
    previous = bytes(recorded[start * 32 - 32 : start * 32]) if start else bytes(32)

    found = verify_share.first_break(leaves[start:], previous, bytes(recorded[start * 32 :]))

    if broken is None:
        assert found is None
    elif broken >= start:
        assert found is not None and start + found == broken
    else:  # a link before the share: within it only the next link can show it
        assert found is None or start + found == broken + 1


@PROPERTY
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30))
def test_leaf_hashes_read_from_a_file_match_hashing_each_line(lines: list[bytes]) -> None:
    data = b"".join(line + b"\n" for line in lines)
    read = verify_share.read_leaf_hashes(io.BytesIO(data), 0, len(data)) if data else []

    assert read == verify_share.leaf_hashes(lines) == [leaf_hash(line) for line in lines]


def test_a_chunk_must_end_with_a_whole_line_and_be_all_there() -> None:
    data = b"one\ntwo\nthre"

    assert verify_share.read_leaf_hashes(io.BytesIO(data), 0, 8) == [
        leaf_hash(b"one"),
        leaf_hash(b"two"),
    ]
    assert verify_share.read_leaf_hashes(io.BytesIO(data), 4, 8) == [leaf_hash(b"two")]
    assert verify_share.read_leaf_hashes(io.BytesIO(data), 0, len(data)) is None
    assert verify_share.read_leaf_hashes(io.BytesIO(data), 0, 40) is None  # shorter than said


@PROPERTY
@given(_sizes_and_split())
def test_subtrees_between_sizes_hashed_apart_are_the_subtrees_of_the_whole(
    case: tuple[int, list[int], int],
) -> None:
    """Each side hashes the subtrees between signed sizes as soon as it holds their leaves."""
    _, sizes, split = case
    bounds = [0] + [s for s in sizes if 0 < s < split] + [split]
    pieces = [verify_share.spans(lo, [hi]) for lo, hi in itertools.pairwise(bounds)]

    assert [span for piece in pieces for span in piece] == verify_share.spans(
        0, [s for s in sizes if s < split] + [split]
    )


def test_the_baton_goes_round_and_waits() -> None:
    baton = verify_share.Baton.new()
    watched_read, watched_write = os.pipe()
    try:
        assert baton.take(timeout=0.01) is None  # nobody has put it down yet
        baton.give(12, 2**40)
        assert baton.take(timeout=1) == (12, 2**40)
        os.write(watched_write, b"x")
        assert baton.take(timeout=1, watch=watched_read) is None  # the other side ended
        baton.give(5, 5)
        assert baton.take(timeout=1, watch=watched_read) == (5, 5)  # the baton comes first
    finally:
        for fd in (baton.read_fd, baton.write_fd, watched_read, watched_write):
            os.close(fd)


def test_a_baton_the_other_process_took_first_is_waited_for_not_read_for_ever() -> None:
    """select can see the baton that the other process then reads: were this side's read a
    blocking one, and the other to die holding the baton, it would wait for ever."""
    baton = verify_share.Baton.new()
    real = select.select
    calls = 0

    def taken_by_the_other(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return ([baton.read_fd], [], []) if calls == 1 else real(*args)

    answers: list[tuple[int, int] | None] = []
    try:
        with mock.patch.object(verify_share.select, "select", taken_by_the_other):
            waiting = threading.Thread(target=lambda: answers.append(baton.take(timeout=0.2)))
            waiting.start()
            waiting.join(timeout=10)
            assert not waiting.is_alive(), "the take blocked on an empty pipe"
            assert answers == [None] and calls > 1  # it went back to select, then timed out

            calls = 0
            baton.give(3, 9)  # the other process puts it back down: now it is this side's
            assert baton.take(timeout=1) == (3, 9)
    finally:
        os.close(baton.read_fd)
        os.close(baton.write_fd)


@pytest.mark.parametrize(("at", "end"), [(0, 4), (3, 4), (4, 8), (7, 8), (8, 12), (11, 12)])
def test_a_share_ends_at_the_end_of_the_line_it_reaches(at: int, end: int) -> None:
    assert verify_share.line_end(io.BytesIO(b"one\ntwo\nthre"), at) == end
